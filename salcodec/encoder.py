"""Frame-level stage: decoded frames in, encoder packets with saliency ROI out.

The saliency of frame N is computed in a worker thread while the encoder encodes
earlier frames (OpenCV releases the GIL, and so do the numba kernels of the
models that use them; the default model needs none), through a bounded
queue of ``lookahead`` frames, so memory stays constant in the video's length.
The model runs at a cadence (:mod:`salcodec.mapper`), so the worker's load is
bursty: a few light frames, then one analysis, and now and then a detector
frame; the queue is deep enough that the encoder never waits for such a burst.
Everything the worker hands back (offsets, ROI records, their statistics)
depends on the frames alone, never on timing, so the output is deterministic.
"""

from __future__ import annotations

import math
import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import av
import numpy as np

from .codecs import PIX_FMTS, codec_names, get_codec, roi
from .errors import SalcodecError
from .io.conform import conform_frame, eight_bit
from .mapfile import MapWriter
from .mapper import DEFAULT_CADENCE, FrameOffsets, OffsetMapper
from .qpmap import ANCHOR_SHARPNESS, DEFAULT_CLAMP, DEFAULT_STRENGTH
from .saliency import SaliencyModel, model_class
from .saliency.external import open_maps


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
    # The last offsets summarised: frames between analyses share one array.
    _memo: tuple = field(default=(None, None), repr=False, compare=False)
    #: Where each frame's offsets are spooled for the realised-QP report and
    #: plain x264's estimate (:class:`salcodec.qpreport.OffsetSpool`); None keeps none.
    masks: object | None = field(default=None, repr=False, compare=False)

    def add(self, offsets: np.ndarray, regions: int) -> None:
        self.frames += 1
        self.regions += regions
        if self._memo[0] is offsets:
            abs_mean, mean, lo, hi, values, counts = self._memo[1]
        else:
            values, counts = np.unique(np.rint(offsets).astype(int), return_counts=True)
            abs_mean, mean = float(np.abs(offsets).mean()), float(offsets.mean())
            lo, hi = float(offsets.min()), float(offsets.max())
            values, counts = values.tolist(), counts.tolist()
            self._memo = (offsets, (abs_mean, mean, lo, hi, values, counts))
        if self.masks is not None:
            self.masks.write(offsets)  # a shared array is spooled as a repeat
        self.sum_abs_offset += abs_mean
        self.sum_offset += mean
        self.min_offset = min(self.min_offset, lo)
        self.max_offset = max(self.max_offset, hi)
        for v, c in zip(values, counts, strict=True):
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


#: Share of each frame's macroblocks that the QP report calls the salient region.
SALIENT_SHARE = 0.2


def salient_blocks(offsets: np.ndarray, share: float = SALIENT_SHARE) -> np.ndarray:
    """The most salient blocks of a frame: lowest requested offsets, about ``share`` of them.

    Offsets fall monotonically with importance, so the blocks at or below the
    ``share`` quantile of the offsets are the most salient ones (ties at
    whole-QP offsets may take a little more).
    """
    offsets = np.asarray(offsets)
    return offsets <= np.quantile(offsets, share)


