"""Progress over all chunks (frames done, fps, ETA) from the workers' Dask events."""

from __future__ import annotations

import threading

from ..progress import Progress


class ChunkProgress:
    """Sum of the frames each chunk reports; a finished chunk counts whole.

    Workers send ``{"chunk": i, "frames": n}`` events (see
    :func:`salcodec.distributed.worker.encode_chunk`); a chunk retried on another
    worker starts again from its new reports.
    """

    def __init__(self, total: int, enabled: bool | None, reused: int = 0) -> None:
        self.bar = Progress(total, enabled, label="distributed")
        self._base = reused  # frames of chunks reused from a work dir
        self._running: dict[int, int] = {}
        self._finished: set[int] = set()
        self._lock = threading.Lock()

    @property
    def frames(self) -> int:
        return self._base + sum(self._running.values())

    def event(self, event) -> None:
        """Handler for ``Client.subscribe_topic``: ``event`` is ``(time, message)``."""
        message = event[1] if isinstance(event, tuple) else event
        try:
            index, frames = int(message["chunk"]), int(message["frames"])
        except (KeyError, TypeError, ValueError):
            return
        with self._lock:
            if index not in self._finished:
                self._running[index] = frames
            self.bar.update(self.frames)

    def finished(self, index: int, frames: int) -> None:
        with self._lock:
            self._finished.add(index)
            self._running[index] = frames
            self.bar.update(self.frames)

    def close(self) -> None:
        self.bar.close()
