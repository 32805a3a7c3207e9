"""Scene-cut detection on small frames, so temporal smoothing does not cross a cut."""

from __future__ import annotations

import numpy as np


class SceneCutDetector:
    """Flags a cut when the luma histogram changes sharply between frames.

    Uses the total-variation distance of 32-bin luma histograms (0 = same,
    1 = disjoint); ``threshold`` 0.5 flags hard cuts but not pans or fades of
    a few frames.
    """

    def __init__(self, threshold: float = 0.5, bins: int = 32) -> None:
        self.threshold = threshold
        self.bins = bins
        self._prev: np.ndarray | None = None

    def reset(self) -> None:
        self._prev = None

    def update(self, rgb: np.ndarray) -> bool:
        """Feed the next RGB frame; True when it starts a new scene."""
        luma = rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
        hist = np.histogram(luma, bins=self.bins, range=(0, 256))[0].astype(np.float64)
        hist /= max(hist.sum(), 1.0)
        prev, self._prev = self._prev, hist
        if prev is None:
            return False
        return 0.5 * float(np.abs(hist - prev).sum()) > self.threshold
