"""Motion saliency from dense optical flow, with camera motion taken out.

Moving things attract gaze in video, but when the camera pans *everything*
moves. The flow between consecutive frames (OpenCV's DIS, ultrafast preset,
on a small grey frame) is fitted with a global affine motion model by least
squares, refitted once on the best-fitting half of the pixels so that a
moving object does not drag the fit; what the camera model does not explain
(the residual flow magnitude) is the saliency.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from .base import PairwiseModel, downscale


def dense_flow(prev_gray: np.ndarray, gray: np.ndarray) -> np.ndarray:
    """Dense flow (H, W, 2) in pixels from ``prev_gray`` to ``gray`` (uint8)."""
    if prev_gray.shape != gray.shape:
        raise ValueError(f"frame shapes differ: {prev_gray.shape} vs {gray.shape}")
    if min(gray.shape) < 8:
        # DIS needs a few pixels of support per patch; tiny frames: no motion.
        return np.zeros((*gray.shape, 2), dtype=np.float32)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
    return dis.calc(prev_gray, gray, None)


@functools.lru_cache(maxsize=8)
def _affine_design(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    # Rows [x, y, 1] (long side scaled to 1) and their pseudo-inverse, per size.
    yy, xx = np.indices((h, w), dtype=np.float64)
    scale = float(max(h, w))
    design = np.stack([xx.ravel() / scale, yy.ravel() / scale, np.ones(h * w)], 1)
    return design, np.linalg.pinv(design)


def compensate_camera(flow: np.ndarray) -> np.ndarray:
    """Residual flow after removing the best global affine motion.

    Parameters
    ----------
    flow : ndarray, shape (H, W, 2)
        Dense flow (dx, dy).

    Returns
    -------
    ndarray, shape (H, W, 2), float32
        ``flow - A [x, y, 1]`` with ``A`` fitted by least squares, then
        refitted on the half of pixels with the smallest residual.
    """
    flow = np.asarray(flow, dtype=np.float32)
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f"flow must have shape (H, W, 2), got {flow.shape}")
    h, w = flow.shape[:2]
    design, pinv = _affine_design(h, w)
    target = flow.reshape(-1, 2).astype(np.float64)
    resid = target - design @ (pinv @ target)
    # Squared residuals: the same half of the pixels as their norms, no square root.
    sq = np.einsum("ij,ij->i", resid, resid)
    inliers = sq <= np.median(sq)
    if np.count_nonzero(inliers) < 3:
        return resid.reshape(h, w, 2).astype(np.float32)
    d, t = design[inliers], target[inliers]
    try:
        # Normal equations (3 unknowns per axis): lstsq's fit within float64
        # rounding at a fraction of its cost (this runs on every analysed frame).
        coef = np.linalg.solve(d.T @ d, d.T @ t)
    except np.linalg.LinAlgError:  # inliers on one line: lstsq's minimum-norm fit
        coef, *_ = np.linalg.lstsq(d, t, rcond=None)
    return (target - design @ coef).reshape(h, w, 2).astype(np.float32)


#: Long side of the frames the optical flow sees (object motion is coarse).
FLOW_SIDE = 64


def motion_saliency(
    prev_gray: np.ndarray, gray: np.ndarray, blur_sigma: float = 0.02,
    flow_side: int = FLOW_SIDE,
) -> np.ndarray:
    """Camera-compensated motion magnitude, blurred, at the size of ``gray``.

    The flow is computed on frames shrunk to ``flow_side`` (object motion is
    coarse) and its magnitude is given in pixels of ``gray``.
    """
    return residual_motion(downscale(prev_gray, flow_side), downscale(gray, flow_side),
                           gray.shape, blur_sigma)


def residual_motion(small_prev: np.ndarray, small: np.ndarray, shape: tuple[int, int],
                    blur_sigma: float = 0.02) -> np.ndarray:
    """:func:`motion_saliency` from the two frames already shrunk (a caller may keep one).

    Parameters
    ----------
    small_prev, small : ndarray, shape (h, w), uint8
        The previous and current grey frames at the flow's size.
    shape : (int, int)
        Size (H, W) of the returned map; the magnitude is in its pixels.
    blur_sigma : float
        Blur of the magnitude, a fraction of the flow frame's long side.
    """
    h, w = int(shape[0]), int(shape[1])
    resid = compensate_camera(dense_flow(small_prev, small))
    mag = np.sqrt(resid[..., 0] ** 2 + resid[..., 1] ** 2) * (w / small.shape[1])
    mag = cv2.GaussianBlur(mag, (0, 0), max(blur_sigma * max(small.shape), 0.5))
    return cv2.resize(mag, (w, h), interpolation=cv2.INTER_LINEAR) if mag.shape != (h, w) else mag


class MotionModel(PairwiseModel):
    """Object motion against the camera: zero on the first frame after a reset."""

    name = "motion"

    def features(self, image: np.ndarray) -> np.ndarray:
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)

    def compare(self, prev: np.ndarray, cur: np.ndarray) -> np.ndarray:
        return motion_saliency(prev, cur)
