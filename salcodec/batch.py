"""Batch encodes: several inputs or folders into one output folder, names mirrored.

Each file is encoded on its own (in a separate process with ``jobs`` > 1); a
file that fails is reported and the others still run. Existing outputs are
skipped unless ``overwrite``.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError, SalcodecError
from .io.copies import check_drop
from .settings import EncodeSettings

#: File names a folder input contributes (other files in it are left alone).
VIDEO_EXTENSIONS = (".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".ts", ".mts", ".m2ts",
                    ".mpg", ".mpeg", ".flv", ".wmv", ".nut", ".3gp", ".y4m", ".ogv")
#: Extensions encode can write; other inputs get ``.mkv`` (holds any stream).
OUTPUT_EXTENSIONS = (".mp4", ".mov", ".m4v", ".mkv", ".ts", ".nut", ".webm")


@dataclass
class BatchItem:
    """One file of a batch and what became of it."""

    input: str
    output: str
    status: str = "pending"  # done | skipped | failed
    error: str | None = None
    result: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        r = self.result
        return {"input": self.input, "output": self.output, "status": self.status,
                "error": self.error, "frames": r.get("frames_out"), "bytes": r.get("bytes"),
                "seconds": r.get("seconds")}


def plan_batch(inputs: Iterable[str | os.PathLike], out_dir: str | os.PathLike,
               codec: str = "libx264") -> list[BatchItem]:
    """Inputs and their outputs under ``out_dir``.

    A file keeps its name; a folder's videos (found recursively by extension)
    keep their path relative to the folder. An extension encode cannot write,
    or whose container cannot hold ``codec``'s stream, becomes ``.mkv``. Two
    inputs that would land on one output are an error.
    """
    from .codecs import get_codec
    from .io.containers import EXTENSIONS

    holds = get_codec(codec).containers
    out_dir = Path(out_dir)
    items: list[BatchItem] = []
    for given in inputs:
        path = Path(given)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*")
                           if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS
                           and not _inside(p, out_dir))
            if not found:
                raise InputError(f"{path}: the folder holds no videos "
                                 f"({', '.join(VIDEO_EXTENSIONS)})")
            pairs = [(p, p.relative_to(path)) for p in found]
        else:
            pairs = [(path, Path(path.name))]  # a missing file fails on its own line
        for src, rel in pairs:
            suffix = rel.suffix.lower()
            if suffix not in OUTPUT_EXTENSIONS or EXTENSIONS[suffix] not in holds:
                rel = rel.with_suffix(".mkv")
            items.append(BatchItem(str(src), str(out_dir / rel)))
    seen: dict[str, str] = {}
    for item in items:
        key = os.path.abspath(item.output)
        if key in seen:
            raise SalcodecError(f"{item.output}: both {seen[key]} and {item.input} would be "
                                "written there; give them different names")
        seen[key] = item.input
    return items


def _inside(path: Path, folder: Path) -> bool:
    # An output folder inside an input folder must not feed the batch its own outputs.
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def _encode_one(input: str, output: str, settings: EncodeSettings, overwrite: bool,
                report_qp: bool, drop: tuple[str, ...] = ()) -> tuple[str, str | None, dict]:
    """Encode one file; never raises for a file's own problems (the batch goes on)."""
    from .transcode import encode

    try:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        result = encode(input, output, settings, overwrite=overwrite, progress=False,
                        report_qp=report_qp, drop=drop)
    except SalcodecError as exc:
        return "failed", str(exc), {}
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        return "failed", f"{where}{exc.strerror or exc}", {}
    except Exception as exc:  # a bug on one file must not lose the others
        return "failed", f"{input}: internal error ({type(exc).__name__}: {exc})", {}
    return "done", None, result.as_dict()


def run_batch(items: list[BatchItem], settings: EncodeSettings, *, overwrite: bool = False,
              jobs: int = 1, report_qp: bool = False,
              on_done: Callable[[BatchItem], None] | None = None,
              executor: Executor | None = None, drop: tuple[str, ...] = ()) -> list[BatchItem]:
    """Encode every item (``jobs`` at a time); fill in status, error and result.

    Existing outputs are skipped unless ``overwrite``. ``on_done`` is called
    with each item as it finishes (in completion order). ``executor`` runs
    the files instead of local processes (a Dask client's executor: see
    :func:`salcodec.distributed.encode_batch_distributed`); it gets absolute
    paths, as its workers may run in another directory. ``drop``: kinds of
    stream left out of every output (see :func:`salcodec.encode`).
    """
    if jobs < 1:
        raise SalcodecError(f"--jobs must be >= 1, got {jobs}")
    drop = check_drop(drop)  # a wrong kind: one line before any file, not a failure per file
    todo = []
    for item in items:
        if os.path.exists(item.output) and not overwrite:
            item.status, item.error = "skipped", "output exists (use -y to overwrite)"
            if on_done:
                on_done(item)
        else:
            todo.append(item)

    def finish(item: BatchItem, outcome) -> None:
        item.status, item.error, item.result = outcome
        if on_done:
            on_done(item)

    if executor is not None:
        futures = {executor.submit(_encode_one, os.path.abspath(item.input),
                                   os.path.abspath(item.output), settings, overwrite,
                                   report_qp, drop): item for item in todo}
        for future in as_completed(futures):
            item = futures[future]
            try:
                outcome = future.result()
            except Exception as exc:  # KilledWorker, a result that did not deserialise
                outcome = ("failed", f"{item.input}: failed on the cluster "
                           f"({type(exc).__name__}: {exc})", {})
            finish(item, outcome)
        return items
    if jobs == 1 or len(todo) <= 1:
        for item in todo:
            finish(item, _encode_one(item.input, item.output, settings, overwrite, report_qp,
                                     drop))
        return items
    # Processes, not threads: each encode already runs libx264's threads and a
    # saliency worker, and models keep per-video state.
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        futures = {pool.submit(_encode_one, item.input, item.output, settings, overwrite,
                               report_qp, drop): item for item in todo}
        for future in as_completed(futures):
            finish(futures[future], future.result())
    return items


def summary_table(items: list[BatchItem]) -> str:
    """A plain-text table of the batch for stderr."""
    rows = [("status", "frames", "bytes", "seconds", "input -> output / error")]
    for item in items:
        d = item.as_dict()
        if item.status == "done":
            what = f"{item.input} -> {item.output}"
        elif (item.error or "").startswith(item.input):
            what = item.error  # it names the file already
        else:
            what = f"{item.input}: {item.error}"
        rows.append((item.status, "" if d["frames"] is None else str(d["frames"]),
                     "" if d["bytes"] is None else f"{d['bytes']:,}",
                     "" if d["seconds"] is None else f"{d['seconds']:.2f}", what))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join([r[0].ljust(widths[0]), *(r[i].rjust(widths[i]) for i in (1, 2, 3)),
                        r[4]]) for r in rows]
    counts = {s: sum(i.status == s for i in items) for s in ("done", "skipped", "failed")}
    lines.append(f"{counts['done']} done, {counts['skipped']} skipped, "
                 f"{counts['failed']} failed")
    return "\n".join(lines)


__all__ = ["BatchItem", "OUTPUT_EXTENSIONS", "VIDEO_EXTENSIONS", "plan_batch", "run_batch",
           "summary_table"]
