"""``salcodec.encode_frames``: any iterable of PyAV frames in, a saliency-guided encode out.

For pipelines that make their own frames (a filter graph, a generator, frames
from several files): the frames are encoded by :class:`SaliencyEncoder` and
muxed, with the audio and other streams of a source file copied beside them,
into a file written atomically (temporary file, renamed on success) or into a
PyAV output container the caller owns.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path

import av

from .codecs import add_video_stream
from .encoder import SaliencyEncoder
from .errors import SalcodecError
from .io.conform import conform_frame, even_size, warn_if_padded
from .io.containers import check_codec_fits, muxer_options
from .io.copies import add_copies
from .io.decode import open_input
from .io.metadata import carry_container, carry_frame
from .io.safeio import atomic_output, resolve_output
from .plainest import unavailable
from .progress import Progress
from .settings import EncodeSettings
from .transcode import (
    EncodeResult,
    Muxing,
    _check_count,
    _check_export,
    copied_packets,
    count_video_packets,
    start_shift,
    write_error,
)

#: Frame rate assumed when neither ``rate`` nor the copy source's video gives one.
DEFAULT_RATE = Fraction(25)


def encode_frames(frames: Iterable[av.VideoFrame],
                  output: str | os.PathLike | av.container.OutputContainer,
                  settings: EncodeSettings | None = None, *, rate: Fraction | int | None = None,
                  time_base: Fraction | None = None,
                  sample_aspect_ratio: Fraction | None = None,
                  copy_from: str | os.PathLike | av.container.InputContainer | None = None,
                  streams: Iterable[av.stream.Stream] | None = None, overwrite: bool = False,
                  format: str | None = None, progress: bool | None = None,
                  export_map: str | os.PathLike | None = None, **changes) -> EncodeResult:
    """Encode ``frames`` with saliency-guided QP offsets and mux them into ``output``.

    Parameters
    ----------
    frames : iterable of av.VideoFrame
        Frames in presentation order, of any pixel format; the first one sets
        the coded size (odd sizes are padded by one pixel, later frames of
        another size are scaled to it). Decoded frames keep their ``pts`` and
        ``time_base``; frames without ``pts`` (``VideoFrame.from_ndarray``) are
        timed one frame duration after the previous one, like PyAV's encoder.
        Frames (or a copy source) starting before zero are moved, with the
        copied streams, to start at zero.
        Consumed lazily: memory stays flat in the number of frames.
    output : path, "-" or av.container.OutputContainer
        A file (``.mp4``, ``.mov``, ``.m4v``, ``.mkv``, ``.ts``, ``.nut``, or
        any name with ``format``) written to a temporary file and renamed only
        when complete; ``-`` writes stdout (with ``format``). Or a container
        you opened for writing: the video stream (and the copies) are added to
        it, nothing is muxed into it before the first frame, and it is left
        open for you to close.
    settings : EncodeSettings, optional
        As for :func:`salcodec.encode`; ``**changes`` override its fields.
        ``budget="size"`` is refused (it samples a file).
    rate : Fraction or int, optional
        Nominal frame rate for the encoder's rate control and for frames without
        timestamps. Default: the copy source's video rate, else 25.
    time_base : Fraction, optional
        The video stream's time base. Default: the first frame's, else
        ``1/rate``.
    sample_aspect_ratio : Fraction, optional
        The pixels' aspect ratio, written into the stream (PyAV frames do
        not carry it): give the source's for non-square pixels, or what your
        filter graph made of it. Default: square.
    copy_from : path or av.container.InputContainer, optional
        A file whose audio, subtitle, data and attachment streams are copied
        packet for packet (with their tags, and the file's tags and chapters),
        interleaved with the video by time. A path is opened here; a container
        you pass is demuxed here, so do not read it elsewhere meanwhile.
    streams : iterable of av.stream.Stream, optional
        Only these streams of ``copy_from`` are copied (default: all but
        video).
    overwrite : bool
        Replace an existing output file.
    format : str, optional
        Output container (``matroska``, ``mp4``, ...), for a name without
        extension or stdout.
    progress : bool or None
        Progress on stderr; None = only when stderr is a terminal.
    export_map : path, optional
        Write each frame's importance and offsets to this sidecar
        (:mod:`salcodec.mapfile`).

    Returns
    -------
    EncodeResult
        As :func:`salcodec.encode` returns (``qp`` is empty: no read-back);
        ``input`` names ``copy_from`` or is ``"<frames>"``.

    Raises
    ------
    SalcodecError
        No frames, a non-frame item, timestamps that do not increase, an
        output that exists without ``overwrite``, a stream the container
        cannot hold, a write error; a file output is then left untouched.
    """
    settings = (settings or EncodeSettings()).with_(**changes)
    if settings.budget == "size" and settings.saliency:
        raise SalcodecError("budget 'size' calibrates on samples of a file, which frames from "
                            "an iterator cannot give; use salcodec.encode, or the attended or "
                            "zero-mean budget")
    started = time.monotonic()
    if export_map is not None:
        _check_export(export_map, settings, overwrite)
    owned = isinstance(copy_from, (str, os.PathLike))
    src = open_input(copy_from) if owned else copy_from
    source = str(copy_from) if owned else (src.name if src is not None else "<frames>")
    try:
        if rate is None and src is not None and src.streams.video:
            v = src.streams.video[0]
            rate = v.average_rate or v.guessed_rate
        job = _FrameMux(iter(frames), src, streams, source, Fraction(rate or DEFAULT_RATE),
                        time_base, settings, progress, export_map)
        job.sar = sample_aspect_ratio
        if isinstance(output, av.container.OutputContainer):
            name = output.name
            fmt = output.format.name.split(",")[0]
            check_codec_fits(settings.codec, fmt, name)
            _run(job, output, fmt, name)
            frames_out, nbytes = job.video_packets, job.bytes
            if frames_out != job.frames_in:
                raise SalcodecError(f"{name}: {frames_out} video packets muxed for "
                                    f"{job.frames_in} frames")
        else:
            inputs = [os.fspath(copy_from)] if owned else []
            target = resolve_output(output, [Path(p) for p in inputs], overwrite, format)
            check_codec_fits(settings.codec, target.format, target.name)
            name = target.name
            if target.pipe:
                _write(job, target.url, target.format, name, pipe=True)
                frames_out, nbytes = job.video_packets, job.bytes
                _check_count(target, frames_out, job.frames_in)
            else:
                with atomic_output(target.path) as tmp:
                    _write(job, str(tmp), target.format, name, pipe=False)
                    frames_out = count_video_packets(tmp)
                    nbytes = tmp.stat().st_size
                    _check_count(target, frames_out, job.frames_in)  # before the rename
    except BaseException:
        if export_map is not None and os.path.isfile(export_map):
            os.remove(export_map)  # a partial map would look like a whole one
        raise
    finally:
        if owned and src is not None:
            src.close()
    offsets = job.stats.as_dict() if settings.saliency else {}
    return EncodeResult(
        input=source, output=name, frames_in=job.frames_in, frames_out=frames_out,
        bytes=nbytes, seconds=round(time.monotonic() - started, 3),
        mean_abs_qp_offset=offsets.get("mean_abs_qp_offset", 0.0), width=job.size[0],
        height=job.size[1], copied_streams=job.copied, settings=settings.as_dict(),
        offsets=offsets, budget={"mode": settings.budget}, qp={},
        plain_estimate=unavailable("encode_frames does not decode its output back for the "
                                   "per-block QP the estimate needs"))


def _write(job: _FrameMux, url: str, fmt: str, name: str, pipe: bool) -> None:
    dst = av.open(url, mode="w", format=fmt, options=muxer_options(fmt, pipe))
    try:
        _run(job, dst, fmt, name)
    finally:
        dst.close()


def _run(job: _FrameMux, dst, fmt: str, name: str) -> None:
    """Run ``job`` into ``dst``; a muxer failure (disk full, reader gone) is one line."""
    try:
        job.run(dst, fmt, name)
    except (av.error.FFmpegError, OSError) as exc:
        error = write_error(exc, dst.name, name)
        if error is None:
            raise
        raise error from None


class _FrameMux(Muxing):
    """One pass: frames through the saliency stage into ``dst``, copied packets interleaved."""

    def __init__(self, frames: Iterator, src, streams, source: str, rate: Fraction,
                 time_base: Fraction | None, settings: EncodeSettings, progress,
                 export_map) -> None:
        self.frames, self.src, self.streams, self.source = frames, src, streams, source
        self.rate, self.time_base, self.settings = rate, time_base, settings
        self.progress, self.export_map = progress, export_map
        self.frames_in = self.video_packets = self.bytes = self.copied = 0
        self.stats = None
        self.size = (0, 0)
        self.sar: Fraction | None = None

    def run(self, dst, fmt: str, name: str) -> None:
        self.url = dst.name
        first = next(self.frames, None)
        if first is None:
            raise SalcodecError(f"{name}: no frames to encode")
        _check_frame(first, 0)
        tb = self.time_base or first.time_base or 1 / self.rate
        # Named by the input when there is one, else by the output.
        warn_if_padded(name if self.source.startswith("<") else self.source, first.width,
                       first.height)
        width, height = even_size(first.width, first.height)
        s = self.settings
        vout = add_video_stream(dst, s.codec, width, height, self.rate, tb, crf=s.crf,
                                preset=s.preset, params=s.params, roi_enabled=s.saliency,
                                pix_fmt=s.pix_fmt)
        pix_fmt = vout.codec_context.pix_fmt
        copies = {}
        if self.src is not None:
            chosen = (self.streams if self.streams is not None
                      else [st for st in self.src.streams if st.type != "video"])
            copies = add_copies(self.src, dst, fmt, self.source, streams=chosen)
            carry_container(self.src, dst, fmt, self.source)
        carry_frame(first, conform_frame(first, width, height, pix_fmt), vout, fmt, self.source)
        if self.sar and self.sar != 1:
            vout.codec_context.sample_aspect_ratio = Fraction(self.sar)
        self.copied = len(copies)
        self.shift = start_shift(self.src) if self.src is not None else Fraction(0)
        if first.pts is not None:  # frames before zero: every stream moved alike
            self.shift = max(self.shift, -first.pts * (first.time_base or tb))
        step = max(1, round(1 / (self.rate * tb)))
        last = None
        stage = SaliencyEncoder(vout, **s.stage_options(), export_map=self.export_map)
        demux = copied_packets(self.src, copies, self.shift)
        bar = Progress(0, self.progress)
        try:
            pending = next(demux, None)
            frame = first
            while frame is not None:
                if self.frames_in:
                    _check_frame(frame, self.frames_in)
                pts = self._pts(frame, tb, last, step)
                last = pts
                self._mux_video(dst, stage.encode(conform_frame(frame, width, height, pix_fmt)))
                self.frames_in += 1
                bar.update(self.frames_in)
                now = pts * tb
                while pending is not None and pending[0] <= now:
                    self._mux(dst, pending[1])
                    pending = next(demux, None)
                frame = next(self.frames, None)
            self._mux_video(dst, stage.flush())
            while pending is not None:
                self._mux(dst, pending[1])
                pending = next(demux, None)
        finally:
            bar.close()
            stage.close()
            demux.close()
        self.stats, self.size = stage.stats, (width, height)

    def _pts(self, frame: av.VideoFrame, tb: Fraction, last: int | None, step: int) -> int:
        """The frame's pts in ``tb``, assigned when missing; refused when not increasing."""
        if frame.pts is None:
            frame.pts = 0 if last is None else last + step
            frame.time_base = tb
        else:
            if frame.time_base is None:
                frame.time_base = tb
            if self.shift:
                frame.pts += round(self.shift / frame.time_base)
        pts = frame.pts if frame.time_base == tb else round(frame.pts * frame.time_base / tb)
        if last is not None and pts <= last:
            raise SalcodecError(f"frame {self.frames_in}: pts {pts} does not increase (after "
                                f"{last}, time base {tb}); give frames in presentation order")
        return pts

    def _mux(self, dst, packets) -> None:
        if isinstance(packets, av.Packet) and packets.size:
            self.bytes += packets.size  # a copied packet: counted like the video's
        super()._mux(dst, packets)


def _check_frame(frame, index: int) -> None:
    if not isinstance(frame, av.VideoFrame):
        raise SalcodecError(f"frame {index}: expected an av.VideoFrame, got "
                            f"{type(frame).__name__}")


__all__ = ["encode_frames"]
