"""Open an input video and stream its frames, with one-line errors for bad input."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import av

from ..errors import InputError
from .containers import EXTENSIONS
from .pipes import input_url, is_pipe_input, is_stdin, pipe_hint, require_seekable


def check_input_path(path: str | os.PathLike, allow_pipe: bool = False) -> Path:
    """Refuse paths that are not readable regular files (a FIFO or device could hang).

    With ``allow_pipe`` (for readers that go front to back once, like encode),
    stdin (``-``, ``pipe:``, ``pipe:0``) and FIFOs are accepted too.
    """
    p = Path(path)
    if is_stdin(path):
        if allow_pipe:
            return p
        require_seekable(path, "this command")
    try:
        st = p.stat()
    except FileNotFoundError:
        raise InputError(f"{p}: no such file") from None
    except OSError as exc:
        raise InputError(f"{p}: cannot access ({exc.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{p}: is a directory, not a video file")
    if stat.S_ISFIFO(st.st_mode):
        if allow_pipe:
            return p
        require_seekable(path, "this command")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{p}: not a regular file")
    if st.st_size == 0:
        raise InputError(f"{p}: empty file")
    if not os.access(p, os.R_OK):
        raise InputError(f"{p}: permission denied")
    return p


def open_input(path: str | os.PathLike, allow_pipe: bool = False) -> av.container.InputContainer:
    """Open a media file for reading; any failure becomes :class:`InputError`.

    ``allow_pipe`` accepts stdin and FIFOs (see :func:`check_input_path`).
    """
    p = check_input_path(path, allow_pipe)
    pipe = is_pipe_input(path)
    # A timeout on open guards against inputs that make demuxers probe forever;
    # a pipe may pause as long as its writer likes.
    timeout = None if pipe else (30.0, 30.0)
    try:
        return av.open(input_url(path) if pipe else str(p), mode="r", timeout=timeout)
    except av.error.FFmpegError as exc:
        # FFmpeg's probe gives up on an MPEG-TS of a few packets (a two-frame
        # clip) that it reads fine when told the format: try the extension's.
        fmt = None if pipe else EXTENSIONS.get(p.suffix.lower())
        if fmt is not None:
            try:
                return av.open(str(p), mode="r", format=fmt, timeout=timeout)
            except av.error.FFmpegError:
                pass
        if not pipe and _mp4_head(p):
            raise InputError(f"{path}: truncated or incomplete MP4/MOV: it has no readable "
                             f"index (moov) ({ffmpeg_cause(exc)})") from None
        raise InputError(f"{path}: not a readable media file ({ffmpeg_cause(exc)})"
                         f"{pipe_hint(path)}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path}: not a readable media file ({exc})") from None


def _mp4_head(path: Path) -> bool:
    """True when the file starts like an MP4/MOV (an ``ftyp`` box): one FFmpeg cannot open
    was then most likely cut short before its index, which such files keep at the end."""
    try:
        with open(path, "rb") as f:
            return f.read(8)[4:8] == b"ftyp"
    except OSError:
        return False


def file_state(path: str | os.PathLike) -> tuple[int, int] | None:
    """(size, mtime in ns) of a regular file, to notice it changing while read; None otherwise."""
    if is_pipe_input(path):
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns) if stat.S_ISREG(st.st_mode) else None


def check_unchanged(path: str | os.PathLike, before: tuple[int, int] | None,
                    pipe: bool = False) -> None:
    """One-line error when a file was truncated, grew or was rewritten while it was read.

    FFmpeg reads a file cut short as a clean end of file (Matroska and MPEG-TS
    list no frame count to check against), so without this an input
    truncated mid-read would give a shorter output and success. ``pipe``:
    the output went to a pipe, so it was already written, not discarded.
    """
    if before is None:
        return
    after = file_state(path)
    if after != before:
        now = "gone" if after is None else f"{after[0]:,} bytes"
        what = "the stream written is incomplete" if pipe else "output discarded"
        raise InputError(f"{path}: the file changed while it was read ({before[0]:,} bytes, "
                         f"now {now}); {what}: encode it again once it is complete")


def video_stream(container: av.container.InputContainer, path: str | os.PathLike):
    """The first video stream, or :class:`InputError` (audio-only, no streams)."""
    streams = [s for s in container.streams.video if s.codec_context is not None]
    if not streams and container.streams.video:
        raise InputError(f"{path}: video stream of an unknown codec (unsupported or corrupt "
                         "header)")
    if not streams:
        kinds = sorted({s.type for s in container.streams}) or ["no streams"]
        raise InputError(f"{path}: no video stream (contains {', '.join(kinds)})")
    stream = streams[0]
    cc = stream.codec_context
    if not cc.width or not cc.height:
        raise InputError(f"{path}: video stream has no frame size (corrupt header?)")
    return stream


def expected_frames(stream) -> int:
    """Frame count the container announces, or an estimate from duration x rate (0 if unknown)."""
    if stream.frames:
        return int(stream.frames)
    if stream.duration and stream.time_base and stream.average_rate:
        return int(round(float(stream.duration * stream.time_base * stream.average_rate)))
    return 0


def stated_end(container, stream) -> float | None:
    """Where a video stream ends, in seconds, as its header states it; None if not stated.

    Matroska and WebM state it per track (the ``DURATION`` tag that FFmpeg's
    muxer writes, ``HH:MM:SS.nnnnnnnnn``; mkvmerge's may carry a language,
    ``DURATION-eng``): a file cut short still states its whole length, while it
    lists no frame count to check against. Only there: other containers (NUT)
    keep whatever stream tags they were given, a copy's stale length included.
    """
    if not {"matroska", "webm"} & set(container.format.name.split(",")):
        return None
    tag = next((v for k, v in stream.metadata.items()
                if k.upper() == "DURATION" or k.upper().startswith("DURATION-")), None)
    if not tag:
        return None
    try:
        h, m, sec = tag.strip().split(":")
        return int(h) * 3600 + int(m) * 60 + float(sec)
    except ValueError:
        return None


def ffmpeg_cause(exc: Exception) -> str:
    """The first line of an FFmpeg error's text, without PyAV's errno prefix."""
    text = getattr(exc, "strerror", None) or str(exc)
    return text.splitlines()[0] if text else type(exc).__name__
