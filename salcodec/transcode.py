"""``salcodec.encode``: decode -> saliency -> QP offsets -> encoder -> mux, safely."""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import av

from .codecs import add_video_stream, get_codec
from .encoder import SALIENT_SHARE, SaliencyEncoder
from .errors import InputError, SalcodecError
from .io.conform import conform_frame, warn_if_padded
from .io.containers import check_codec_fits, muxer_options
from .io.copies import add_copies, check_drop
from .io.decode import (
    check_unchanged,
    expected_frames,
    ffmpeg_cause,
    file_state,
    open_input,
    stated_end,
    video_stream,
)
from .io.metadata import carry_container, carry_video
from .io.pipes import is_stdin, pipe_hint, require_seekable
from .io.safeio import OutputTarget, atomic_output, resolve_output
from .plainest import unavailable, unavailable_reason
from .progress import Progress
from .qpreport import OffsetSpool, realised_report
from .settings import EncodeSettings

#: How far short of the end its header states a decoded video may stop before it
#: counts as truncated (a stated end is the last frame's end to the millisecond).
TRUNCATION_SLACK_S = 0.5


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
    qp: dict = field(default_factory=dict)
    plain_estimate: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def encode(input: str | os.PathLike, output: str | os.PathLike,
           settings: EncodeSettings | None = None, *, overwrite: bool = False,
           progress: bool | None = None, budget: str | None = None, format: str | None = None,
           report_qp: bool = False, export_map: str | os.PathLike | None = None,
           drop: Iterable[str] = (), **changes) -> EncodeResult:
    """Transcode ``input`` to H.264, HEVC or VP9 in ``output`` with saliency-guided QP offsets.

    Audio, subtitle and other streams are copied untouched (unless ``drop``
    names their kind); video timestamps
    are kept (recovered like FFmpeg's best-effort timestamps where a file's
    are broken); rotation, colour tags, aspect ratio, stream tags and chapters
    are carried over. A file output is written to a temporary file and renamed
    only when complete and its video frame count equals the input's.

    Parameters
    ----------
    input : path or "-"
        Any video PyAV can read; ``-`` (or ``pipe:``, ``pipe:0``) reads stdin,
        and a FIFO is read as a pipe. A pipe is never seeked.
    output : path or "-"
        ``.mp4``, ``.mov``, ``.m4v``, ``.mkv``, ``.ts``, ``.nut`` or (VP9 only)
        ``.webm``; ``-`` (or
        ``pipe:1``) writes stdout and a FIFO is written as a pipe, both with
        ``format``. MP4/MOV files get their index first (faststart); to a pipe
        MP4/MOV are fragmented.
    settings : EncodeSettings, optional
        Encoder and mapping settings; defaults to ``EncodeSettings()``.
    overwrite : bool
        Replace an existing output file.
    progress : bool or None
        Progress on stderr; None = only when stderr is a terminal.
    budget : {"attended", "size", "zero-mean"}, optional
        Shorthand for ``settings.budget`` (see :class:`EncodeSettings`):
        ``"size"`` first calibrates a QP bias on a sample of the video so the
        output's size matches the plain encoder at the same settings (see
        :mod:`salcodec.budget`); it needs a seekable input.
    report_qp : bool
        Decode the output afterwards and report the mean QP the encoder
        really used inside and outside the salient region (``result.qp``; see
        :mod:`salcodec.qpreport`) and, for H.264, plain x264's estimated size
        at the same settings and the saving against it
        (``result.plain_estimate``; see :mod:`salcodec.plainest`). Costs one
        decode of the output; file outputs with saliency only, and not for
        HEVC (FFmpeg exports no per-block QP there); where there is no
        estimate, ``plain_estimate`` gives the reason.
    export_map : path, optional
        Write each frame's per-macroblock importance and QP offsets, with its
        pts, to this sidecar while encoding (:mod:`salcodec.mapfile`); it can
        drive another encode with ``map_source``. Needs saliency on.
    format : str, optional
        The output container (``matroska``, ``mp4``, ``mov``, ``mpegts``,
        ``nut``), like FFmpeg's ``-f``; needed for a name without extension.
    drop : iterable of {"audio", "subtitle", "data", "attachment"}
        Kinds of stream to leave out instead of copying (ffmpeg's ``-an``,
        ``-sn``, ``-dn``).
    **changes
        Any :class:`~salcodec.settings.EncodeSettings` field, overriding
        ``settings`` (e.g. ``crf=28, strength=6, saliency=False``).

    Returns
    -------
    EncodeResult
        For a pipe output ``bytes`` counts the packets written (the container's
        own overhead is not seen).
    """
    if budget is not None:
        changes["budget"] = budget
    settings = (settings or EncodeSettings()).with_(**changes)
    drop = check_drop(drop)
    budget = settings.budget
    if budget == "size" and settings.saliency:
        require_seekable(input, "--budget size (calibration on samples)")
    started = time.monotonic()
    if export_map is not None:
        _check_export(export_map, settings, overwrite)
    target = resolve_output(output, [] if is_stdin(input) else [Path(input)], overwrite, format)
    state = file_state(input)
    check_codec_fits(settings.codec, target.format, target.name)
    spec = get_codec(settings.codec)
    src = open_input(input, allow_pipe=True)
    spool = None
    qp, plain = {}, {}
    try:
        vin = video_stream(src, input)
        settings, calibration = size_budget(input, settings)
        no_plain = unavailable_reason(saliency=settings.saliency, pipe=target.pipe,
                                      decoded=spec.decoded, qp_export=spec.qp_export)
        spool = OffsetSpool() if (report_qp and settings.saliency and not target.pipe
                                  and spec.qp_export is None) else None
        if target.pipe:
            # Written as it goes; frames are counted while muxing instead of re-read.
            run = _run(src, vin, input, target.url, target, settings, progress,
                       export_map=export_map, drop=drop)
            frames_out, nbytes = run.video_packets, run.bytes
            check_unchanged(input, state, pipe=True)
            _check_count(target, frames_out, run.frames_in)
        else:
            with atomic_output(target.path) as tmp:
                run = _run(src, vin, input, str(tmp), target, settings, progress, spool,
                           export_map, drop)
                frames_out = count_video_packets(tmp)
                nbytes = tmp.stat().st_size
                check_unchanged(input, state)
                _check_count(target, frames_out, run.frames_in)  # before the rename
                if spool is not None:
                    realised, plain = realised_report(
                        tmp, spool.read(), file_bytes=None if no_plain else nbytes)
                    qp = {"region": f"the most salient {SALIENT_SHARE:.0%} of each frame's "
                                    "macroblocks (lowest requested offsets)", **realised}
    except BaseException:
        if export_map is not None and os.path.isfile(export_map):
            os.remove(export_map)  # a partial map would look like a whole one
        raise
    finally:
        src.close()
        if spool is not None:
            spool.close()
    offsets = run.stats.as_dict() if settings.saliency else {}
    return EncodeResult(
        input=str(input), output=target.name, frames_in=run.frames_in, frames_out=frames_out,
        bytes=nbytes, seconds=round(time.monotonic() - started, 3),
        mean_abs_qp_offset=offsets.get("mean_abs_qp_offset", 0.0), width=run.size[0],
        height=run.size[1], copied_streams=run.copied, settings=settings.as_dict(),
        offsets=offsets,
        budget={"mode": budget, **(calibration.as_dict() if calibration else {})},
        qp=qp if spool is not None else (
            {"note": spec.qp_export} if report_qp and settings.saliency and spec.qp_export
            else {}),
        plain_estimate=(plain or unavailable(no_plain)) if report_qp else {},
    )


