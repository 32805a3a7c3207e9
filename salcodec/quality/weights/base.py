"""The weight-source protocol: one non-negative map per compared frame."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ...errors import SalcodecError

if TYPE_CHECKING:
    from ..video import FramePair
    from .spec import WeightSpec

_IMAGE_EXT = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".pgm", ".webp"}


def is_image(path: str) -> bool:
    """Whether ``path`` names a still-image file (by its extension)."""
    return os.path.splitext(path)[1].lower() in _IMAGE_EXT


def resize(img: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize a map to (height, width): area averaging when shrinking, else bilinear."""
    if img.shape == (height, width):
        return img
    shrink = img.shape[0] > height or img.shape[1] > width
    # INTER_AREA averages when shrinking (no aliasing); linear when enlarging.
    interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    return cv2.resize(img, (width, height), interpolation=interp)


class WeightSource:
    """Produces one weight map per compared frame; see :meth:`WeightSpec.open`."""

    def __init__(self, spec: WeightSpec, width: int, height: int):
        self.spec = spec
        self.width = width
        self.height = height
        #: Frames where the map had no weight and uniform weights were used.
        self.uniform_frames = 0

    def raw(self, pair: FramePair) -> np.ndarray | None:
        """The map for one frame pair before the uniform fallback."""
        raise NotImplementedError

    def __call__(self, pair: FramePair) -> np.ndarray:
        """Weights for this pair: (H, W) float64, non-negative, positive sum."""
        w = self.raw(pair)
        if w is not None:
            w = np.asarray(w, dtype=np.float64)
            if w.shape != (self.height, self.width):
                raise SalcodecError(
                    f"weights {self.spec}: map shape {w.shape} differs from the frame "
                    f"({self.height}, {self.width})"
                )
            if not np.all(np.isfinite(w)) or (w < 0).any():
                raise SalcodecError(f"weights {self.spec}: map has negative or non-finite values")
        if w is None or not w.sum() > 0:
            self.uniform_frames += 1
            return np.ones((self.height, self.width))
        return w

    def describe(self) -> dict:
        """JSON-ready description (what, from where, computed on what)."""
        return {
            "spec": str(self.spec),
            "kind": self.spec.kind,
            "source": self.spec.target,
            "plane": "luma",
            "uniform_fallback_frames": self.uniform_frames,
        }

    def close(self) -> None:
        """Release files held open."""


class FunctionWeights(WeightSource):
    """Weights from a caller's function of the frame pair."""

    def raw(self, pair: FramePair) -> np.ndarray | None:
        return self.spec.function(pair)
