"""Stream two videos frame by frame and pair their frames by presentation time.

Memory stays constant: at most the current reference frame and two
distorted frames are alive at once. Times are measured from each stream's
first frame, so a container start offset (edit lists, a 33 ms first pts)
does not shift the pairing; a difference in start offsets is noted.

Pairing rule ("sample and hold", what a viewer sees): each reference frame
at time t is compared with the last distorted frame whose time is <= t (plus
a quarter-frame tolerance for timestamp rounding). Equal frame rates give
frame i against frame i; a distorted video at a lower rate has its frames
repeated; at a higher rate, some distorted frames are never compared. The
comparison ends where either video ends; what was left over is counted in
:class:`Alignment`, never silently dropped.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import av
import numpy as np

from ..errors import InputError, SalcodecError
from ..io.conform import NATIVE_FORMATS, even_size, frame_planes
from ..io.decode import open_input, video_stream

#: Pixel formats whose planes are read as stored (8-bit 4:2:0).


@dataclass
class TimedFrame:
    """One decoded frame with its index and time from the stream's first frame."""

    index: int
    time: float
    frame: av.VideoFrame

    def planes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Y, U, V planes as uint8 arrays (views into the frame's buffers)."""
        return frame_planes(self.frame)


@dataclass
class FramePair:
    """A reference frame and the distorted frame shown at the same time."""

    ref: TimedFrame
    dist: TimedFrame


@dataclass
class StreamInfo:
    """What was learned about one input while reading it."""

    path: str
    width: int
    height: int
    pix_fmt: str
    fps: float | None
    start_time: float | None
    frames: int = 0
    duration: float | None = None

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "width": self.width,
            "height": self.height,
            "pix_fmt": self.pix_fmt,
            "fps": self.fps,
            "frames": self.frames,
            "duration": self.duration,
        }


@dataclass
class Alignment:
    """How the two videos were paired; filled in while iterating.

    Attributes
    ----------
    compared : int
        Frame pairs produced.
    ref_unmatched : int
        Reference frames after the end of the distorted video (not compared).
    dist_unused : int
        Distorted frames never compared (dropped by a rate difference, or past
        the end of the reference).
    dist_repeated : int
        Comparisons that reused a distorted frame already compared.
    complete : bool
        False when iteration stopped early (``max_frames``); frame counts are
        then the frames read so far.
    notes : list of str
        Human-readable remarks: differing lengths, rates, start offsets,
        pixel formats.
    """

    method: str = "presentation time, sample-and-hold (times from each stream's first frame)"
    compared: int = 0
    ref_unmatched: int = 0
    dist_unused: int = 0
    dist_repeated: int = 0
    complete: bool = True
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)  # every field, notes copied


def _normalise(frame: av.VideoFrame) -> av.VideoFrame:
    """Convert to 8-bit 4:2:0, keeping the stored range (no range rescaling)."""
    name = frame.format.name
    if name in NATIVE_FORMATS:
        return frame
    return frame.reformat(format="yuvj420p" if name.startswith("yuvj") else "yuv420p")


def is_even_padding(ref: tuple[int, int], dist: tuple[int, int]) -> bool:
    """True when ``dist`` is the odd size ``ref`` padded to even by the encoder.

    4:2:0 H.264 needs even dimensions, so an odd-sized input is encoded one
    pixel larger (see :func:`salcodec.io.conform.even_size`): the picture is the
    top-left ``ref`` part, the extra row/column is padding.
    """
    return dist != ref and dist == even_size(*ref)


def crop_frame(frame: av.VideoFrame, width: int, height: int) -> av.VideoFrame:
    """The top-left ``width`` x ``height`` of an 8-bit 4:2:0 frame, as a new frame."""
    out = av.VideoFrame(width, height, frame.format.name)
    for src, dst in zip(frame_planes(frame), frame_planes(out), strict=True):
        dst[...] = src[: dst.shape[0], : dst.shape[1]]
    out.pts, out.time_base = frame.pts, frame.time_base
    out.color_range = frame.color_range
    return out


