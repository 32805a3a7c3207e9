"""Priors on where people look regardless of content: the frame centre, faces.

* Centre bias: viewers look at the middle of a frame first and most; a
  Gaussian stretched to the frame's aspect ratio alone beats many bottom-up
  models. Its width (``CENTRE_SIGMA`` = 0.2 of each side) is the value that
  scored best on mit1003-100 among 0.15-0.35.
* Faces draw gaze strongly. Detection uses OpenCV's Haar cascade
  (``cv2.data.haarcascades``) when this OpenCV ships it; OpenCV 5 wheels do
  not (the folder is empty), and then scikit-image's bundled LBP frontal-face
  cascade (trained by OpenCV) is used instead. Either runs on a small grey
  thumbnail; video callers reuse detections for several frames.
"""

from __future__ import annotations

import os

import cv2
import numpy as np

from .base import SaliencyModel, downscale, validate_rgb

#: Centre-bias Gaussian sigma as a fraction of each side.
CENTRE_SIGMA = 0.2


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


class FaceDetector:
    """Frontal faces in an RGB frame, as boxes (x, y, w, h) in its pixels.

    Parameters
    ----------
    side : int
        Long side of the grey thumbnail the detector runs on; faces smaller
        than about ``min_size / side`` of the frame are missed.
    min_size : int
        Smallest face, in thumbnail pixels.
    """

    def __init__(self, side: int = 192, min_size: int = 20) -> None:
        self.side = side
        self.min_size = min_size
        haar_dir = getattr(getattr(cv2, "data", None), "haarcascades", "")
        haar = os.path.join(haar_dir, "haarcascade_frontalface_default.xml")
        if hasattr(cv2, "CascadeClassifier") and os.path.isfile(haar):
            self.backend = "opencv-haar"
            self._cv = cv2.CascadeClassifier(haar)
        else:
            from skimage.data import lbp_frontal_face_cascade_filename
            from skimage.feature import Cascade

            self.backend = "skimage-lbp"
            self._sk = Cascade(lbp_frontal_face_cascade_filename())

    def detect(self, image: np.ndarray) -> np.ndarray:
        """Face boxes of an RGB uint8 frame: int array (n, 4) of x, y, w, h."""
        image = validate_rgb(image)
        small = downscale(image, self.side)
        gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        if min(gray.shape) < self.min_size:
            return np.zeros((0, 4), dtype=np.int32)
        if self.backend == "opencv-haar":
            boxes = np.asarray(
                self._cv.detectMultiScale(
                    gray, scaleFactor=1.1, minNeighbors=4, minSize=(self.min_size,) * 2
                ),
                dtype=np.float64,
            ).reshape(-1, 4)
        else:
            found = self._sk.detect_multi_scale(
                img=gray.astype(np.float32) / 255.0,
                scale_factor=1.2,
                step_ratio=1,
                min_size=(self.min_size, self.min_size),
                max_size=gray.shape,
                min_neighbor_number=4,  # 2-3 let windows and foliage through
            )
            boxes = np.array(
                [[f["c"], f["r"], f["width"], f["height"]] for f in found], dtype=np.float64
            ).reshape(-1, 4)
        scale = image.shape[1] / gray.shape[1]
        return np.round(boxes * scale).astype(np.int32)


def face_map(shape: tuple[int, int], boxes: np.ndarray) -> np.ndarray:
    """Gaussians on face boxes in a frame of ``shape`` (H, W): float32, peak 1.

    Each face becomes a Gaussian of sigma half its width, a little above the
    box centre (gaze goes to the eyes); overlapping faces combine by maximum.
    """
    h, w = int(shape[0]), int(shape[1])
    out = np.zeros((h, w), dtype=np.float32)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    ys = np.arange(h, dtype=np.float32)
    xs = np.arange(w, dtype=np.float32)
    for x, y, bw, bh in boxes:
        if bw <= 0 or bh <= 0:
            continue
        cx, cy, s = x + bw / 2, y + 0.4 * bh, max(bw / 2, 0.5)
        g = np.outer(np.exp(-0.5 * ((ys - cy) / s) ** 2), np.exp(-0.5 * ((xs - cx) / s) ** 2))
        np.maximum(out, g.astype(np.float32), out=out)
    return out


class FaceModel(SaliencyModel):
    """Faces only: a map of Gaussians on detected faces."""

    name = "faces"

    def __init__(self, side: int = 192) -> None:
        self.detector = FaceDetector(side)
        self.analysis_side = 128
        self._boxes: np.ndarray | None = None

    def __call__(self, image: np.ndarray) -> np.ndarray:
        image = validate_rgb(image)
        # Detect on the full frame (the detector makes its own thumbnail) and
        # keep boxes as fractions of the frame for the analysis-size map.
        h, w = image.shape[:2]
        self._boxes = self.detector.detect(image) / np.array([w, h, w, h], dtype=np.float64)
        try:
            return super().__call__(image)
        finally:
            self._boxes = None

    def compute(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        dims = np.array([w, h, w, h], dtype=np.float64)
        boxes = self._boxes if self._boxes is not None else self.detector.detect(image) / dims
        return face_map((h, w), boxes * dims)