def size_budget(input, settings: EncodeSettings):
    """``--budget size``: the settings with the QP bias at which the saliency arm's
    size matches the plain encoder's (sample encodes, :func:`salcodec.budget.calibrate_bias`),
    and that calibration; other budgets: the settings as given and None."""
    if settings.budget != "size" or not settings.saliency:
        return settings, None
    from .budget import calibrate_bias

    calibration = calibrate_bias(
        input, settings, lambda i, o, s: encode(i, o, s, overwrite=True).bytes)
    return settings.with_(bias=calibration.bias), calibration


def _check_count(target: OutputTarget, frames_out: int, frames_in: int) -> None:
    if frames_out != frames_in:
        what = "output discarded" if not target.pipe else "the stream written is incomplete"
        raise SalcodecError(f"{target.name}: output has {frames_out} video frames but input "
                            f"has {frames_in}; {what}")


def _check_export(path, settings: EncodeSettings, overwrite: bool) -> None:
    if not settings.saliency:
        raise SalcodecError(f"{path}: --export-map needs saliency on (no --no-saliency)")
    if os.path.exists(path) and not overwrite:
        raise SalcodecError(f"{path}: the map file exists (use -y to overwrite; "
                            "overwrite=True in Python)")
    if os.path.abspath(path) == os.path.abspath(settings.map_source or ""):
        raise SalcodecError(f"{path}: --export-map would overwrite the --map it reads")


