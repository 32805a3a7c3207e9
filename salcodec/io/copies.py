"""Streams copied packet for packet (audio, subtitles, data, other video) into an output."""

from __future__ import annotations

import os
from collections.abc import Iterable

import av

from ..errors import InputError, SalcodecError
from .containers import check_streams_fit
from .metadata import carry_stream

#: FFmpeg's AVDISCARD_ALL: a stream the demuxer hides.
_AVDISCARD_ALL = 48
_COPIED_TYPES = ("video", "audio", "subtitle", "data", "attachment")
#: Kinds of stream an encode may leave out instead of copying (ffmpeg's -an, -sn, -dn).
DROPPABLE = ("audio", "subtitle", "data", "attachment")


def check_drop(drop: Iterable[str]) -> tuple[str, ...]:
    """``drop`` as a tuple of stream kinds (None: none), or a one-line error naming a wrong one."""
    drop = () if drop is None else (drop,) if isinstance(drop, str) else tuple(drop)
    for kind in drop:
        if kind not in DROPPABLE:
            raise SalcodecError(f"cannot drop {kind!r} streams; choose from "
                                f"{', '.join(DROPPABLE)}")
    return drop


def add_copies(src: av.container.InputContainer, dst: av.container.OutputContainer, fmt: str,
               input: str | os.PathLike, skip=None, streams: Iterable | None = None,
               drop: Iterable[str] = ()) -> dict[int, av.stream.Stream]:
    """Add an output stream for each input stream to copy; ``{input index: output stream}``.

    Every stream of ``src`` but ``skip`` (the video being re-encoded) is
    copied, or only ``streams`` when given, less the kinds in ``drop`` (see
    :data:`DROPPABLE`). Each is checked to fit ``fmt``
    (one-line error naming a container that holds it) and keeps its tags and
    disposition.
    """
    # Hidden streams are left out: the demuxer hides an MP4's chapter track (chapters are kept).
    chosen = [st for st in (src.streams if streams is None else streams)
              if st is not skip and st.type in _COPIED_TYPES and st.type not in drop
              and int(st.discard or 0) < _AVDISCARD_ALL]
    check_streams_fit(chosen, fmt, input, _supported_codecs(dst))
    copies = {}
    for st in chosen:
        try:
            copies[st.index] = dst.add_stream_from_template(st)
        except (ValueError, av.error.FFmpegError) as exc:
            raise InputError(f"{input}: cannot copy {st.type} stream #{st.index} "
                             f"into {fmt} ({exc}); try an .mkv output") from None
        carry_stream(st, copies[st.index])
    return copies


def _supported_codecs(dst) -> frozenset[str]:
    try:
        return frozenset(dst.supported_codecs)
    except (AttributeError, av.error.FFmpegError):
        return frozenset()
