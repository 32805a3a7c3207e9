"""The map sidecar: per-frame, per-macroblock importance and QP offsets, as JSON lines.

Written by ``salcodec encode --export-map FILE`` and read back by ``--map FILE``
(see docs/mapfile.md). One JSON object per line, so it is written while the
video streams (constant memory) and can be read, filtered or produced line by
line by any tool:

- line 1, the header: ``{"format": "salcodec-map", "version": 1, "width": W,
  "height": H, "mb_width": MW, "mb_height": MH, "block": 16, "time_base": "1/25"}``;
- then one line per frame, in presentation order: ``{"frame": i, "pts": p,
  "importance": [...], "offsets": [...]}``, both arrays ``MH x MW`` row-major
  (``importance`` rounded to 4 decimals, ``offsets`` integer QP, negative =
  better quality). ``pts`` counts ``time_base`` units; ``importance`` may be
  ``null`` and then ``offsets`` drive the encoder alone.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .errors import InputError
from .mbmap import MB_SIZE, macroblock_grid

FORMAT = "salcodec-map"
VERSION = 1


@dataclass(frozen=True)
class MapRecord:
    """One frame of a sidecar."""

    frame: int
    pts: int | None
    importance: np.ndarray | None
    offsets: np.ndarray


class MapWriter:
    """Stream a sidecar: :meth:`write` one frame at a time, :meth:`close` at the end.

    Parameters
    ----------
    path : path
        The file to write (replaced).
    width, height : int
        Coded frame size; the macroblock grid follows from it.
    """

    def __init__(self, path: str | os.PathLike, width: int, height: int) -> None:
        self.path = os.fspath(path)
        self.width, self.height = width, height
        self.grid = macroblock_grid(width, height)
        self.frames = 0
        try:
            self._file = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 (streamed)
        except OSError as exc:
            raise InputError(f"{self.path}: cannot write the map ({exc.strerror})") from None
        self._header_written = False

    def write(self, pts: int | None, time_base: Fraction | None, offsets: np.ndarray,
              importance: np.ndarray | None = None) -> None:
        """Append one frame (in presentation order)."""
        if not self._header_written:
            # The time base is known only with the first frame.
            mb_h, mb_w = self.grid
            header = {"format": FORMAT, "version": VERSION, "width": self.width,
                      "height": self.height, "mb_width": mb_w, "mb_height": mb_h,
                      "block": MB_SIZE, "time_base": str(time_base) if time_base else None}
            self._file.write(json.dumps(header) + "\n")
            self._header_written = True
        rec = {"frame": self.frames, "pts": None if pts is None else int(pts),
               "importance": (None if importance is None
                              else np.round(importance.astype(float), 4).ravel().tolist()),
               "offsets": np.rint(offsets).astype(int).ravel().tolist()}
        self._file.write(json.dumps(rec, separators=(",", ":")) + "\n")
        self.frames += 1

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()

    def __enter__(self) -> MapWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def is_map_file(path: str | os.PathLike) -> bool:
    """True when ``path`` is a file whose first bytes are a sidecar header."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError:
        return False
    return head.lstrip().startswith(b"{") and FORMAT.encode() in head


class MapReader:
    """Read a sidecar line by line; the header is checked against the video's size.

    Parameters
    ----------
    path : path
        A sidecar written by :class:`MapWriter` (or any tool following the format).
    width, height : int
        The video's coded size: its macroblock grid must be the sidecar's.
    """

    def __init__(self, path: str | os.PathLike, width: int, height: int) -> None:
        self.path = os.fspath(path)
        try:
            self._file = open(self.path, encoding="utf-8")  # noqa: SIM115 (streamed)
        except OSError as exc:
            raise InputError(f"{self.path}: cannot read the map ({exc.strerror})") from None
        self.line = 0
        header = self._next_json()
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            self.close()
            raise InputError(f"{self.path}: not a salcodec map sidecar (no {FORMAT} header)")
        if header.get("version") != VERSION:
            self.close()
            raise InputError(f"{self.path}: map version {header.get('version')} is not "
                             f"supported (this salcodec reads version {VERSION})")
        mb_h, mb_w = macroblock_grid(width, height)
        size = (header.get("mb_height"), header.get("mb_width"))
        if size != (mb_h, mb_w):
            self.close()
            raise InputError(f"{self.path}: map grid {size[1]}x{size[0]} macroblocks does not "
                             f"match the video's {mb_w}x{mb_h} ({width}x{height})")
        self.header = header
        self.grid = (mb_h, mb_w)
        tb = header.get("time_base")
        self.time_base = Fraction(tb) if tb else None

    def next_line(self) -> str | None:
        """The next record's text, unparsed (None at the end): for readers that skip most."""
        text = self._file.readline()
        if not text:
            return None
        self.line += 1
        return text

    def parse(self, text: str) -> MapRecord:
        """The record of a line from :meth:`next_line`."""
        return self._record(self._json(text))

    def _json(self, text: str):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{self.path}: line {self.line} is not JSON ({exc.msg})") from None

    def _next_json(self):
        text = self.next_line()
        return None if text is None else self._json(text)

    def __iter__(self) -> Iterator[MapRecord]:
        while (rec := self._next_json()) is not None:
            yield self._record(rec)

    def _record(self, rec) -> MapRecord:
        n = self.grid[0] * self.grid[1]
        try:
            offsets = np.asarray(rec["offsets"], dtype=np.float32)
            imp = rec.get("importance")
            importance = None if imp is None else np.asarray(imp, dtype=np.float32)
            frame, pts = int(rec["frame"]), rec.get("pts")
        except (KeyError, TypeError, ValueError):
            raise InputError(f"{self.path}: line {self.line} is not a map frame record "
                             "(needs frame, pts, offsets)") from None
        if offsets.size != n or (importance is not None and importance.size != n):
            raise InputError(f"{self.path}: line {self.line} has {offsets.size} offsets, the "
                             f"grid has {n} macroblocks")
        shape = self.grid
        return MapRecord(frame, None if pts is None else int(pts),
                         None if importance is None else importance.reshape(shape),
                         offsets.reshape(shape))

    def close(self) -> None:
        self._file.close()


__all__ = ["FORMAT", "VERSION", "MapReader", "MapRecord", "MapWriter", "is_map_file"]