def _run(src, vin, input, url: str, target: OutputTarget, settings: EncodeSettings,
         progress, spool: OffsetSpool | None = None, export_map=None,
         drop: tuple[str, ...] = ()) -> _Transcode:
    try:
        return _Transcode(src, vin, input, url, target, settings, progress, spool,
                          export_map, drop).run()
    except (av.error.FFmpegError, OSError) as exc:
        error = write_error(exc, url, target.name)
        if error is None:
            raise
        raise error from None


def write_error(exc: Exception, url: str, name: str) -> SalcodecError | None:
    """One line for a muxer failure at ``url`` (disk full, I/O error, reader gone).

    None when ``exc`` is not the output's (then it is the input's, reported as such).
    """
    if getattr(exc, "filename", None) != url:
        return None
    where = "stdout" if url == "pipe:1" else name
    return SalcodecError(f"{name}: cannot write to {where} ({ffmpeg_cause(exc)})")


class Muxing:
    """Muxes into the output at ``self.url``, counting video packets and bytes."""

    url: str
    video_packets: int
    bytes: int

    def _mux_video(self, dst, packets) -> None:
        for p in packets:
            if p.size:
                self.video_packets += 1
                self.bytes += p.size
        self._mux(dst, packets)

    def _mux(self, dst, packets) -> None:
        # A write error names the output, so encode() reports it as such rather
        # than as a corrupt input (the decode errors around it are the input's).
        try:
            dst.mux(packets)
        except av.error.FFmpegError as exc:
            raise OSError(exc.errno, ffmpeg_cause(exc), self.url) from None


class _Transcode(Muxing):
    """One pass: demux, decode, saliency stage, mux; copies and metadata carried."""

    def __init__(self, src, vin, input, url: str, target: OutputTarget,
                 settings: EncodeSettings, progress, spool: OffsetSpool | None = None,
                 export_map=None, drop: tuple[str, ...] = ()) -> None:
        self.src, self.vin, self.input, self.url = src, vin, input, url
        self.spool, self.export_map, self.drop = spool, export_map, drop
        self.target, self.settings, self.progress = target, settings, progress
        self.frames_in = self.video_packets = self.bytes = self.copied = 0
        self.video_end: float | None = None  # the latest decoded frame's end, seconds
        self.stats = None
        self.size = (0, 0)
        self.shift = start_shift(src)

    def run(self) -> _Transcode:
        fmt = self.target.format
        dst = av.open(self.url, mode="w", format=fmt,
                      options=muxer_options(fmt, self.target.pipe))
        stage = None
        try:
            vout, copies = add_output_streams(self.src, self.vin, self.input, dst, fmt,
                                              self.settings, self.drop)
            s = self.settings
            stage = SaliencyEncoder(vout, **s.stage_options(), export_map=self.export_map)
            stage.stats.masks = self.spool
            self._loop(dst, vout, stage, copies)
            self._mux_video(dst, stage.flush())
            self.stats, self.copied = stage.stats, len(copies)
            self.size = (vout.width, vout.height)
            return self
        finally:
            if stage is not None:
                stage.close()
            dst.close()

    def _loop(self, dst, vout, stage, copies) -> None:
        vin, input = self.vin, self.input
        bar = Progress(expected_frames(vin), self.progress)
        clock = BestEffortClock(vin, input)
        # Copied packets wait until the first video frame has set the output's
        # rotation and colour: the header is written at the first mux.
        held: list | None = []
        demux = self.src.demux([vin, *(self.src.streams[i] for i in copies)])
        try:
            for packet in demux:
                if packet.stream is vin:
                    for frame in clock.push_all(packet.decode()):
                        held = self._frame(dst, vout, stage, frame, held, bar)
                elif packet.dts is not None:
                    shift_packet(packet, self.shift)
                    packet.stream = copies[packet.stream.index]
                    self.bytes += packet.size
                    if held is None:
                        self._mux(dst, packet)
                    else:
                        held.append(packet)
            for frame in clock.flush():
                held = self._frame(dst, vout, stage, frame, held, bar)
        except av.error.FFmpegError as exc:
            if getattr(exc, "filename", None) == self.url:
                raise  # an output error: reported by encode()
            raise InputError(f"{input}: corrupt or truncated input ({ffmpeg_cause(exc)})"
                             f"{pipe_hint(input)}") from None
        finally:
            bar.close()
        if self.frames_in == 0:
            raise InputError(f"{input}: no decodable video frames")
        if vin.frames and self.frames_in < vin.frames and not _counts_ticks(vin):
            raise InputError(f"{input}: truncated or corrupt: decoded {self.frames_in} of the "
                             f"{vin.frames} video frames its index lists")
        stated = stated_end(self.src, vin)
        if stated is not None and self.video_end is not None \
                and self.video_end < stated - TRUNCATION_SLACK_S:
            raise InputError(f"{input}: truncated or corrupt: its video ends at "
                             f"{self.video_end:.2f} s of the {stated:.2f} s its header states")

    def _frame(self, dst, vout, stage, frame, held, bar):
        """Encode one timed frame; the first one sets up the output's picture metadata."""
        if frame.pts is not None and frame.time_base:
            end = float((frame.pts + (frame.duration or 0)) * frame.time_base)
            self.video_end = end if self.video_end is None else max(self.video_end, end)
        if self.shift:
            frame.pts += round(self.shift / frame.time_base)
        conformed = conform_frame(frame, vout.width, vout.height, vout.codec_context.pix_fmt)
        if held is not None:
            carry_video(self.vin, frame, conformed, vout, self.target.format, self.input)
            for p in held:
                self._mux(dst, p)
        self.frames_in += 1
        self._mux_video(dst, stage.encode(conformed))
        bar.update(self.frames_in)
        return None


