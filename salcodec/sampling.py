"""Short samples of a video, for calibration and CRF search without encoding it all.

A sample is a few evenly spaced windows of consecutive frames, written once to
a lossless H.264 file (x264 ``qp=0``), so every trial encode starts from the
same frames and quality can be measured against the sample itself.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass, replace
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

    @property
    def indices(self) -> list[int]:
        """Each sample frame's index in the source video, in sample order."""
        return window_frames(self.windows)


def window_frames(windows) -> list[int]:
    """The source frame indices that ``(first frame, frame count)`` windows cover, in order."""
    return [start + k for start, n in windows for k in range(n)]


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
                seconds: float = 1.5) -> Sample:
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

    The video is decoded up to the last window; :func:`with_proxy` adds the
    size proxy.
    """
    with open_input(input) as src:
        vin = video_stream(src, input)
        vin.thread_type = "AUTO"  # most of the video is decoded: frame threads, as encode's
        rate = vin.average_rate or vin.guessed_rate or Fraction(25)
        total = expected_frames(vin) or count_frames(input)
        windows = plan_windows(total, count, max(2, round(seconds * rate)))
        wanted = set(window_frames(windows))
        width, height = even_size(vin.codec_context.width, vin.codec_context.height)
        last = max(wanted)

        def picked():
            for index, frame in enumerate(src.decode(vin)):
                if index in wanted:
                    yield conform_frame(frame, width, height)
                elif index > last:
                    return

        try:
            written = write_lossless(dest, picked(), width, height, rate)
        except av.error.FFmpegError as exc:
            raise InputError(f"{input}: corrupt video ({ffmpeg_cause(exc)})") from None
    return Sample(Path(dest), str(input), tuple(windows), written, total)


def with_proxy(sample: Sample, settings: EncodeSettings, metric: str | None = None) -> Sample:
    """``sample`` with its size proxy: the whole video decoded and its tiles encoded twice.

    Parameters
    ----------
    sample : Sample
        From :func:`make_sample`; a sample that is the whole video needs no
        proxy and is returned as it is.
    settings : EncodeSettings
        The plain encoder's, CRF included (:mod:`salcodec.sizeproxy`).
    metric : str, optional
        Also score this metric on the sample frames' proxy pictures in both
        proxy encodes (:mod:`salcodec.proxyquality`; ``proxy.quality``). The
        window frames' pictures are held until then: a quarter of the
        sample's pixels.
    """
    if sample.windows == ((0, sample.source_frames),):
        return sample
    from .proxyquality import scorable, window_quality  # the metrics: only here

    wanted = set(sample.indices)
    keep = metric is not None and scorable(metric, settings.pix_fmt)
    pictures: list[tuple] = []
    with open_input(sample.source) as src, ExitStack() as stack:
        vin = video_stream(src, sample.source)
        vin.thread_type = "AUTO"
        rate = vin.average_rate or vin.guessed_rate or Fraction(25)
        width, height = even_size(vin.codec_context.width, vin.codec_context.height)
        tmp = Path(stack.enter_context(TemporaryDirectory(prefix="salcodec-proxy-")))
        full, parts = (stack.enter_context(ProxyEncoder(tmp / f"{name}.mkv", settings, width,
                                                        height, rate))
                       for name in ("full", "windows"))
        try:
            for index, frame in enumerate(src.decode(vin)):
                picture = full.picture(frame)
                full.add(picture)
                if index in wanted:
                    parts.add(picture)
                    if keep:
                        pictures.append(tuple(np.array(p) for p in frame_planes(picture)))
        except av.error.FFmpegError as exc:
            raise InputError(f"{sample.source}: corrupt video ({ffmpeg_cause(exc)})") from None
        sizes = full.finish(), parts.finish()
        quality = (window_quality(pictures, sample.indices, full.path, parts.path, metric)
                   if keep else None)
    return replace(sample, proxy=SizeProxy(*sizes, full.size, quality, settings.crf))


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
