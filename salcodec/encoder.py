"""Frame-level stage: decoded frames in, libx264 packets with saliency ROI out.

The saliency of frame N is computed in a worker thread while libx264 encodes
earlier frames (numba kernels release the GIL), through a bounded queue of
``lookahead`` frames, so memory stays constant in the video's length.
"""

from __future__ import annotations

import math
import warnings
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction

import av
import numpy as np

from . import roi
from .conform import analysis_rgb, conform_frame, even_size
from .errors import SalcodecError, SalcodecWarning
from .mbmap import macroblock_grid, pool_to_macroblocks
from .qpmap import (
    DEFAULT_CLAMP,
    DEFAULT_STRENGTH,
    OffsetSmoother,
    importance_to_offsets,
    quantize_offsets,
)
from .saliency import SaliencyModel, get_model
from .scenecut import SceneCutDetector

PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
           "slower", "veryslow", "placebo")


def parse_x264_params(text: str | None) -> dict[str, str]:
    """Parse ``K=V:K=V`` (x264's own syntax) into a dict; a bare key means ``1``."""
    params: dict[str, str] = {}
    for item in (text or "").split(":"):
        if not item:
            continue
        key, _, value = item.partition("=")
        params[key.strip()] = value.strip() if _ else "1"
    return params


def x264_options(crf: float = 23, preset: str = "medium", x264_params: str | None = None,
                 roi_enabled: bool = True) -> dict[str, str]:
    """libx264 AVOptions for PyAV, checked so that ROI offsets are not silently dropped.

    Measured with this x264: the offsets are ignored when aq-mode is 0 (the
    ultrafast preset's default), and also when aq-strength is 0 without MB-tree
    (ultrafast, superfast, mbtree=0 or rc-lookahead=0). The first is fixed with
    a warning for the ultrafast preset; explicit settings that drop the offsets
    are refused.
    """
    if preset not in PRESETS:
        raise SalcodecError(f"unknown x264 preset {preset!r}; choose from {', '.join(PRESETS)}")
    if not 0 <= crf <= 51:
        raise SalcodecError(f"--crf must be within 0..51, got {crf}")
    params = parse_x264_params(x264_params)
    if roi_enabled:
        aq_mode = params.get("aq-mode")
        if aq_mode == "0":
            raise SalcodecError(
                "x264 aq-mode=0 makes libx264 ignore the saliency offsets; use aq-mode=1 "
                "(with aq-strength=0 to disable variance AQ) or pass --no-saliency"
            )
        if aq_mode is None and preset == "ultrafast":
            warnings.warn("preset ultrafast turns adaptive quantisation off, which drops the "
                          "saliency offsets; setting aq-mode=1", SalcodecWarning, stacklevel=2)
            params["aq-mode"] = "1"
        mbtree_off = (preset in ("ultrafast", "superfast") and params.get("mbtree") != "1"
                      or params.get("mbtree") == "0" or params.get("no-mbtree") == "1"
                      or params.get("rc-lookahead") == "0")
        if _float(params.get("aq-strength", "1")) == 0 and mbtree_off:
            raise SalcodecError(
                "x264 aq-strength=0 without MB-tree makes libx264 ignore the saliency "
                "offsets; keep MB-tree on or use a small aq-strength such as 0.1"
            )
    opts = {"crf": f"{crf:g}", "preset": preset}
    if params:
        opts["x264-params"] = ":".join(f"{k}={v}" for k, v in params.items())
    return opts


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise SalcodecError(f"x264 parameter value {text!r} is not a number") from None


def add_h264_stream(container: av.container.OutputContainer, width: int, height: int,
                    rate: Fraction | None, time_base: Fraction | None, *, crf: float = 23,
                    preset: str = "medium", x264_params: str | None = None,
                    roi_enabled: bool = True):
    """Add a libx264 yuv420p stream (even size) to an output container you own."""
    width, height = even_size(width, height)
    stream = container.add_stream("libx264", rate=rate or Fraction(25))
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    if time_base:
        # Keep the input's time base so variable-rate timestamps survive exactly.
        stream.time_base = time_base
        stream.codec_context.time_base = time_base
    if rate:
        stream.codec_context.framerate = rate
    stream.options = x264_options(crf, preset, x264_params, roi_enabled)
    # PyAV asks for slice threads; x264 and the ffmpeg CLI default to frame
    # threads, which compress better and were faster here (measured on 720p).
    stream.codec_context.thread_type = "FRAME"
    return stream


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


