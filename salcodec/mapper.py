"""Per-frame analysis: frame -> saliency -> macroblock importance -> QP offsets.

Runs in the encoder's worker thread (see :mod:`salcodec.encoder`).
"""

from __future__ import annotations

import av
import numpy as np

from .conform import analysis_rgb
from .mbmap import macroblock_grid, pool_to_macroblocks
from .qpmap import (
    ANCHOR_SHARPNESS,
    DEFAULT_CLAMP,
    DEFAULT_STRENGTH,
    OffsetSmoother,
    importance_to_offsets,
    quantize_offsets,
)
from .saliency import SaliencyModel, get_model
from .scenecut import SceneCutDetector


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
    anchor, sharpness
        Which weighted mean of each frame's offsets is zero (see
        :func:`salcodec.qpmap.importance_to_offsets`).
    """

    def __init__(self, width: int, height: int, model: str | SaliencyModel = "default",
                 strength: float = DEFAULT_STRENGTH, clamp: float = DEFAULT_CLAMP,
                 smoothing: float = 0.6, bias: float = 0.0, anchor: str = "mean",
                 sharpness: float = ANCHOR_SHARPNESS) -> None:
        self.width, self.height = width, height
        self.model = get_model(model) if isinstance(model, str) else model
        self.strength, self.clamp, self.bias = strength, clamp, bias
        self.anchor, self.sharpness = anchor, sharpness
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
        off = self.smoother.update(importance_to_offsets(
            importance, self.strength, self.clamp, anchor=self.anchor, sharpness=self.sharpness))
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