class SaliencyEncoder:
    """Encode decoded frames into ``stream`` with saliency-driven QP offsets.

    Give it frames in presentation order with :meth:`encode`, mux the packets
    it returns into the container that owns ``stream``, and call :meth:`flush`
    at the end. Frames may be in any pixel format or size; they are converted
    to the stream's pixel format and size first.

    Parameters
    ----------
    stream : av.VideoStream
        A libx264, libx265 or libvpx-vp9 output stream (see
        :func:`salcodec.codecs.add_video_stream`); the offsets are written on
        that encoder's scale and within its limits. With saliency on, its
        pixel format must be one of :data:`salcodec.codecs.PIX_FMTS` (4:2:0,
        the formats that carry ROI); the statistics and ``export_map`` record
        the offsets the encoder is sent (merged to 7 levels for libvpx-vp9).
    model, strength, clamp, smoothing, bias, anchor, sharpness
        See :class:`OffsetMapper`.
    enabled : bool
        False encodes plainly (no saliency, no ROI): the baseline arm.
    lookahead : int
        Frames whose saliency may be in flight in the worker thread: the
        slack that absorbs the worker's bursts (an analysis every
        ``cadence`` frames, detectors now and then). Each costs one frame of
        memory (1.4 MB at 720p).
    cadence : int
        Run the saliency model every this many frames and on scene cuts (see
        :class:`OffsetMapper`); 1 analyses every frame.
    maps : path, optional
        External maps instead of the model: a greyscale video, a folder of
        images or a map sidecar (see :func:`salcodec.saliency.external.open_maps`).
    export_map : path, optional
        Write every frame's importance and offsets, with its pts, to this
        sidecar while encoding (see :mod:`salcodec.mapfile`).
    """

    def __init__(self, stream, *, model: str | SaliencyModel = "default",
                 strength: float = DEFAULT_STRENGTH, clamp: float = DEFAULT_CLAMP,
                 smoothing: float = 0.6, bias: float = 0.0, enabled: bool = True,
                 lookahead: int = 8, anchor: str = "mean",
                 sharpness: float = ANCHOR_SHARPNESS, cadence: int = DEFAULT_CADENCE,
                 maps: str | os.PathLike | None = None,
                 export_map: str | os.PathLike | None = None) -> None:
        codec = stream.codec_context.name
        if codec not in codec_names():
            raise SalcodecError(f"SaliencyEncoder needs a {', '.join(codec_names())} stream, "
                                f"got {codec}")
        self.stream = stream
        self.width, self.height = stream.codec_context.width, stream.codec_context.height
        self.pix_fmt = stream.codec_context.pix_fmt or "yuv420p"
        self.enabled = enabled and strength > 0
        if self.enabled and self.pix_fmt not in PIX_FMTS:
            raise SalcodecError(f"SaliencyEncoder: a {codec} stream in {self.pix_fmt} cannot "
                                f"carry ROI; use {' or '.join(PIX_FMTS)} (or saliency off)")
        self.stats = StageStats()
        self.lookahead = max(1, lookahead)
        self._pending: deque[tuple[av.VideoFrame, Future[FrameOffsets] | None]] = deque()
        self._mapper: Future[OffsetMapper] | None = None
        self._pool = None
        self._maps = self._export = None
        if (maps is not None or export_map is not None) and not self.enabled:
            what = "--map" if maps is not None else "--export-map"
            raise SalcodecError(f"{what} needs saliency on (strength > 0, no --no-saliency)")
        if self.enabled:
            if maps is not None:
                self._maps = open_maps(maps, self.width, self.height)
            elif isinstance(model, str):
                model_class(model)  # an unknown name fails here, not in the worker
            if export_map is not None:
                self._export = MapWriter(export_map, self.width, self.height)
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="salcodec-saliency")
            # The model is built on the worker (loading its networks: 60-90 ms)
            # while this thread starts the encoder and decodes the first frames;
            # the worker runs its tasks in order, so every job finds it built.
            self._mapper = self._pool.submit(
                self._build_mapper, codec, model, strength, clamp, smoothing, bias, anchor,
                sharpness, cadence)

    def encode(self, frame: av.VideoFrame) -> list[av.Packet]:
        """Queue one decoded frame; return the packets that became ready."""
        frame = conform_frame(frame, self.width, self.height, self.pix_fmt)
        # The models read 8-bit planes (made in the worker); the encoder gets the
        # frame in its own format.
        job = self._pool.submit(self._job, frame) if self._pool else None
        self._pending.append((frame, job))
        packets: list[av.Packet] = []
        # Without a worker there is nothing to wait for: encode at once.
        while len(self._pending) > (self.lookahead if job is not None else 0):
            packets += self._encode_next()
        return packets

    def _build_mapper(self, codec: str, *args) -> OffsetMapper:
        from .regions import payload_for

        mapper = OffsetMapper(self.width, self.height, *args, maps=self._maps)
        mapper.payload = payload_for(codec, self.pix_fmt)
        mapper.levels = get_codec(codec).levels  # records what the encoder gets
        return mapper

    def _job(self, frame: av.VideoFrame):
        return self._mapper.result().job(eight_bit(frame))

    def warm(self, frame: av.VideoFrame) -> None:
        """Analyse a frame that precedes the frames to encode, without encoding it.

        Gives the saliency state (smoothing, cadence, the model's memory) the
        history it has in a whole-video encode, so a chunk of a video encoded
        on its own gets the same offsets (see :mod:`salcodec.distributed`).
        Call before the first :meth:`encode`.
        """
        if self._pending:
            raise RuntimeError("warm() after encode(): frames must come in order")
        if self._mapper is not None and self._maps is None:
            self._mapper.result().job(eight_bit(conform_frame(frame, self.width, self.height,
                                                                   self.pix_fmt)))

    def flush(self) -> list[av.Packet]:
        """Encode the frames still queued and drain the encoder."""
        packets: list[av.Packet] = []
        while self._pending:
            packets += self._encode_next()
        if self._maps is not None:
            self._maps.finish()  # a map longer than the video is a mismatch too
        packets += self.stream.encode(None)
        self.close()
        return packets

    def close(self) -> None:
        """Stop the worker thread (idempotent; pending frames are dropped)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._pending.clear()
        if self._maps is not None:
            self._maps.close()
        if self._export is not None:
            self._export.close()

    def _encode_next(self) -> list[av.Packet]:
        frame, job = self._pending.popleft()
        if job is not None:
            r = job.result()
            self.stats.add(r.offsets, roi.attach_payload(frame, r.payload))
            self.stats.scene_cuts += r.cut
            if self._export is not None:
                self._export.write(frame.pts, frame.time_base or self.stream.time_base,
                                   r.offsets, r.importance)
        else:
            self.stats.frames += 1
        return self.stream.encode(frame)

    def __enter__(self) -> SaliencyEncoder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