class VideoReader:
    """Decode the first video stream of a file, one :class:`TimedFrame` at a time."""

    #: Crop every frame to this (width, height) (set by :class:`FrameAligner`
    #: to drop the encoder's even-size padding); None keeps frames whole.
    crop: tuple[int, int] | None = None

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        self._container = open_input(self.path)  # same one-line errors as encode
        try:
            # A video stream of an unknown codec (a damaged codec tag) has no
            # codec context: refused in one line, as encode does.
            self._stream = video_stream(self._container, self.path)
        except BaseException:
            self._container.close()
            raise
        self._stream.thread_type = "AUTO"
        rate = self._stream.average_rate or self._stream.guessed_rate
        self.fps: float | None = float(rate) if rate else None
        ctx = self._stream.codec_context
        self.info = StreamInfo(
            path=self.path,
            width=ctx.width,
            height=ctx.height,
            pix_fmt=ctx.pix_fmt or "unknown",
            fps=self.fps,
            start_time=None,
        )

    def frames(self) -> Iterator[TimedFrame]:
        """Decoded frames, converted to 8-bit 4:2:0, with times from the first one."""
        t0 = None
        last = None
        index = 0
        try:
            for frame in self._container.decode(self._stream):
                if frame.time is not None:
                    t = float(frame.time)
                elif self.fps:
                    t = index / self.fps
                else:
                    raise InputError(f"{self.path}: frames have no timestamps and no frame rate")
                if t0 is None:
                    t0 = t
                    self.info.start_time = t
                    self.info.width, self.info.height = frame.width, frame.height
                    self.info.pix_fmt = frame.format.name
                elif (frame.width, frame.height) != (self.info.width, self.info.height):
                    raise SalcodecError(
                        f"{self.path}: frame size changes mid-stream at frame {index} "
                        f"({self.info.width}x{self.info.height} -> {frame.width}x{frame.height})"
                    )
                last = t - t0
                self.info.frames = index + 1
                frame = _normalise(frame)
                if self.crop is not None:
                    frame = crop_frame(frame, *self.crop)
                yield TimedFrame(index, last, frame)
                index += 1
        except av.FFmpegError as exc:
            raise InputError(f"{self.path}: decoding failed at frame {index} ({exc})") from None
        if last is not None:
            step = 1.0 / self.fps if self.fps else 0.0
            self.info.duration = last + step

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _fmt_rate(fps: float | None) -> str:
    return "unknown" if fps is None else f"{fps:.3f}".rstrip("0").rstrip(".")