def start_shift(src) -> Fraction:
    """Seconds added to every timestamp: a file starting before zero is moved to start at 0.

    MPEG-TS (and MP4 edit lists) may start at a negative time; muxers then
    shift or, in MP4, collapse such timestamps (measured: all pts 0), so all
    streams are moved alike, as the ffmpeg command line does: spacing and
    sync are kept.
    """
    start = src.start_time
    return Fraction(-start, 1_000_000) if start is not None and start < 0 else Fraction(0)


def shift_packet(packet, seconds: Fraction) -> None:
    """Add ``seconds`` to a packet's pts and dts (in its own time base)."""
    if seconds:
        ticks = round(seconds / packet.time_base)
        if packet.pts is not None:
            packet.pts += ticks
        packet.dts += ticks


def copied_packets(src, copies: dict, shift: Fraction) -> Iterator[tuple[Fraction, av.Packet]]:
    """(decode time in seconds, packet retargeted to its copy) of the streams in ``copies``
    (input index -> output stream), in file order, moved by ``shift`` seconds."""
    if not copies:
        return
    for packet in src.demux([src.streams[i] for i in copies]):
        if packet.dts is None:
            continue  # the demuxer's flush packets
        shift_packet(packet, shift)
        packet.stream = copies[packet.stream.index]
        yield packet.dts * packet.time_base, packet


def add_output_streams(src, vin, input, dst, fmt: str, settings: EncodeSettings,
                       drop: tuple[str, ...] = ()):
    """The output's video stream and copies of the input's other streams, with metadata.

    Also used by the distributed join (:mod:`salcodec.distributed.join`), so a
    chunked encode's container is set up exactly as a whole-video one.

    Returns
    -------
    vout : av.VideoStream
        The encoder's stream (its picture metadata is set at the first frame,
        see :func:`salcodec.io.metadata.carry_video`).
    copies : dict
        Input stream index -> output stream, for packet copies.
    """
    cc = vin.codec_context
    vin.thread_type = "AUTO"
    warn_if_padded(input, cc.width, cc.height)
    vout = add_video_stream(dst, settings.codec, cc.width, cc.height,
                            vin.average_rate or vin.guessed_rate, vin.time_base,
                            crf=settings.crf, preset=settings.preset, params=settings.params,
                            roi_enabled=settings.saliency, pix_fmt=settings.pix_fmt)
    copies = add_copies(src, dst, fmt, input, skip=vin, drop=drop)
    carry_container(src, dst, fmt, input)
    return vout, copies


