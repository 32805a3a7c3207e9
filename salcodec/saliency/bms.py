"""Boolean map saliency, BMS (Zhang & Sclaroff, ICCV 2013).

Figures are *surrounded*: a region that does not touch the frame border
after thresholding is likely an object someone looks at. Each Lab channel
is thresholded at ``n_thresholds`` evenly spaced levels; for every boolean
map and its complement, the pixels connected (4-neighbourhood) to the border
are removed, what remains is dilated by one pixel and L2-normalised, and all
these attention maps are summed, then blurred.

The flood fill is a numba kernel (:func:`bms_attention_numba`); the numpy
reference (:func:`bms_attention_reference`) finds the border-touching parts
with OpenCV's connected-component labelling instead, an independent
algorithm.
"""

from __future__ import annotations

import cv2
import numba
import numpy as np

from .base import SaliencyModel, validate_rgb


@numba.njit(cache=True, nogil=True)
def _surrounded(mask: np.ndarray, stack: np.ndarray) -> np.ndarray:
    # Clear the mask's pixels reachable from the border (4-connected), in place
    # on a copy; ``stack`` is scratch space of H*W int32.
    h, w = mask.shape
    out = mask.copy()
    top = 0
    for y in range(h):
        for x in range(w):
            if (y == 0 or x == 0 or y == h - 1 or x == w - 1) and out[y, x]:
                out[y, x] = 0
                stack[top] = y * w + x
                top += 1
    while top > 0:
        top -= 1
        p = stack[top]
        y, x = p // w, p % w
        if y > 0 and out[y - 1, x]:
            out[y - 1, x] = 0
            stack[top] = p - w
            top += 1
        if y < h - 1 and out[y + 1, x]:
            out[y + 1, x] = 0
            stack[top] = p + w
            top += 1
        if x > 0 and out[y, x - 1]:
            out[y, x - 1] = 0
            stack[top] = p - 1
            top += 1
        if x < w - 1 and out[y, x + 1]:
            out[y, x + 1] = 0
            stack[top] = p + 1
            top += 1
    return out


@numba.njit(cache=True, nogil=True)
def _accumulate(acc: np.ndarray, surrounded: np.ndarray, rows: np.ndarray) -> None:
    # acc += dilate3x3(surrounded) / ||dilate3x3(surrounded)||_2, the 3x3
    # dilation done separably (rows, then columns); ``rows`` is scratch.
    h, w = surrounded.shape
    any_on = False
    for y in range(h):
        for x in range(w):
            v = surrounded[y, x]
            if x > 0 and surrounded[y, x - 1]:
                v = 1
            if x < w - 1 and surrounded[y, x + 1]:
                v = 1
            rows[y, x] = v
            if v:
                any_on = True
    if not any_on:
        return
    count = 0
    for y in range(h):
        for x in range(w):
            v = rows[y, x]
            if y > 0 and rows[y - 1, x]:
                v = 1
            if y < h - 1 and rows[y + 1, x]:
                v = 1
            surrounded[y, x] = v  # reuse as the dilated map
            count += v
    scale = np.float32(1.0 / np.sqrt(count))  # L2 norm of a 0/1 map
    for y in range(h):
        for x in range(w):
            if surrounded[y, x]:
                acc[y, x] += scale


@numba.njit(cache=True, nogil=True)
def bms_attention_numba(channels: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Summed attention maps of thresholded channels (before the final blur).

    Parameters
    ----------
    channels : ndarray, shape (C, H, W), float32
        Feature channels (e.g. Lab).
    thresholds : ndarray, shape (C, T), float32
        Thresholds per channel; a boolean map is ``channel > threshold``.

    Returns
    -------
    ndarray, shape (H, W), float32
    """
    n_ch, h, w = channels.shape
    acc = np.zeros((h, w), dtype=np.float32)
    stack = np.empty(h * w, dtype=np.int32)
    mask = np.empty((h, w), dtype=np.uint8)
    inv = np.empty((h, w), dtype=np.uint8)
    rows = np.empty((h, w), dtype=np.uint8)
    for c in range(n_ch):
        for t in range(thresholds.shape[1]):
            th = thresholds[c, t]
            for y in range(h):
                for x in range(w):
                    b = channels[c, y, x] > th
                    mask[y, x] = b
                    inv[y, x] = not b
            _accumulate(acc, _surrounded(mask, stack), rows)
            _accumulate(acc, _surrounded(inv, stack), rows)
    return acc


def bms_attention_reference(channels: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Numpy/OpenCV reference of :func:`bms_attention_numba` (connected components)."""
    channels = np.asarray(channels, dtype=np.float32)
    acc = np.zeros(channels.shape[1:], dtype=np.float64)
    for c, ch in enumerate(channels):
        for th in thresholds[c]:
            b = (ch > th).astype(np.uint8)
            for bm in (b, 1 - b):
                _, labels = cv2.connectedComponents(bm, connectivity=4)
                border = np.unique(np.concatenate(
                    [labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
                surrounded = (bm > 0) & ~np.isin(labels, border[border > 0])
                a = cv2.dilate(surrounded.astype(np.uint8), np.ones((3, 3), np.uint8),
                               borderType=cv2.BORDER_CONSTANT, borderValue=0)
                norm = np.sqrt(a.sum())
                if norm > 0:
                    acc += a / norm
    return acc.astype(np.float32)


def bms_saliency(image: np.ndarray, n_thresholds: int = 6, blur_sigma: float = 0.03) -> np.ndarray:
    """BMS saliency of an RGB uint8 image: raw float32 (H, W) map.

    Parameters
    ----------
    image : ndarray, shape (H, W, 3), uint8
    n_thresholds : int
        Thresholds per Lab channel, evenly spaced strictly inside its range.
    blur_sigma : float
        Gaussian blur of the summed attention, as a fraction of the long side.
    """
    image = validate_rgb(image)
    if n_thresholds < 1:
        raise ValueError(f"n_thresholds must be >= 1, got {n_thresholds}")
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2Lab)
    channels = np.ascontiguousarray(lab.transpose(2, 0, 1), dtype=np.float32)
    lo = channels.reshape(3, -1).min(axis=1)
    hi = channels.reshape(3, -1).max(axis=1)
    steps = np.arange(1, n_thresholds + 1, dtype=np.float32) / (n_thresholds + 1)
    thresholds = (lo[:, None] + (hi - lo)[:, None] * steps[None, :]).astype(np.float32)
    acc = bms_attention_numba(channels, thresholds)
    return cv2.GaussianBlur(acc, (0, 0), max(blur_sigma * max(image.shape[:2]), 0.5))


class BMSModel(SaliencyModel):
    """Boolean map saliency (Zhang & Sclaroff 2013): surrounded regions draw the eye."""

    name = "bms"

    def __init__(self, analysis_side: int = 128, n_thresholds: int = 6) -> None:
        self.analysis_side = analysis_side
        self.n_thresholds = n_thresholds

    def compute(self, image: np.ndarray) -> np.ndarray:
        return bms_saliency(image, self.n_thresholds)
