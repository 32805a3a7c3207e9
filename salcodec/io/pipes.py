"""Pipes named like FFmpeg's: ``-``, ``pipe:``, ``pipe:0``/``pipe:1``, and FIFOs.

A pipe is read once, front to back: nothing that needs to seek (sampling,
calibration, a second pass) can use it.
"""

from __future__ import annotations

import os
import stat

from ..errors import SalcodecError

STDIN_NAMES = ("-", "pipe:", "pipe:0")
STDOUT_NAMES = ("-", "pipe:", "pipe:1")


def is_stdin(name: str | os.PathLike) -> bool:
    """True for ``-``, ``pipe:`` or ``pipe:0`` as an input name."""
    return isinstance(name, str) and name in STDIN_NAMES


def is_stdout(name: str | os.PathLike) -> bool:
    """True for ``-``, ``pipe:`` or ``pipe:1`` as an output name."""
    return isinstance(name, str) and name in STDOUT_NAMES


def is_fifo(path: str | os.PathLike) -> bool:
    """True when ``path`` exists and is a named pipe."""
    try:
        return stat.S_ISFIFO(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def is_pipe_input(name: str | os.PathLike) -> bool:
    """stdin or a FIFO: read once, never seeks."""
    return is_stdin(name) or is_fifo(name)


def input_url(name: str | os.PathLike) -> str:
    """What FFmpeg opens for an input name (``pipe:0`` for stdin)."""
    return "pipe:0" if is_stdin(name) else str(name)


def require_seekable(name: str | os.PathLike, what: str) -> None:
    """One-line refusal when ``what`` must seek in ``name`` and it is a pipe."""
    if is_pipe_input(name):
        raise SalcodecError(
            f"{name}: {what} reads the input more than once, and a pipe cannot seek; "
            "save the input to a file first"
        )


def pipe_hint(name: str | os.PathLike) -> str:
    """What to add to a read error on a pipe: the usual cause is an MP4 made for files."""
    if not is_pipe_input(name):
        return ""
    return "; through a pipe an MP4 needs its index first (faststart) or fragments"