def _counts_ticks(stream) -> bool:
    """True when the container's frame count is in time-base ticks, not frames.

    An AVI on a fine time base (FFmpeg writes 1/1000 from a variable-rate
    source) has an index entry per tick, most of them empty: its nominal rate
    (1000) is far above the rate of its timestamps, and it lists 33x too many
    frames for 30 fps.
    """
    nominal, real = stream.average_rate, stream.guessed_rate
    return bool(nominal and real and nominal > 2 * real)


def timed_frames(src, vin, input) -> Iterator[av.VideoFrame]:
    """Every frame of ``vin`` in presentation order, timed by :class:`BestEffortClock`."""
    clock = BestEffortClock(vin, input)
    for packet in src.demux(vin):
        yield from clock.push_all(packet.decode())
    yield from clock.flush()


class BestEffortClock:
    """Presentation timestamps for decoded frames, recovered as FFmpeg does.

    libavcodec's ``best_effort_timestamp`` (``guess_correct_pts``): count how
    often the frames' pts and their packets' dts fail to increase, and trust
    whichever failed less. Unlike libavcodec, the counts look ``window`` frames
    ahead before the first frame is timed, so the first frames of an AVI with
    packed B-frames (out-of-order pts, right dts) are timed by dts too; after
    that, each frame is timed as it comes, as libavcodec does (holding
    ``window`` decoded frames throughout would cost their memory: 11 MB at
    720p, 25 MB at 1080p). A frame
    with neither gets the previous one plus one frame duration; a timestamp
    that still goes backwards is refused as broken timing.

    Feed decoded frames with :meth:`push`, which returns the frames whose
    ``pts`` is now set, in order; :meth:`flush` returns the rest at the end.
    """

    def __init__(self, stream, input, window: int = 8) -> None:
        rate = stream.average_rate or stream.guessed_rate or 25
        self.step = max(1, round(1 / (rate * stream.time_base)))  # one frame, in time-base units
        self.input = input
        self.window = window
        self.faulty_pts = self.faulty_dts = 0
        self.last_pts = self.last_dts = None
        self.last = None
        self.index = 0
        self._held: deque[av.VideoFrame] = deque()

    def push(self, frame: av.VideoFrame) -> list[av.VideoFrame]:
        self._count(frame.pts, frame.dts)
        self._held.append(frame)
        if self.index == 0 and len(self._held) <= self.window:
            return []
        out = [self._time(f) for f in self._held]
        self._held.clear()
        return out

    def push_all(self, frames) -> list[av.VideoFrame]:
        return [ready for frame in frames for ready in self.push(frame)]

    def flush(self) -> list[av.VideoFrame]:
        out = [self._time(f) for f in self._held]
        self._held.clear()
        return out

    def _count(self, pts: int | None, dts: int | None) -> None:
        if dts is not None:
            self.faulty_dts += self.last_dts is not None and dts <= self.last_dts
            self.last_dts = dts
        elif pts is not None:
            self.last_dts = pts
        if pts is not None:
            self.faulty_pts += self.last_pts is not None and pts <= self.last_pts
            self.last_pts = pts
        elif dts is not None:
            self.last_pts = dts

    def _time(self, frame: av.VideoFrame) -> av.VideoFrame:
        pts, dts = frame.pts, frame.dts
        if pts is not None and (self.faulty_pts <= self.faulty_dts or dts is None):
            best = pts
        else:
            best = dts
        if best is None:
            best = 0 if self.last is None else self.last + self.step
        elif self.last is not None and best <= self.last:
            raise InputError(
                f"{self.input}: video timestamps do not increase at frame {self.index} "
                f"(pts {best} after {self.last}); the file's timing is broken"
            )
        self.last = best
        self.index += 1
        frame.pts = best
        return frame


def count_video_packets(path: str | os.PathLike) -> int:
    """Video frames in a file, counted by demuxing (no decode)."""
    with open_input(path) as c:
        stream = c.streams.video[0]
        return sum(1 for p in c.demux(stream) if p.size > 0)


__all__ = ["BestEffortClock", "EncodeResult", "add_output_streams", "count_video_packets",
           "encode"]
