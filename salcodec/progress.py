"""Progress line on stderr (only when it is a terminal)."""

from __future__ import annotations

import sys
import time


class Progress:
    """``frames 120/300  45.1 fps  ETA 4s`` redrawn in place on stderr."""

    def __init__(self, total: int = 0, enabled: bool | None = None, label: str = "encode") -> None:
        self.total = total
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.label = label
        self.start = time.monotonic()
        self._last = 0.0

    def update(self, done: int) -> None:
        now = time.monotonic()
        if not self.enabled or now - self._last < 0.25:
            return
        self._last = now
        fps = done / max(now - self.start, 1e-9)
        line = f"{self.label}: frames {done}" + (f"/{self.total}" if self.total else "")
        line += f"  {fps:.1f} fps"
        if self.total and fps > 0 and done <= self.total:
            line += f"  ETA {(self.total - done) / fps:.0f}s"
        sys.stderr.write("\r" + line.ljust(60))
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()
