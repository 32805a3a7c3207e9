"""Short samples of a video, for calibration and CRF search without encoding it all.

A sample is a few evenly spaced windows of consecutive frames, written once to
a lossless H.264 file (x264 ``qp=0``), so every trial encode starts from the
same frames and quality can be measured against the sample itself.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from tempfile import TemporaryDirectory

import av
import numpy as np

from .errors import InputError
from .io.conform import conform_frame, even_size, frame_planes
from .io.decode import expected_frames, ffmpeg_cause, open_input, video_stream
from .settings import EncodeSettings
from .sizeproxy import ProxyEncoder, SizeProxy


@dataclass(frozen=True)
class Sample:
    """Where the sample came from: ``windows`` as (first frame, frame count)."""

    path: Path
    source: str
    windows: tuple[tuple[int, int], ...]
    frames: int
    source_frames: int
    proxy: SizeProxy | None = None

    @property
    def fraction(self) -> float:
        """Share of the source's frames in the sample (1.0 = the whole video)."""
        return self.frames / max(self.source_frames, 1)


def plan_windows(total: int, count: int, length: int) -> list[tuple[int, int]]:
    """``count`` evenly spaced windows of ``length`` frames within ``total`` frames.

    When the windows would cover most of the video, the whole video is one window.
    """
    if total <= 0:
        raise ValueError("video has no frames")
    if count * length >= 0.8 * total:
        return [(0, total)]
    span = total / count
    return [(int(span * i + (span - length) / 2), length) for i in range(count)]


def make_sample(input: str | os.PathLike, dest: str | os.PathLike, count: int = 4,
                seconds: float = 1.5, proxy: EncodeSettings | None = None,
                proxy_metric: str | None = None) -> Sample:
    """Write a lossless sample of ``input`` to ``dest`` (an .mkv path).

    Parameters
    ----------
    input : path
        Source video.
    dest : path
        Where to write the sample (Matroska, lossless H.264, constant 1/rate steps).
    count : int
        Number of windows.
    seconds : float
        Length of each window.
    proxy : EncodeSettings, optional
        The plain encoder's settings: then the whole video is decoded and
        its tiled proxy encoded, as a whole and as the windows, beside the
        sample (:mod:`salcodec.sizeproxy`; ``Sample.proxy``).
    proxy_metric : str, optional
        With ``proxy``: also score this metric on the sample frames' proxy
        pictures in both proxy encodes (:mod:`salcodec.proxyquality`;
        ``Sample.proxy.quality``). The window frames' pictures are held until
        then: a quarter of the sample's pixels.
    """
    with open_input(input) as src:
        vin = video_stream(src, input)
        vin.thread_type = "AUTO"  # the whole video is decoded: frame threads, as encode's
        rate = vin.average_rate or vin.guessed_rate or Fraction(25)
        total = expected_frames(vin) or count_frames(input)
        windows = plan_windows(total, count, max(2, round(seconds * rate)))
        wanted = {i for start, n in windows for i in range(start, start + n)}
        width, height = even_size(vin.codec_context.width, vin.codec_context.height)
        last = max(wanted)
        with ExitStack() as stack:
            encoders = []
            if proxy is not None and windows != [(0, total)]:  # a whole-video sample is exact
                tmp = Path(stack.enter_context(TemporaryDirectory(prefix="salcodec-proxy-")))
                for name in ("full", "windows"):
                    encoders.append(stack.enter_context(
                        ProxyEncoder(tmp / f"{name}.mkv", proxy, width, height, rate)))
            if encoders and proxy_metric:
                from .proxyquality import scorable, window_quality  # the metrics: only here

                keep = scorable(proxy_metric, proxy.pix_fmt)
            else:
                keep = False
            pictures: list[tuple] = []

            def picked():
                for index, frame in enumerate(src.decode(vin)):
                    if encoders:
                        picture = encoders[0].picture(frame)
                        encoders[0].add(picture)
                    if index in wanted:
                        if encoders:
                            encoders[1].add(picture)
                        if keep:
                            pictures.append(tuple(np.array(p) for p in frame_planes(picture)))
                        yield conform_frame(frame, width, height)
                    elif index > last and not encoders:
                        return

            try:
                written = write_lossless(dest, picked(), width, height, rate)
            except av.error.FFmpegError as exc:
                raise InputError(f"{input}: corrupt video ({ffmpeg_cause(exc)})") from None
            sizes = None
            if encoders:
                full, parts = encoders[0].finish(), encoders[1].finish()
                quality = (window_quality(pictures, sorted(wanted), encoders[0].path,
                                          encoders[1].path, proxy_metric)
                           if keep else None)
                sizes = SizeProxy(full, parts, encoders[0].size, quality, proxy.crf)
    return Sample(Path(dest), str(input), tuple(windows), written, total, sizes)


def write_lossless(dest: str | os.PathLike, frames: Iterable[av.VideoFrame], width: int,
                   height: int, rate: Fraction) -> int:
    """Write yuv420p ``width`` x ``height`` frames as lossless H.264 (x264 ``qp=0``) in Matroska.

    Timestamps are renumbered 0, 1, 2, ... in steps of ``1/rate``. Returns the
    number of frames written.
    """
    written = 0
    with av.open(str(dest), "w", format="matroska") as out:
        s = out.add_stream("libx264", rate=rate)
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        s.options = {"qp": "0", "preset": "ultrafast"}
        for frame in frames:
            frame.pts, frame.time_base = written, Fraction(1) / rate
            out.mux(s.encode(frame))
            written += 1
        out.mux(s.encode(None))
    return written


def count_frames(path) -> int:
    """Video packets of ``path``, for containers that do not state a frame count (Matroska)."""
    with open_input(path) as c:
        return sum(1 for p in c.demux(video=0) if p.size)
