"""Frame-level stage: decoded frames in, libx264 packets with saliency ROI out.

The saliency of frame N is computed in a worker thread while libx264 encodes
earlier frames (numba kernels release the GIL), through a bounded queue of
``lookahead`` frames, so memory stays constant in the video's length.
"""

from __future__ import annotations

import math
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import av
import numpy as np

from . import roi
from .conform import conform_frame
from .errors import SalcodecError
from .mapper import OffsetMapper
from .qpmap import ANCHOR_SHARPNESS, DEFAULT_CLAMP, DEFAULT_STRENGTH
from .saliency import SaliencyModel


@dataclass
class StageStats:
    """What the stage did, for reports: frames, regions and offset statistics."""

    frames: int = 0
    regions: int = 0
    scene_cuts: int = 0
    sum_abs_offset: float = 0.0
    sum_offset: float = 0.0
    min_offset: float = math.inf
    max_offset: float = -math.inf
    histogram: dict[int, int] = field(default_factory=dict)

    def add(self, offsets: np.ndarray, regions: int) -> None:
        self.frames += 1
        self.regions += regions
        self.sum_abs_offset += float(np.abs(offsets).mean())
        self.sum_offset += float(offsets.mean())
        self.min_offset = min(self.min_offset, float(offsets.min()))
        self.max_offset = max(self.max_offset, float(offsets.max()))
        values, counts = np.unique(np.rint(offsets).astype(int), return_counts=True)
        for v, c in zip(values.tolist(), counts.tolist(), strict=True):
            self.histogram[v] = self.histogram.get(v, 0) + c

    def as_dict(self) -> dict:
        n = max(self.frames, 1)
        return {
            "frames": self.frames,
            "mean_abs_qp_offset": self.sum_abs_offset / n,
            "mean_qp_offset": self.sum_offset / n,
            "min_qp_offset": self.min_offset if self.frames else 0.0,
            "max_qp_offset": self.max_offset if self.frames else 0.0,
            "regions_per_frame": self.regions / n,
            "scene_cuts": self.scene_cuts,
            "qp_offset_histogram": {str(k): v for k, v in sorted(self.histogram.items())},
        }


class SaliencyEncoder:
    """Encode decoded frames into ``stream`` with saliency-driven QP offsets.

    Give it frames in presentation order with :meth:`encode`, mux the packets
    it returns into the container that owns ``stream``, and call :meth:`flush`
    at the end. Frames may be in any pixel format or size; they are converted
    to the stream's yuv420p size first.

    Parameters
    ----------
    stream : av.VideoStream
        A libx264 output stream (see :func:`add_h264_stream`).
    model, strength, clamp, smoothing, bias, anchor, sharpness
        See :class:`OffsetMapper`.
    enabled : bool
        False encodes plainly (no saliency, no ROI): the baseline arm.
    lookahead : int
        Frames whose saliency may be in flight in the worker thread.
    """

    def __init__(self, stream, *, model: str | SaliencyModel = "default",
                 strength: float = DEFAULT_STRENGTH, clamp: float = DEFAULT_CLAMP,
                 smoothing: float = 0.6, bias: float = 0.0, enabled: bool = True,
                 lookahead: int = 3, anchor: str = "mean",
                 sharpness: float = ANCHOR_SHARPNESS) -> None:
        if stream.codec_context.name != "libx264":
            raise SalcodecError(
                f"SaliencyEncoder needs a libx264 stream, got {stream.codec_context.name}"
            )
        self.stream = stream
        self.width, self.height = stream.codec_context.width, stream.codec_context.height
        self.enabled = enabled and strength > 0
        self.stats = StageStats()
        self.lookahead = max(1, lookahead)
        self._pending: deque[tuple[av.VideoFrame, Future | None]] = deque()
        self._mapper = None
        self._pool = None
        if self.enabled:
            self._mapper = OffsetMapper(self.width, self.height, model, strength, clamp,
                                        smoothing, bias, anchor, sharpness)
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="salcodec-saliency")

    def encode(self, frame: av.VideoFrame) -> list[av.Packet]:
        """Queue one decoded frame; return the packets that became ready."""
        frame = conform_frame(frame, self.width, self.height)
        job = self._pool.submit(self._mapper.job, frame) if self._pool else None
        self._pending.append((frame, job))
        packets: list[av.Packet] = []
        while len(self._pending) > self.lookahead:
            packets += self._encode_next()
        return packets

    def flush(self) -> list[av.Packet]:
        """Encode the frames still queued and drain the encoder."""
        packets: list[av.Packet] = []
        while self._pending:
            packets += self._encode_next()
        packets += self.stream.encode(None)
        self.close()
        return packets

    def close(self) -> None:
        """Stop the worker thread (idempotent; pending frames are dropped)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._pending.clear()

    def _encode_next(self) -> list[av.Packet]:
        frame, job = self._pending.popleft()
        if job is not None:
            offsets, payload, cut = job.result()
            self.stats.add(offsets, roi.attach_payload(frame, payload))
            self.stats.scene_cuts += cut
        else:
            self.stats.frames += 1
        return self.stream.encode(frame)

    def __enter__(self) -> SaliencyEncoder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
