"""The one protocol every saliency model follows.

A model is called once per frame with an RGB ``uint8`` array of shape
``(H, W, 3)`` and returns a ``float32`` map of shape ``(H, W)`` with values in
``[0, 1]`` (higher = more likely to be looked at). Models may keep temporal
state between calls; :meth:`SaliencyModel.reset` forgets it (a new video, a
scene cut). Models work at whatever size they are given: callers choose the
analysis resolution (the encoder feeds a few pixels per macroblock).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np


def validate_rgb(image: np.ndarray) -> np.ndarray:
    """Check that ``image`` is an RGB uint8 array of shape (H, W, 3)."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise TypeError(f"expected a uint8 image, got dtype {image.dtype}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an RGB image of shape (H, W, 3), got {image.shape}")
    if image.shape[0] < 2 or image.shape[1] < 2:
        raise ValueError(f"image too small for saliency: {image.shape[:2]}")
    return image


def normalize_map(raw: np.ndarray) -> np.ndarray:
    """Scale a map linearly to [0, 1] as float32; a flat map becomes all zeros."""
    raw = np.asarray(raw, dtype=np.float32)
    lo = float(raw.min())
    hi = float(raw.max())
    if not np.isfinite(lo) or not np.isfinite(hi) or hi - lo <= 1e-12:
        return np.zeros(raw.shape, dtype=np.float32)
    return ((raw - lo) / (hi - lo)).astype(np.float32, copy=False)


class SaliencyModel(ABC):
    """Base class of saliency models: ``model(rgb) -> float32 map in [0, 1]``."""

    #: Name used on the command line (``--model NAME``).
    name: ClassVar[str] = ""
    #: True when the model keeps state across frames.
    temporal: ClassVar[bool] = False

    def __call__(self, image: np.ndarray) -> np.ndarray:
        image = validate_rgb(image)
        out = normalize_map(self.compute(image))
        if out.shape != image.shape[:2]:
            raise RuntimeError(
                f"model {self.name!r} returned shape {out.shape}, expected {image.shape[:2]}"
            )
        return out

    @abstractmethod
    def compute(self, image: np.ndarray) -> np.ndarray:
        """Return the raw (unnormalised) map of a validated RGB frame."""

    def reset(self) -> None:
        """Forget temporal state (new video or scene cut)."""
