"""Global colour-histogram contrast, HC (Cheng et al., CVPR 2011).

A pixel is salient when its colour is far, in CIE Lab, from the colours that
cover most of the frame:

1. Quantise RGB to 12 levels per channel (1728 colours) and keep the most
   frequent colours that together cover 95 % of the pixels (at most
   ``max_colours``); every dropped colour joins its nearest kept colour.
2. ``S(c_l) = sum_j f_j D(c_l, c_j)`` with ``f_j`` the colour frequency and
   ``D`` the Lab distance.
3. Smooth between similar colours, so that quantisation does not split one
   surface into different saliencies: with ``T`` the summed distance to the
   ``m = n/4`` nearest colours, ``S'(c) = sum_i (T - D(c, c_i)) S(c_i) /
   ((m - 1) T)`` over those ``m`` colours.

The n x n colour loops are numba kernels (:func:`hc_colour_saliency_numba`)
with a numpy reference (:func:`hc_colour_saliency_reference`).
"""

from __future__ import annotations

import cv2
import numba
import numpy as np

from .base import SaliencyModel, validate_rgb

LEVELS = 12


def _bin_lab_table() -> np.ndarray:
    # Lab of each quantised RGB bin centre, L in [0, 100], a/b in about [-127, 127].
    centres = (np.arange(LEVELS) + 0.5) / LEVELS
    r, g, b = np.meshgrid(centres, centres, centres, indexing="ij")
    rgb = np.stack([r, g, b], axis=-1).reshape(1, -1, 3).astype(np.float32)
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab).reshape(-1, 3)


_BIN_LAB = _bin_lab_table()


@numba.njit(cache=True, nogil=True)
def hc_colour_saliency_numba(lab: np.ndarray, freq: np.ndarray, n_smooth: int) -> np.ndarray:
    """Contrast of each colour against all others, smoothed over its neighbours.

    Parameters
    ----------
    lab : ndarray, shape (n, 3), float32
        Lab colours.
    freq : ndarray, shape (n,), float32
        Their frequencies (summing to 1).
    n_smooth : int
        Number ``m`` of nearest colours (itself included) to smooth over.

    Returns
    -------
    ndarray, shape (n,), float32
    """
    n = lab.shape[0]
    dist = np.empty((n, n), dtype=np.float32)
    for i in range(n):
        for j in range(n):
            d0 = lab[i, 0] - lab[j, 0]
            d1 = lab[i, 1] - lab[j, 1]
            d2 = lab[i, 2] - lab[j, 2]
            dist[i, j] = np.sqrt(d0 * d0 + d1 * d1 + d2 * d2)
    sal = np.zeros(n, dtype=np.float32)
    for i in range(n):
        acc = np.float32(0.0)
        for j in range(n):
            acc += freq[j] * dist[i, j]
        sal[i] = acc
    m = min(max(n_smooth, 1), n)
    if m < 2:
        return sal
    out = np.empty(n, dtype=np.float32)
    for i in range(n):
        order = np.argsort(dist[i], kind="mergesort")  # stable, as the reference
        total = np.float32(0.0)
        for k in range(m):
            total += dist[i, order[k]]
        if total <= 0:
            out[i] = sal[i]
            continue
        acc = np.float32(0.0)
        for k in range(m):
            acc += (total - dist[i, order[k]]) * sal[order[k]]
        out[i] = acc / ((m - 1) * total)
    return out


def hc_colour_saliency_reference(lab: np.ndarray, freq: np.ndarray, n_smooth: int) -> np.ndarray:
    """Plain-numpy reference of :func:`hc_colour_saliency_numba`."""
    lab = np.asarray(lab, dtype=np.float64)
    dist = np.sqrt(((lab[:, None, :] - lab[None, :, :]) ** 2).sum(-1))
    sal = dist @ np.asarray(freq, dtype=np.float64)
    n = len(lab)
    m = min(max(n_smooth, 1), n)
    if m < 2:
        return sal.astype(np.float32)
    order = np.argsort(dist, axis=1, kind="stable")[:, :m]
    near = np.take_along_axis(dist, order, axis=1)
    total = near.sum(axis=1, keepdims=True)
    weights = np.where(total > 0, total - near, 0.0)
    smoothed = (weights * sal[order]).sum(axis=1) / np.maximum((m - 1) * total[:, 0], 1e-30)
    return np.where(total[:, 0] > 0, smoothed, sal).astype(np.float32)


def quantise_colours(
    image: np.ndarray, coverage: float = 0.95, max_colours: int = 256
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Quantise an RGB image to its few frequent colours.

    Returns
    -------
    index : ndarray, shape (H, W), int32
        Each pixel's colour index into ``lab``.
    lab : ndarray, shape (n, 3), float32
        Lab of the kept colours (bin centres).
    freq : ndarray, shape (n,), float32
        Fraction of pixels assigned to each kept colour (sums to 1).
    """
    image = validate_rgb(image)
    if not 0 < coverage <= 1:
        raise ValueError(f"coverage must be in (0, 1], got {coverage}")
    if max_colours < 1:
        raise ValueError(f"max_colours must be >= 1, got {max_colours}")
    q = (image.astype(np.int32) * LEVELS) >> 8
    bins = (q[..., 0] * LEVELS + q[..., 1]) * LEVELS + q[..., 2]
    hist = np.bincount(bins.ravel(), minlength=LEVELS**3)
    present = np.flatnonzero(hist)
    order = present[np.argsort(-hist[present], kind="stable")]
    cum = np.cumsum(hist[order])
    n_keep = int(np.searchsorted(cum, coverage * bins.size - 1e-9) + 1)
    n_keep = min(n_keep, max_colours, len(order))
    kept = order[:n_keep]
    lab = _BIN_LAB[kept]
    # Every present bin -> nearest kept colour (kept bins map to themselves).
    d = ((_BIN_LAB[present][:, None, :] - lab[None, :, :]) ** 2).sum(-1)
    lut = np.zeros(LEVELS**3, dtype=np.int32)
    lut[present] = np.argmin(d, axis=1)
    index = lut[bins]
    freq = np.bincount(index.ravel(), minlength=n_keep).astype(np.float32) / bins.size
    return index, lab.astype(np.float32), freq


def hc_saliency(image: np.ndarray, coverage: float = 0.95, max_colours: int = 256) -> np.ndarray:
    """Histogram-contrast saliency of an RGB uint8 image (raw scale, float32 (H, W))."""
    index, lab, freq = quantise_colours(image, coverage, max_colours)
    sal = hc_colour_saliency_numba(lab, freq, max(len(lab) // 4, 1))
    return sal[index]


class HCModel(SaliencyModel):
    """Global colour rarity (Cheng et al. 2011): good at objects on plain ground."""

    name = "hc"

    def __init__(self, analysis_side: int = 128, coverage: float = 0.95) -> None:
        self.analysis_side = analysis_side
        self.coverage = coverage

    def compute(self, image: np.ndarray) -> np.ndarray:
        return hc_saliency(image, self.coverage)
