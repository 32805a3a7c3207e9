"""Priors on where people look regardless of content: the frame centre, faces.

* Centre bias: viewers look at the middle of a frame first and most; a
  Gaussian stretched to the frame's aspect ratio alone beats many bottom-up
  models. Its width (``CENTRE_SIGMA`` = 0.2 of each side) is the value that
  scored best on mit1003-100 among 0.15-0.35.
* Faces draw gaze strongly. Detection is MediaPipe's BlazeFace
  (:mod:`.blazeface`); video callers reuse detections for several frames.
  (OpenCV 5 wheels no longer ship the Haar cascades; scikit-image's LBP
  cascade, used before, found fewer than half the faces on mit1003-100.)
"""

from __future__ import annotations

import numpy as np

from .base import DetectorModel, SaliencyModel
from .blazeface import BlazeFace

#: Centre-bias Gaussian sigma as a fraction of each side.
CENTRE_SIGMA = 0.2
#: Face Gaussian sigma as a fraction of the face box's width (BlazeFace boxes
#: span brows to chin; 0.4 scored above 0.6 on mit1003-100, docs/saliency.md).
FACE_SIGMA = 0.4


def centre_prior(shape: tuple[int, int], sigma: float = CENTRE_SIGMA) -> np.ndarray:
    """Gaussian centred in a frame of ``shape`` = (H, W), sigma a fraction of each side.

    Returns a float32 map with peak 1 (at the centre for odd sizes).
    """
    h, w = int(shape[0]), int(shape[1])
    if h < 1 or w < 1:
        raise ValueError(f"shape must be positive, got {shape}")
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    y = (np.arange(h, dtype=np.float32) - (h - 1) / 2) / (sigma * h)
    x = (np.arange(w, dtype=np.float32) - (w - 1) / 2) / (sigma * w)
    # Separable: exp(-(x^2 + y^2) / 2) = outer product of two 1-D Gaussians.
    return np.outer(np.exp(-0.5 * y * y), np.exp(-0.5 * x * x)).astype(np.float32)


class CentreModel(SaliencyModel):
    """The centre-bias baseline: a Gaussian blob, the same for every frame."""

    name = "centre"

    def __init__(self, sigma: float = CENTRE_SIGMA) -> None:
        self.sigma = sigma
        self.analysis_side = 64

    def compute(self, image: np.ndarray) -> np.ndarray:
        return centre_prior(image.shape[:2], self.sigma)


def face_map(
    shape: tuple[int, int], boxes: np.ndarray, sigma_scale: float = FACE_SIGMA
) -> np.ndarray:
    """Gaussians on face boxes in a frame of ``shape`` (H, W): float32, peak 1.

    Parameters
    ----------
    shape : (int, int)
        Frame height and width.
    boxes : ndarray, shape (n, 4)
        Faces as x, y, w, h in the frame's pixels (extra columns are ignored).
    sigma_scale : float
        Gaussian sigma as a fraction of each box's width.

    Each face becomes a Gaussian a little above the box centre (gaze goes to
    the eyes); overlapping faces combine by maximum.
    """
    h, w = int(shape[0]), int(shape[1])
    out = np.zeros((h, w), dtype=np.float32)
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.size == 0:
        return out
    ys = np.arange(h, dtype=np.float32)
    xs = np.arange(w, dtype=np.float32)
    for x, y, bw, bh in boxes.reshape(len(boxes), -1)[:, :4]:
        if bw <= 0 or bh <= 0:
            continue
        cx, cy, s = x + bw / 2, y + 0.4 * bh, max(bw * sigma_scale, 0.5)
        g = np.outer(np.exp(-0.5 * ((ys - cy) / s) ** 2), np.exp(-0.5 * ((xs - cx) / s) ** 2))
        np.maximum(out, g.astype(np.float32), out=out)
    return out


def relative_faces(detector: BlazeFace, image: np.ndarray) -> np.ndarray:
    """Faces of an RGB frame as fractions of its size: float array (n, 4) of x, y, w, h."""
    h, w = image.shape[:2]
    return detector.detect(image)[:, :4] / np.array([w, h, w, h], dtype=np.float64)


class FaceModel(DetectorModel):
    """Faces only: a map of Gaussians on detected faces."""

    name = "faces"

    def __init__(self) -> None:
        self.detector = BlazeFace()

    def detect(self, image: np.ndarray) -> np.ndarray:
        return relative_faces(self.detector, image)

    def draw(self, found: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        h, w = shape
        return face_map((h, w), found * np.array([w, h, w, h]))
