"""Region contrast, RC (Cheng et al., CVPR 2011), on SLIC superpixels.

The frame is cut into SLIC superpixels (scikit-image); each region is
salient in proportion to its Lab colour distance from the other regions,
weighted by their size and by how close their centres are:

    S(r_k) = sum_i w_i exp(-D_s(r_k, r_i) / sigma_s^2) D_c(r_k, r_i)

with ``D_s`` the distance between region centroids (coordinates scaled so
the long side is 1), ``sigma_s^2 = 0.4`` as in the paper, ``w_i`` the region's
pixel fraction and ``D_c`` the distance between mean Lab colours (the paper
compares colour histograms; mean colours are cheaper and close at the
superpixel sizes used here).

The same kernel, :func:`cross_region_contrast_numba`, also scores one
frame's regions against another frame's (:mod:`.temporal`).
"""

from __future__ import annotations

import cv2
import numba
import numpy as np

from .base import SaliencyModel, validate_rgb

SIGMA_S2 = 0.4


@numba.njit(cache=True, nogil=True)
def cross_region_contrast_numba(
    lab_q: np.ndarray,
    pos_q: np.ndarray,
    lab_r: np.ndarray,
    pos_r: np.ndarray,
    weight_r: np.ndarray,
    sigma2: float,
) -> np.ndarray:
    """Contrast of each query region against a set of reference regions.

    Parameters
    ----------
    lab_q, lab_r : ndarray, shape (n, 3) and (m, 3), float32
        Mean Lab colour of the query and reference regions.
    pos_q, pos_r : ndarray, shape (n, 2) and (m, 2), float32
        Region centroids (y, x), long side scaled to 1.
    weight_r : ndarray, shape (m,), float32
        Weight (pixel fraction) of each reference region.
    sigma2 : float
        Spatial falloff ``sigma_s^2``.

    Returns
    -------
    ndarray, shape (n,), float32
        ``sum_i w_i exp(-|p_k - p_i| / sigma2) |lab_k - lab_i|``.
    """
    n = lab_q.shape[0]
    m = lab_r.shape[0]
    out = np.zeros(n, dtype=np.float32)
    for k in range(n):
        acc = np.float32(0.0)
        for i in range(m):
            dy = pos_q[k, 0] - pos_r[i, 0]
            dx = pos_q[k, 1] - pos_r[i, 1]
            ds = np.sqrt(dy * dy + dx * dx)
            d0 = lab_q[k, 0] - lab_r[i, 0]
            d1 = lab_q[k, 1] - lab_r[i, 1]
            d2 = lab_q[k, 2] - lab_r[i, 2]
            dc = np.sqrt(d0 * d0 + d1 * d1 + d2 * d2)
            acc += weight_r[i] * np.exp(-ds / sigma2) * dc
        out[k] = acc
    return out


def cross_region_contrast_reference(lab_q, pos_q, lab_r, pos_r, weight_r, sigma2):
    """Plain-numpy reference of :func:`cross_region_contrast_numba`."""
    lab_q, pos_q, lab_r, pos_r, weight_r = (
        np.asarray(a, dtype=np.float64) for a in (lab_q, pos_q, lab_r, pos_r, weight_r)
    )
    ds = np.sqrt(((pos_q[:, None, :] - pos_r[None, :, :]) ** 2).sum(-1))
    dc = np.sqrt(((lab_q[:, None, :] - lab_r[None, :, :]) ** 2).sum(-1))
    return ((weight_r[None, :] * np.exp(-ds / sigma2) * dc).sum(1)).astype(np.float32)


def region_stats(labels: np.ndarray, lab: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean Lab, centroid (long side = 1) and pixel fraction of each label.

    ``labels`` must hold 0..n-1; empty labels get weight 0.
    """
    h, w = labels.shape
    n = int(labels.max()) + 1
    flat = labels.ravel()
    count = np.bincount(flat, minlength=n).astype(np.float64)
    safe = np.maximum(count, 1)
    mean_lab = np.stack(
        [np.bincount(flat, lab[..., c].ravel(), minlength=n) / safe for c in range(3)], axis=1
    )
    yy, xx = np.indices((h, w))
    scale = float(max(h, w))
    pos = np.stack(
        [np.bincount(flat, yy.ravel(), minlength=n) / safe,
         np.bincount(flat, xx.ravel(), minlength=n) / safe], axis=1
    ) / scale
    return (mean_lab.astype(np.float32), pos.astype(np.float32),
            (count / flat.size).astype(np.float32))


def to_lab(image: np.ndarray) -> np.ndarray:
    """RGB uint8 -> float32 Lab with L in [0, 100] (OpenCV's float conversion)."""
    return cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)


def superpixels(image: np.ndarray, n_segments: int = 80, compactness: float = 10.0) -> np.ndarray:
    """SLIC superpixel labels 0..n-1 of an RGB uint8 image."""
    from skimage.segmentation import slic

    labels = slic(image, n_segments=n_segments, compactness=compactness, start_label=0)
    # Relabel densely: SLIC may skip numbers after enforcing connectivity.
    _, dense = np.unique(labels, return_inverse=True)
    return dense.reshape(labels.shape).astype(np.int32)


def region_saliency(
    image: np.ndarray, n_segments: int = 80, sigma2: float = SIGMA_S2
) -> np.ndarray:
    """Region-contrast saliency of an RGB uint8 image (raw, float32 (H, W))."""
    image = validate_rgb(image)
    labels = superpixels(image, n_segments)
    mean_lab, pos, weight = region_stats(labels, to_lab(image))
    sal = cross_region_contrast_numba(mean_lab, pos, mean_lab, pos, weight, float(sigma2))
    return sal[labels]


class RegionModel(SaliencyModel):
    """Superpixel region contrast (Cheng et al. 2011): objects stand out as wholes."""

    name = "region"

    def __init__(self, analysis_side: int = 128, n_segments: int = 80) -> None:
        self.analysis_side = analysis_side
        self.n_segments = n_segments

    def compute(self, image: np.ndarray) -> np.ndarray:
        return region_saliency(image, self.n_segments)
