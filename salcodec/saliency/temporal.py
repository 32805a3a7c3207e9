"""Temporal cues: what changed since the previous frame.

* ``temporal``: contrast of the current frame's regions against the previous
  frame's regions, with the region-contrast kernel of :mod:`.region`. Regions
  are cells of a regular grid (cheap and the same from frame to frame) and
  the spatial falloff is tight (``sigma_s^2 = 0.05``), so a region scores
  high when nothing of its colour was near it a frame ago: appearing,
  moving or changing things. Static content scores its (small) local
  contrast only; that part is subtracted as the current frame's contrast
  against itself, so the cue is zero on a still.
* ``saldiff``: the absolute difference of consecutive maps of a static model
  (HC by default): where saliency itself appears or vanishes.

Both are zero on the first frame after :meth:`reset`.
"""

from __future__ import annotations

import cv2
import numpy as np

from .base import PairwiseModel, normalize_map
from .hc import hc_saliency
from .region import cross_region_contrast_numba, to_lab

TEMPORAL_SIGMA_S2 = 0.05


def grid_regions(image: np.ndarray, cell: int = 8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean Lab (n, 3), centre (n, 2; long side 1) and weight (n,) of grid cells.

    The grid has ``ceil(H / cell) x ceil(W / cell)`` cells (at least 1 x 1).
    """
    h, w = image.shape[:2]
    gh, gw = max(1, -(-h // cell)), max(1, -(-w // cell))
    lab = cv2.resize(to_lab(image), (gw, gh), interpolation=cv2.INTER_AREA).reshape(-1, 3)
    yy, xx = np.indices((gh, gw), dtype=np.float32)
    pos = np.stack([(yy.ravel() + 0.5) * h / gh, (xx.ravel() + 0.5) * w / gw], 1) / max(h, w)
    weight = np.full(gh * gw, 1.0 / (gh * gw), dtype=np.float32)
    return np.ascontiguousarray(lab, dtype=np.float32), pos.astype(np.float32), weight


def temporal_contrast(
    image: np.ndarray, previous: np.ndarray, cell: int = 8, sigma2: float = TEMPORAL_SIGMA_S2
) -> np.ndarray:
    """Contrast of ``image``'s grid regions against ``previous``'s, minus self-contrast.

    Both are RGB uint8 of the same shape; returns float32 (H, W) >= 0.
    """
    if image.shape != previous.shape:
        raise ValueError(f"frame shapes differ: {image.shape} vs {previous.shape}")
    h, w = image.shape[:2]
    lab, pos, weight = grid_regions(image, cell)
    lab_p, pos_p, weight_p = grid_regions(previous, cell)
    cross = cross_region_contrast_numba(lab, pos, lab_p, pos_p, weight_p, sigma2)
    self_ = cross_region_contrast_numba(lab, pos, lab, pos, weight, sigma2)
    gh, gw = max(1, -(-h // cell)), max(1, -(-w // cell))
    cells = np.maximum(cross - self_, 0).reshape(gh, gw)
    return cv2.resize(cells, (w, h), interpolation=cv2.INTER_LINEAR)


class TemporalContrastModel(PairwiseModel):
    """Regions that differ from the previous frame's regions nearby."""

    name = "temporal"

    def __init__(self, analysis_side: int = 128, cell: int = 8) -> None:
        super().__init__(analysis_side)
        self.cell = cell

    def compare(self, prev: np.ndarray, cur: np.ndarray) -> np.ndarray:
        return temporal_contrast(cur, prev, self.cell)


class SaliencyDifferenceModel(PairwiseModel):
    """|S_t - S_(t-1)| of the HC map: where saliency appears or vanishes."""

    name = "saldiff"

    def features(self, image: np.ndarray) -> np.ndarray:
        return normalize_map(hc_saliency(image))

    def compare(self, prev: np.ndarray, cur: np.ndarray) -> np.ndarray:
        return np.abs(cur - prev)
