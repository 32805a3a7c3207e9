"""Output safety: never touch the input, never leave a partial file."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import SalcodecError
from .containers import EXTENSIONS, output_format
from .pipes import is_fifo, is_stdout

#: Output extensions and their muxers (kept under its old name).
CONTAINERS = EXTENSIONS


@dataclass(frozen=True)
class OutputTarget:
    """Where an encode writes.

    Attributes
    ----------
    name : str
        The output as the user named it (for messages).
    url : str
        What FFmpeg opens: ``pipe:1`` for stdout, else the path.
    format : str
        The FFmpeg muxer.
    path : Path or None
        A regular file, written through a temporary file and renamed on
        success; None for stdout or a FIFO, written as the encode goes.
    """

    name: str
    url: str
    format: str
    path: Path | None

    @property
    def pipe(self) -> bool:
        return self.path is None


def resolve_output(output: str | os.PathLike, inputs: list[Path], overwrite: bool,
                   fmt: str | None = None) -> OutputTarget:
    """Check an output name before any work: stdout (``-``, ``pipe:1``), a FIFO or a file.

    A file gets the checks of :func:`check_output_path`; ``fmt`` (``-f``)
    names the container where the name has no extension, as for a pipe.
    """
    if is_stdout(output):
        return OutputTarget(str(output), "pipe:1", output_format(output, fmt), None)
    if is_fifo(output):
        return OutputTarget(str(output), str(output), output_format(output, fmt), None)
    path = check_output_path(output, inputs, overwrite, fmt)
    return OutputTarget(str(output), str(path), output_format(output, fmt), path)


def check_output_path(output: str | os.PathLike, inputs: list[Path], overwrite: bool,
                      fmt: str | None = None) -> Path:
    """Validate the output path before any work is done.

    Refuses an output that is an input (same path, or the same file through a
    link), an unknown container extension (unless ``fmt`` names the
    container), a missing directory, and an existing file unless ``overwrite``.
    """
    output_format(output, fmt)
    return check_file_output(output, inputs, overwrite)


def check_file_output(output: str | os.PathLike, inputs: list[str | os.PathLike],
                      overwrite: bool) -> Path:
    """Checks for any file a verb writes (video, PNG, CSV, JSON) before work starts.

    Refuses an output that is an input (same path, hard link or symlink), a
    missing directory, a directory, and an existing file unless ``overwrite``
    (the message names ``-y``).
    """
    out = Path(output)
    for src in map(Path, inputs):
        if out.resolve() == src.resolve() or (out.exists() and os.path.samefile(out, src)):
            raise SalcodecError(f"{out}: output is the input file; refusing to overwrite it")
    if not out.parent.resolve().is_dir():
        raise SalcodecError(f"{out}: directory {out.parent} does not exist")
    if out.exists() or out.is_symlink():
        if out.is_dir():
            raise SalcodecError(f"{out}: is a directory")
        if not overwrite:
            raise SalcodecError(f"{out}: already exists (use -y to overwrite; "
                                "overwrite=True in Python)")
    return out


@contextlib.contextmanager
def atomic_output(output: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``output``; rename it over ``output`` on success.

    On any exception (KeyboardInterrupt included) the temporary file is removed
    and ``output`` is left as it was. The temporary file is named
    ``.NAME.salcodec-PID-XXXX.partialEXT``: one left by a killed run (SIGKILL,
    power loss) is removed by the next run writing the same output, once its
    process is gone (see :func:`remove_stale_partials`).
    """
    remove_stale_partials(output)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.salcodec-{os.getpid()}-",
                                   suffix=f".partial{output.suffix}", dir=output.parent)
    except OSError as exc:
        raise SalcodecError(f"{output}: cannot write in {output.parent} ({exc.strerror})") from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())
        try:
            os.replace(tmp_path, output)
        except OSError as exc:  # the folder made read-only (or removed) meanwhile
            raise SalcodecError(f"{output}: cannot put the finished file in {output.parent} "
                                f"({exc.strerror})") from None
    except BaseException as exc:
        left = _discard(tmp_path)
        if left and isinstance(exc, (SalcodecError, OSError)):
            raise SalcodecError(f"{_message(exc)}; the folder refuses removing the temporary "
                                f"file too: {left.name} is left, emptied (the next run "
                                "removes it)") from None
        raise


def _discard(tmp: Path) -> Path | None:
    """Remove a temporary file; where its folder forbids that, empty it and return it."""
    try:
        tmp.unlink()
    except FileNotFoundError:
        return None
    except OSError:
        with contextlib.suppress(OSError):
            os.truncate(tmp, 0)  # no partial video, at least: the file is still ours
        return tmp
    return None


def _message(exc: BaseException) -> str:
    if isinstance(exc, OSError) and not isinstance(exc, SalcodecError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or exc}"
    return str(exc)


def write_atomic(path: str | os.PathLike, data: bytes | str) -> None:
    """Write ``data`` (text as UTF-8) to ``path`` through :func:`atomic_output`."""
    with atomic_output(Path(path)) as tmp:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


def remove_stale_partials(output: Path) -> list[Path]:
    """Remove the temporary files of earlier runs for ``output`` whose process is dead.

    Only names :func:`atomic_output` makes for this very output are touched
    (``.NAME.salcodec-PID-XXXX.partialEXT``), and only when no process PID
    exists, so a run still writing the same output keeps its file.
    """
    pattern = re.compile(rf"\.{re.escape(output.name)}\.salcodec-(\d+)-[^/]*"
                         rf"\.partial{re.escape(output.suffix)}")
    removed = []
    try:
        names = os.listdir(output.parent)
    except OSError:
        return removed
    for name in names:
        m = pattern.fullmatch(name)
        if m is None or _alive(int(m.group(1))):
            continue
        with contextlib.suppress(FileNotFoundError, PermissionError):
            (output.parent / name).unlink()
            removed.append(output.parent / name)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
