"""Scene-cut detection, so temporal state (smoothing, motion) never crosses a cut.

Consecutive frames are compared as 16x9 grey thumbnails (mean absolute
difference above ``max_diff`` grey levels) and as 64-bin colour histograms
(intersection below ``min_intersection``); either counts as a cut. On the
bikes clip (../shared/data/video) its five cuts differ by 38-77 grey levels,
camera motion within a shot by at most 17, a fixed-camera traffic clip by at
most 8: hence 30.

The encoder runs the detector on every frame, so it also works from a
point-sampled thumbnail of the 4:2:0 planes (:func:`yuv_thumbnail`, a few
microseconds) instead of a properly filtered downscale: a 16x9 mean and a
64-bin histogram barely notice the aliasing.
"""

from __future__ import annotations

import cv2
import numpy as np

CUT_DIFF = 30.0
CUT_INTERSECTION = 0.5


def histogram_intersection(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection of two histograms normalised to sum 1: 1 identical, 0 disjoint."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"histogram shapes differ: {a.shape} vs {b.shape}")
    sa, sb = a.sum(), b.sum()
    if sa <= 0 or sb <= 0:
        return 1.0 if sa == sb else 0.0
    return float(np.minimum(a / sa, b / sb).sum())


def colour_histogram(image: np.ndarray) -> np.ndarray:
    """64-bin histogram of an RGB uint8 image (4 levels per channel)."""
    q = image >> 6
    index = (q[..., 0].astype(np.int32) * 4 + q[..., 1]) * 4 + q[..., 2]
    return np.bincount(index.ravel(), minlength=64).astype(np.float64)


def cut_signature(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What is compared between frames: (16x9 grey thumbnail, colour histogram)."""
    gray = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
    thumb = cv2.resize(gray, (16, 9), interpolation=cv2.INTER_AREA).astype(np.float32)
    return thumb, colour_histogram(image)


def yuv_thumbnail(y: np.ndarray, u: np.ndarray, v: np.ndarray,
                  long_side: int = 160) -> np.ndarray:
    """A small RGB uint8 image from 8-bit 4:2:0 planes, by point sampling.

    Every ``s``-th luma sample and every ``s/2``-th chroma sample, ``s`` even
    and the smallest that brings the long side to at most ``long_side``;
    BT.601 conversion as :func:`salcodec.io.conform.analysis_rgb`.

    Parameters
    ----------
    y, u, v : ndarray
        Luma plane (H, W) and chroma planes (ceil(H/2), ceil(W/2)), uint8.
    long_side : int
        Largest long side of the thumbnail.
    """
    h, w = y.shape
    step = max(2, 2 * -(-max(h, w) // (2 * long_side)))
    ys = y[::step, ::step]
    us, vs = u[::step // 2, ::step // 2], v[::step // 2, ::step // 2]
    th, tw = (min(a.shape[0] for a in (ys, us, vs)), min(a.shape[1] for a in (ys, us, vs)))
    yuv = cv2.merge([np.ascontiguousarray(a[:th, :tw]) for a in (ys, us, vs)])
    return cv2.cvtColor(yuv, cv2.COLOR_YUV2RGB)


class SceneCutDetector:
    """Feed frames in order; :meth:`update` says whether each one starts a new shot.

    A change of frame size also counts as a cut.
    """

    def __init__(self, max_diff: float = CUT_DIFF,
                 min_intersection: float = CUT_INTERSECTION) -> None:
        self.max_diff = max_diff
        self.min_intersection = min_intersection
        self.cuts = 0  # cuts seen so far
        self._prev: tuple[np.ndarray, np.ndarray] | None = None
        self._shape: tuple[int, ...] | None = None

    def reset(self) -> None:
        """Forget the previous frame (a new video)."""
        self._prev = None
        self._shape = None

    def update(self, rgb: np.ndarray) -> bool:
        """Feed the next RGB uint8 frame; True when it starts a new shot."""
        sig = cut_signature(rgb)
        prev, shape = self._prev, self._shape
        self._prev, self._shape = sig, rgb.shape
        if prev is None:
            return False
        cut = (shape != rgb.shape or float(np.abs(sig[0] - prev[0]).mean()) > self.max_diff
               or histogram_intersection(sig[1], prev[1]) < self.min_intersection)
        self.cuts += cut
        return cut
