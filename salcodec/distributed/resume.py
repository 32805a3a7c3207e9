"""The work dir: finished chunks on disk, verified, so a crashed or interrupted job resumes.

``--resume DIR`` keeps it; without it a temporary one is used and removed.
Each chunk is two files written by the client as results arrive: its packets
(``chunk-NNNNN.bin``) and a manifest (``chunk-NNNNN.json``, written last, by
rename) with the packets' SHA-256 and the chunk's frame count. A chunk is
reused only when its manifest exists and the bytes match it. ``job.json``
holds the job's fingerprint (input size and mtime, chunk plan, settings): a
work dir of another job is refused rather than mixed in.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from ..errors import SalcodecError
from ..io.safeio import write_atomic as _write_atomic
from .worker import ChunkResult


class WorkDir:
    """Chunk storage of one job (see the module docstring)."""

    def __init__(self, path: str | os.PathLike | None, fingerprint: str) -> None:
        self.temporary = path is None
        if path is None:
            self.path = Path(tempfile.mkdtemp(prefix="salcodec-chunks-"))
        else:
            self.path = Path(path)
            try:
                self.path.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise SalcodecError(f"{path}: cannot use as work dir ({exc.strerror})") from None
        job = self.path / "job.json"
        if job.exists():
            try:
                old = json.loads(job.read_text()).get("fingerprint")
            except (OSError, ValueError):
                old = None
            if old != fingerprint:
                raise SalcodecError(f"{self.path}: the work dir holds chunks of another job "
                                    "(other input, settings or chunking); use an empty folder")
        else:
            _write_atomic(job, json.dumps({"fingerprint": fingerprint}).encode())

    def _files(self, index: int) -> tuple[Path, Path]:
        return self.path / f"chunk-{index:05d}.bin", self.path / f"chunk-{index:05d}.json"

    def load(self, index: int) -> ChunkResult | None:
        """A finished chunk whose bytes match its manifest, or None."""
        data, manifest = self._files(index)
        try:
            meta = json.loads(manifest.read_text())
            blob = data.read_bytes()
        except (OSError, ValueError):
            return None
        if hashlib.sha256(blob).hexdigest() != meta.pop("sha256", None):
            return None
        mapped = meta.pop("map_lines", None)
        try:
            return ChunkResult(**{**meta, "extradata": bytes.fromhex(meta["extradata"]),
                                  "packets": blob,
                                  "map_lines": bytes.fromhex(mapped) if mapped else None})
        except (TypeError, ValueError, KeyError):
            return None

    def save(self, result: ChunkResult) -> None:
        """Store a finished chunk (packets first, manifest last)."""
        data, manifest = self._files(result.index)
        _write_atomic(data, result.packets)
        meta = dataclasses.asdict(result)
        meta.pop("packets")
        meta["extradata"] = result.extradata.hex()
        meta["map_lines"] = result.map_lines.hex() if result.map_lines else None
        meta["sha256"] = hashlib.sha256(result.packets).hexdigest()
        _write_atomic(manifest, json.dumps(meta).encode())

    def load_cuts(self) -> list[int] | None:
        """The scene cuts of an earlier run of this job, or None."""
        try:
            cuts = json.loads((self.path / "cuts.json").read_text())["cuts"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return [int(c) for c in cuts] if isinstance(cuts, list) else None

    def save_cuts(self, cuts: list[int]) -> None:
        _write_atomic(self.path / "cuts.json", json.dumps({"cuts": cuts}).encode())

    def remove(self) -> None:
        """Delete the chunks (after a successful join), and the dir if salcodec made it."""
        if self.temporary:
            shutil.rmtree(self.path, ignore_errors=True)
            return
        for p in [*self.path.glob("chunk-*"), self.path / "cuts.json"]:
            with contextlib.suppress(OSError):
                p.unlink()
        with contextlib.suppress(OSError):
            (self.path / "job.json").unlink()
        with contextlib.suppress(OSError):
            self.path.rmdir()  # only if now empty

