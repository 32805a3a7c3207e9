"""Streams copied packet for packet (audio, subtitles, data, other video) into an output."""

from __future__ import annotations

import os
from collections.abc import Iterable

import av

from ..errors import InputError
from .containers import check_streams_fit
from .metadata import carry_stream

#: FFmpeg's AVDISCARD_ALL: a stream the demuxer hides.
_AVDISCARD_ALL = 48
_COPIED_TYPES = ("video", "audio", "subtitle", "data", "attachment")


def add_copies(src: av.container.InputContainer, dst: av.container.OutputContainer, fmt: str,
               input: str | os.PathLike, skip=None,
               streams: Iterable | None = None) -> dict[int, av.stream.Stream]:
    """Add an output stream for each input stream to copy; ``{input index: output stream}``.

    Every stream of ``src`` but ``skip`` (the video being re-encoded) is
    copied, or only ``streams`` when given. Each is checked to fit ``fmt``
    (one-line error naming a container that holds it) and keeps its tags and
    disposition.
    """
    # Hidden streams are left out: the demuxer hides an MP4's chapter track (chapters are kept).
    chosen = [st for st in (src.streams if streams is None else streams)
              if st is not skip and st.type in _COPIED_TYPES
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
