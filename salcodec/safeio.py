"""Output safety: never touch the input, never leave a partial file."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import SalcodecError

CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}


def check_output_path(output: str | os.PathLike, inputs: list[Path], overwrite: bool) -> Path:
    """Validate the output path before any work is done.

    Refuses an output that is an input (same path, or the same file through a
    link), an unknown container extension, a missing directory, and an
    existing file unless ``overwrite``.
    """
    out = Path(output)
    if out.suffix.lower() not in CONTAINERS:
        raise SalcodecError(
            f"{out}: unsupported output extension {out.suffix or '(none)'!r}; "
            f"use one of {', '.join(sorted(CONTAINERS))}"
        )
    for src in inputs:
        if out.resolve() == src.resolve() or (out.exists() and os.path.samefile(out, src)):
            raise SalcodecError(f"{out}: output is the input file; refusing to overwrite it")
    if not out.parent.resolve().is_dir():
        raise SalcodecError(f"{out}: directory {out.parent} does not exist")
    if out.exists() or out.is_symlink():
        if out.is_dir():
            raise SalcodecError(f"{out}: is a directory")
        if not overwrite:
            raise SalcodecError(f"{out}: already exists (use -y to overwrite)")
    return out


@contextlib.contextmanager
def atomic_output(output: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``output``; rename it over ``output`` on success.

    On any exception (KeyboardInterrupt included) the temporary file is removed
    and ``output`` is left as it was.
    """
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.", suffix=f".partial{output.suffix}",
                                   dir=output.parent)
    except OSError as exc:
        raise SalcodecError(f"{output}: cannot write in {output.parent} ({exc.strerror})") from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, output)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
