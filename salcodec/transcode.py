"""``salcodec.encode``: decode -> saliency -> QP offsets -> libx264 -> mux, safely."""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import av

from .decode import expected_frames, ffmpeg_cause, open_input, video_stream
from .encoder import SaliencyEncoder
from .errors import InputError, SalcodecError
from .progress import Progress
from .safeio import CONTAINERS, atomic_output, check_output_path
from .settings import EncodeSettings
from .x264 import add_h264_stream


@dataclass
class EncodeResult:
    """Summary of one encode (the ``--json`` output)."""

    input: str
    output: str
    frames_in: int
    frames_out: int
    bytes: int
    seconds: float
    mean_abs_qp_offset: float
    width: int
    height: int
    copied_streams: int
    settings: dict = field(default_factory=dict)
    offsets: dict = field(default_factory=dict)
    budget: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def encode(input: str | os.PathLike, output: str | os.PathLike,
           settings: EncodeSettings | None = None, *, overwrite: bool = False,
           progress: bool | None = None, budget: str = "crf", **changes) -> EncodeResult:
    """Transcode ``input`` to H.264 in ``output`` with saliency-guided QP offsets.

    Audio, subtitle and other streams are copied untouched; video timestamps
    are kept. The output is written to a temporary file and renamed only when
    complete and its video frame count equals the input's.

    Parameters
    ----------
    input, output : path
        Any video PyAV can read; ``.mp4``, ``.mov``, ``.m4v`` or ``.mkv`` output.
    settings : EncodeSettings, optional
        Encoder and mapping settings; defaults to ``EncodeSettings()``.
    overwrite : bool
        Replace an existing output file.
    progress : bool or None
        Progress on stderr; None = only when stderr is a terminal.
    budget : {"crf", "match"}
        ``"crf"`` applies the offsets as mapped. ``"match"`` first calibrates a
        QP bias on a sample of the video so the output's size matches plain
        libx264 at the same settings (see :mod:`salcodec.budget`): same size,
        bits moved to where people look.
    **changes
        Any :class:`~salcodec.settings.EncodeSettings` field, overriding
        ``settings`` (e.g. ``crf=28, strength=6, saliency=False``).

    Returns
    -------
    EncodeResult
    """
    settings = (settings or EncodeSettings()).with_(**changes)
    if budget not in ("crf", "match"):
        raise SalcodecError(f"unknown budget {budget!r}; use 'crf' or 'match'")
    started = time.monotonic()
    src = open_input(input)
    try:
        out_path = check_output_path(output, [Path(input)], overwrite)
        vin = video_stream(src, input)
        calibration = None
        if budget == "match" and settings.saliency:
            from .budget import calibrate_bias

            calibration = calibrate_bias(input, settings)
            settings = settings.with_(bias=calibration.bias)
        with atomic_output(out_path) as tmp:
            try:
                frames_in, stats, copied, size = _transcode(
                    src, vin, input, tmp, CONTAINERS[out_path.suffix.lower()], settings, progress
                )
            except (av.error.FFmpegError, OSError) as exc:
                if getattr(exc, "filename", None) != str(tmp):
                    raise
                # The muxer failed (disk full, I/O error), not the input.
                raise SalcodecError(f"{out_path}: cannot write ({ffmpeg_cause(exc)})") from None
            frames_out = count_video_packets(tmp)
            if frames_out != frames_in:
                raise SalcodecError(
                    f"{out_path}: output has {frames_out} video frames but input has "
                    f"{frames_in}; output discarded"
                )
            nbytes = tmp.stat().st_size
    finally:
        src.close()
    offsets = stats.as_dict() if settings.saliency else {}
    return EncodeResult(
        input=str(input), output=str(out_path), frames_in=frames_in, frames_out=frames_out,
        bytes=nbytes, seconds=round(time.monotonic() - started, 3),
        mean_abs_qp_offset=offsets.get("mean_abs_qp_offset", 0.0), width=size[0],
        height=size[1], copied_streams=copied, settings=settings.as_dict(), offsets=offsets,
        budget={"mode": budget, **(calibration.as_dict() if calibration else {})},
    )


def _transcode(src, vin, input, tmp: Path, fmt: str, settings: EncodeSettings, progress):
    dst = av.open(str(tmp), mode="w", format=fmt)
    stage = None
    try:
        cc = vin.codec_context
        vin.thread_type = "AUTO"
        vout = add_h264_stream(dst, cc.width, cc.height, vin.average_rate or vin.guessed_rate,
                               vin.time_base, crf=settings.crf, preset=settings.preset,
                               x264_params=settings.x264_params, roi_enabled=settings.saliency)
        copies = {}
        for s in src.streams:
            if s is vin or s.type not in ("audio", "subtitle", "data", "attachment"):
                continue
            try:
                copies[s.index] = dst.add_stream_from_template(s)
            except (ValueError, av.error.FFmpegError) as exc:
                raise SalcodecError(
                    f"{tmp.name}: cannot copy {s.type} stream #{s.index} "
                    f"({s.codec_context.name if s.codec_context else 'unknown'}) into {fmt}: "
                    f"{exc}; try an .mkv output"
                ) from None
        stage = SaliencyEncoder(vout, **settings.stage_options())
        bar = Progress(expected_frames(vin), progress)
        frames_in = 0
        last_pts = None
        rate = vin.average_rate or vin.guessed_rate or 25
        step = max(1, round(1 / (rate * vin.time_base)))  # one frame, in time-base units
        demux = src.demux([vin, *(src.streams[i] for i in copies)])
        try:
            for packet in demux:
                if packet.stream is vin:
                    for frame in packet.decode():
                        last_pts = _check_pts(frame, last_pts, step, input, frames_in)
                        frames_in += 1
                        dst.mux(stage.encode(frame))
                        bar.update(frames_in)
                elif packet.dts is not None:
                    packet.stream = copies[packet.stream.index]
                    dst.mux(packet)
        except av.error.FFmpegError as exc:
            if getattr(exc, "filename", None) == str(tmp):
                raise  # an output error: reported by encode()
            raise InputError(f"{input}: corrupt or truncated input ({ffmpeg_cause(exc)})") from None
        finally:
            bar.close()
        if frames_in == 0:
            raise InputError(f"{input}: no decodable video frames")
        if vin.frames and frames_in < vin.frames:
            raise InputError(f"{input}: truncated or corrupt: decoded {frames_in} of the "
                             f"{vin.frames} video frames its index lists")
        dst.mux(stage.flush())
        return frames_in, stage.stats, len(copies), (vout.width, vout.height)
    finally:
        if stage is not None:
            stage.close()
        dst.close()


def _check_pts(frame, last: int | None, step: int, input, index: int) -> int:
    """Keep input timestamps; fill a missing one, refuse ones that go backwards."""
    if frame.pts is None:
        frame.pts = 0 if last is None else last + step
    elif last is not None and frame.pts <= last:
        raise InputError(
            f"{input}: video timestamps do not increase at frame {index} "
            f"(pts {frame.pts} after {last}); the file's timing is broken"
        )
    return frame.pts


def count_video_packets(path: str | os.PathLike) -> int:
    """Video frames in a file, counted by demuxing (no decode)."""
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        return sum(1 for p in c.demux(stream) if p.size > 0)


__all__ = ["EncodeResult", "count_video_packets", "encode"]
