"""The numba flood fill that ``salcodec.saliency.bms`` used until it moved to OpenCV.

Kept only for the tests (moved, not copied): :func:`bms_attention_numba` is
the former production kernel, and ``bms.bms_attention`` must equal it bit for
bit, so the default model's maps did not change with the move.
"""

from __future__ import annotations

import numba
import numpy as np


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