class FrameAligner:
    """Iterate over :class:`FramePair` of two videos, aligned by presentation time.

    Parameters
    ----------
    ref_path, dist_path : path-like
        Reference and distorted video files.
    max_frames : int, optional
        Stop after this many pairs (``Alignment.complete`` is then False).

    Raises
    ------
    InputError
        A file cannot be opened, decoded, or holds no frames.
    SalcodecError
        The two videos have different frame sizes.

    Examples
    --------
    >>> with FrameAligner("ref.mp4", "dist.mp4") as pairs:   # doctest: +SKIP
    ...     for p in pairs:
    ...         y_ref, y_dist = p.ref.planes()[0], p.dist.planes()[0]
    ...     print(pairs.alignment.notes)
    """

    def __init__(
        self,
        ref_path: str | os.PathLike,
        dist_path: str | os.PathLike,
        *,
        max_frames: int | None = None,
    ):
        if max_frames is not None and max_frames < 1:
            raise ValueError(f"max_frames must be >= 1, got {max_frames}")
        self.ref = VideoReader(ref_path)
        try:
            self.dist = VideoReader(dist_path)
        except BaseException:
            self.ref.close()
            raise
        self.max_frames = max_frames
        self.alignment = Alignment()

    def close(self) -> None:
        self.ref.close()
        self.dist.close()

    def __enter__(self) -> FrameAligner:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _check_sizes(self, r: TimedFrame, d: TimedFrame) -> TimedFrame:
        """``d``, cropped to the reference when it is the encoder's even-size padding."""
        rf, df = r.frame, d.frame
        if is_even_padding((rf.width, rf.height), (df.width, df.height)):
            self.dist.crop = (rf.width, rf.height)
            self.alignment.notes.append(
                f"distorted {df.width}x{df.height} is the odd reference size padded to even "
                f"(4:2:0); compared on its top-left {rf.width}x{rf.height}")
            return TimedFrame(d.index, d.time, crop_frame(df, rf.width, rf.height))
        if (rf.width, rf.height) != (df.width, df.height):
            raise SalcodecError(
                f"{self.dist.path}: frame size {df.width}x{df.height} differs from reference "
                f"{self.ref.path} ({rf.width}x{rf.height}); scale one to match first"
            )
        return d

    def __iter__(self) -> Iterator[FramePair]:
        al = self.alignment
        ref_it = self.ref.frames()
        dist_it = self.dist.frames()
        r = next(ref_it, None)
        if r is None:
            raise InputError(f"{self.ref.path}: no video frames decoded")
        cur = next(dist_it, None)
        if cur is None:
            raise InputError(f"{self.dist.path}: no video frames decoded")
        cur = self._check_sizes(r, cur)
        nxt = next(dist_it, None)
        periods = [1.0 / f for f in (self.ref.fps, self.dist.fps) if f]
        # Tolerance for timestamp rounding (e.g. 1/29.97 s in a 1/1000 time base).
        tol = 0.25 * min(periods) if periods else 1e-3
        dist_period = 1.0 / self.dist.fps if self.dist.fps else 0.0
        used = 0  # distinct distorted frames compared
        last_used = -1
        while r is not None:
            if self.max_frames is not None and al.compared >= self.max_frames:
                al.complete = False
                break
            while nxt is not None and nxt.time <= r.time + tol:
                cur, nxt = nxt, next(dist_it, None)
            if nxt is None and r.time > cur.time + dist_period - tol:
                break  # past the end of the distorted video
            if cur.index == last_used:
                al.dist_repeated += 1
            else:
                used += 1
                last_used = cur.index
            al.compared += 1
            yield FramePair(r, cur)
            r = next(ref_it, None)
        if al.complete:
            # Count, without comparing, whatever either video has left.
            while r is not None:
                al.ref_unmatched += 1
                r = next(ref_it, None)
            while nxt is not None:
                nxt = next(dist_it, None)
        al.dist_unused = self.dist.info.frames - used
        self._notes()

    def _notes(self) -> None:
        al, ri, di = self.alignment, self.ref.info, self.dist.info
        if not al.complete:
            al.notes.append(f"stopped after max_frames={self.max_frames} pairs")
        if ri.frames != di.frames or al.ref_unmatched:
            al.notes.append(
                f"lengths differ: reference {ri.frames} frames, distorted {di.frames} frames; "
                f"compared {al.compared}, reference frames not compared {al.ref_unmatched}, "
                f"distorted frames not compared {al.dist_unused}"
            )
        rf, df = self.ref.fps, self.dist.fps
        if rf and df and not math.isclose(rf, df, rel_tol=1e-3):
            al.notes.append(
                f"frame rates differ: reference {_fmt_rate(rf)} fps, distorted {_fmt_rate(df)} "
                f"fps; {al.dist_repeated} comparisons reused a distorted frame"
            )
        rs, ds = ri.start_time, di.start_time
        if rs is not None and ds is not None and abs(rs - ds) > 1e-3:
            al.notes.append(
                f"start times differ ({rs:.3f} s vs {ds:.3f} s); "
                "aligned from each stream's first frame"
            )
        if ri.pix_fmt != di.pix_fmt:
            al.notes.append(
                f"pixel formats differ ({ri.pix_fmt} vs {di.pix_fmt}); "
                "8-bit 4:2:0 planes compared as stored, without range conversion"
            )


