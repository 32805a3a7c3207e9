"""Histogram luminance contrast (the seed model).

SAL(I_k) = sum_n F_n |I_k - I_n| over the 256-bin luma histogram: a pixel is
salient when its luminance is rare. O(N) histogram, a 256x256 distance table,
then one lookup per pixel.
"""

from __future__ import annotations

import numba
import numpy as np

from .base import SaliencyModel

# BT.601 luma weights in 1/256 units, as integer arithmetic for a stable kernel.
_R, _G, _B = 77, 150, 29


@numba.njit(cache=True, nogil=True)
def _luma_histogram(rgb: np.ndarray, luma: np.ndarray, hist: np.ndarray) -> None:
    h, w = luma.shape
    for y in range(h):
        for x in range(w):
            v = (_R * np.int32(rgb[y, x, 0]) + _G * np.int32(rgb[y, x, 1])
                 + _B * np.int32(rgb[y, x, 2]) + 128) >> 8
            luma[y, x] = v
            hist[v] += 1


@numba.njit(cache=True, nogil=True)
def lc_saliency_numba(rgb: np.ndarray) -> np.ndarray:
    """Luminance-contrast saliency of an RGB uint8 frame (numba kernel)."""
    h, w = rgb.shape[0], rgb.shape[1]
    luma = np.empty((h, w), dtype=np.uint8)
    hist = np.zeros(256, dtype=np.int64)
    _luma_histogram(rgb, luma, hist)
    table = np.zeros(256, dtype=np.float32)
    for k in range(256):
        acc = 0.0
        for n in range(256):
            if hist[n]:
                acc += hist[n] * abs(k - n)
        table[k] = acc / (h * w)
    out = np.empty((h, w), dtype=np.float32)
    for y in range(h):
        for x in range(w):
            out[y, x] = table[luma[y, x]]
    return out


def luma_bt601(rgb: np.ndarray) -> np.ndarray:
    """Integer BT.601 luma, exactly as the kernel computes it."""
    rgb = rgb.astype(np.int32)
    return ((_R * rgb[..., 0] + _G * rgb[..., 1] + _B * rgb[..., 2] + 128) >> 8).astype(np.uint8)


def lc_saliency_reference(rgb: np.ndarray) -> np.ndarray:
    """Plain-numpy reference of :func:`lc_saliency_numba`."""
    luma = luma_bt601(rgb)
    freq = np.bincount(luma.ravel(), minlength=256) / luma.size
    levels = np.arange(256)
    table = (np.abs(levels[:, None] - levels[None, :]) * freq[None, :]).sum(axis=1)
    return table.astype(np.float32)[luma]


class LCModel(SaliencyModel):
    """Seed model: global luminance rarity. Fast, but not where people look."""

    name = "lc"

    def __init__(self, analysis_side: int | None = 256) -> None:
        # Luminance rarity needs no detail finer than a 256 px thumbnail, and
        # at that size a 720p frame costs a fraction of a millisecond.
        self.analysis_side = analysis_side

    def compute(self, image: np.ndarray) -> np.ndarray:
        return lc_saliency_numba(np.ascontiguousarray(image))