class OffsetMapper:
    """Saliency model + pooling + mapping + smoothing: one RGB frame -> MB offsets.

    Parameters
    ----------
    width, height : int
        Coded frame size.
    model : str or SaliencyModel
        Saliency model (fresh instance per video: it may keep temporal state).
    strength, clamp : float
        See :func:`salcodec.qpmap.importance_to_offsets`.
    smoothing : float
        Temporal smoothing weight of the previous offsets, reset at scene cuts.
    bias : float
        QP added to every offset after smoothing (then clamped): the knob that
        bit-budget calibration turns (see :mod:`salcodec.budget`).
    """

    def __init__(self, width: int, height: int, model: str | SaliencyModel = "default",
                 strength: float = DEFAULT_STRENGTH, clamp: float = DEFAULT_CLAMP,
                 smoothing: float = 0.6, bias: float = 0.0) -> None:
        self.width, self.height = width, height
        self.model = get_model(model) if isinstance(model, str) else model
        self.strength, self.clamp, self.bias = strength, clamp, bias
        self.smoother = OffsetSmoother(smoothing)
        self.cuts = SceneCutDetector()
        self.analysis_size = analysis_size(width, height)

    def analysis_rgb(self, frame: av.VideoFrame) -> np.ndarray:
        return analysis_rgb(frame, *self.analysis_size)

    def offsets(self, rgb: np.ndarray) -> tuple[np.ndarray, bool]:
        """QP offsets (quantised to integers) for one analysis-size RGB frame, and cut flag."""
        if self.model.detects_cuts:
            sal = self.model(rgb)
            cut = self.model.last_cut
        else:
            cut = self.cuts.update(rgb)
            if cut:
                self.model.reset()
            sal = self.model(rgb)
        if cut:
            self.smoother.reset()
        importance = pool_to_macroblocks(sal, self.width, self.height)
        off = self.smoother.update(importance_to_offsets(importance, self.strength, self.clamp))
        if self.bias:
            off = np.clip(off + self.bias, -self.clamp, self.clamp)
        return quantize_offsets(off), cut

    def __call__(self, frame: av.VideoFrame) -> tuple[np.ndarray, bool]:
        return self.offsets(self.analysis_rgb(frame))

    def job(self, frame: av.VideoFrame) -> tuple[np.ndarray, bytes, bool]:
        """Worker-thread job: offsets, the packed ROI records and the cut flag."""
        from .regions import roi_payload  # numba: loaded only when saliency is on

        offsets, cut = self(frame)
        return offsets, roi_payload(offsets, self.width, self.height), cut


def analysis_size(width: int, height: int) -> tuple[int, int]:
    """Resolution the saliency model sees: about 4 px per macroblock, long side >= 256."""
    mb_h, mb_w = macroblock_grid(width, height)
    scale = max(4 * mb_w / width, 256 / max(width, height))
    scale = min(scale, 1.0)
    return max(2, round(width * scale)), max(2, round(height * scale))


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
    model, strength, clamp, smoothing, bias
        See :class:`OffsetMapper`.
    enabled : bool
        False encodes plainly (no saliency, no ROI): the baseline arm.
    lookahead : int
        Frames whose saliency may be in flight in the worker thread.
    """

    def __init__(self, stream, *, model: str | SaliencyModel = "default",
                 strength: float = DEFAULT_STRENGTH, clamp: float = DEFAULT_CLAMP,
                 smoothing: float = 0.6, bias: float = 0.0, enabled: bool = True,
                 lookahead: int = 3) -> None:
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
                                        smoothing, bias)
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
