"""Full-reference image metrics on numpy planes, and pooling across frames.

Every function takes two planes of the same shape (``ref``, ``dist``), 8-bit
by default (``data_range=255``), and returns a float. Definitions are written
out in docs/quality.md; the short version:

* :func:`psnr`: ``10 log10(L^2 / MSE)`` over one plane (luma in practice).
* :func:`psnr_yuv`: ``(6 PSNR_Y + PSNR_U + PSNR_V) / 8`` of per-plane PSNRs,
  the JCT-VC/JVET common-test-conditions convention (not the pixel-count
  weighted MSE that FFmpeg's ``psnr_avg`` reports).
* :func:`ssim`: Wang et al. 2004, 11x11 Gaussian window (sigma 1.5), K1 0.01,
  K2 0.03, population covariances, mean over the positions where the window
  fits inside the image. Equals ``skimage.metrics.structural_similarity(...,
  gaussian_weights=True, sigma=1.5, use_sample_covariance=False)``.
* :func:`ssim_8x8`: FFmpeg's/x264's fast SSIM (8x8 box windows on a 4-pixel
  grid), for comparison with ``ffmpeg -lavfi ssim``.
* :func:`weighted_psnr` / :func:`weighted_ssim`: errors weighted by an
  importance map and normalised by the sum of the weights.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

#: Default SSIM constants (Wang et al. 2004).
SSIM_K1 = 0.01
SSIM_K2 = 0.03


def _pair(ref: np.ndarray, dist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ref = np.asarray(ref)
    dist = np.asarray(dist)
    if ref.shape != dist.shape:
        raise ValueError(f"planes differ in shape: {ref.shape} vs {dist.shape}")
    if ref.ndim != 2 or ref.size == 0:
        raise ValueError(f"expected non-empty 2-D planes, got shape {ref.shape}")
    return ref, dist


def _weights(weights: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != shape:
        raise ValueError(f"weight map shape {w.shape} does not match plane shape {shape}")
    if not np.all(np.isfinite(w)) or (w < 0).any():
        raise ValueError("weights must be finite and non-negative")
    if w.sum() <= 0:
        raise ValueError("weights sum to zero")
    return w


def mse(ref: np.ndarray, dist: np.ndarray) -> float:
    """Mean squared error of two planes, in squared code values."""
    ref, dist = _pair(ref, dist)
    if ref.dtype == np.uint8 and dist.dtype == np.uint8:
        from . import _kernels  # numba: loaded on first use (issue 14)

        return _kernels.sse_u8(ref, dist) / ref.size
    return mse_reference(ref, dist)


def mse_reference(ref: np.ndarray, dist: np.ndarray) -> float:
    """Plain-numpy :func:`mse` (any dtype)."""
    ref, dist = _pair(ref, dist)
    diff = ref.astype(np.float64) - dist.astype(np.float64)
    return float(np.mean(diff * diff))


def mse_to_psnr(mse_value: float, data_range: float = 255.0, max_db: float | None = None) -> float:
    """``10 log10(data_range^2 / mse)``; ``inf`` (or ``max_db``) when ``mse`` is 0.

    Parameters
    ----------
    mse_value : float
        Mean squared error (non-negative).
    data_range : float
        Peak signal value, 255 for 8-bit video.
    max_db : float, optional
        Cap on the result, so that identical frames give a finite value.
    """
    if mse_value < 0 or not math.isfinite(mse_value):
        raise ValueError(f"mse must be finite and non-negative, got {mse_value}")
    value = math.inf if mse_value == 0 else 10.0 * math.log10(data_range**2 / mse_value)
    return value if max_db is None else min(value, max_db)


def psnr(
    ref: np.ndarray, dist: np.ndarray, *, data_range: float = 255.0, max_db: float | None = None
) -> float:
    """Peak signal-to-noise ratio of one plane, in dB.

    Parameters
    ----------
    ref, dist : ndarray, shape (H, W)
        Reference and distorted planes.
    data_range : float
        Peak value (255 for 8-bit).
    max_db : float, optional
        Cap for identical planes (``None``: return ``inf`` as scikit-image does).

    Returns
    -------
    float
        ``10 log10(data_range^2 / MSE)``.
    """
    return mse_to_psnr(mse(ref, dist), data_range, max_db)


def psnr_yuv(
    ref_planes: tuple[np.ndarray, np.ndarray, np.ndarray],
    dist_planes: tuple[np.ndarray, np.ndarray, np.ndarray],
    *,
    data_range: float = 255.0,
    max_db: float | None = None,
) -> tuple[float, float, float, float]:
    """Per-plane PSNR and their 6:1:1 combination.

    Returns
    -------
    (combined, psnr_y, psnr_u, psnr_v) : tuple of float
        ``combined = (6 psnr_y + psnr_u + psnr_v) / 8`` (per-plane PSNRs, each
        capped at ``max_db`` first).
    """
    if len(ref_planes) != 3 or len(dist_planes) != 3:
        raise ValueError("psnr_yuv needs three planes (Y, U, V) on each side")
    y, u, v = (
        psnr(r, d, data_range=data_range, max_db=max_db)
        for r, d in zip(ref_planes, dist_planes, strict=True)
    )
    return (6.0 * y + u + v) / 8.0, y, u, v


def weighted_mse(ref: np.ndarray, dist: np.ndarray, weights: np.ndarray) -> float:
    """``sum(w e^2) / sum(w)``: squared error averaged with importance weights."""
    ref, dist = _pair(ref, dist)
    w = _weights(weights, ref.shape)
    diff = ref.astype(np.float64) - dist.astype(np.float64)
    return float(np.sum(w * diff * diff) / np.sum(w))


def weighted_psnr(
    ref: np.ndarray,
    dist: np.ndarray,
    weights: np.ndarray,
    *,
    data_range: float = 255.0,
    max_db: float | None = None,
) -> float:
    """Importance-weighted PSNR (EW-PSNR when the weights come from fixations).

    ``WPSNR = 10 log10(L^2 / (sum(w e^2) / sum(w)))``. Scaling ``w`` by a
    constant does not change the result; uniform weights give :func:`psnr`.

    Parameters
    ----------
    ref, dist : ndarray, shape (H, W)
        Reference and distorted planes.
    weights : ndarray, shape (H, W)
        Non-negative importance map with a positive sum.
    data_range, max_db
        As in :func:`psnr`.
    """
    return mse_to_psnr(weighted_mse(ref, dist, weights), data_range, max_db)


def _gaussian_blur(img: np.ndarray, win_size: int, sigma: float) -> np.ndarray:
    # Separable filtering with the normalised sampled Gaussian (what scipy's
    # gaussian_filter uses for truncate = r / sigma); sepFilter2D is about 2x
    # faster than GaussianBlur on float64. BORDER_REFLECT equals scipy's
    # 'reflect', and the border never reaches the cropped map anyway.
    k = cv2.getGaussianKernel(win_size, sigma, cv2.CV_64F)
    return cv2.sepFilter2D(img, cv2.CV_64F, k, k, borderType=cv2.BORDER_REFLECT)


def ssim_map(
    ref: np.ndarray,
    dist: np.ndarray,
    *,
    data_range: float = 255.0,
    sigma: float = 1.5,
    win_size: int = 11,
    k1: float = SSIM_K1,
    k2: float = SSIM_K2,
    reference: bool = False,
) -> np.ndarray:
    """Local SSIM with a Gaussian window, where the window fits in the image.

    Parameters
    ----------
    ref, dist : ndarray, shape (H, W)
        Planes (any real dtype); H and W must be at least ``win_size``.
    data_range : float
        Dynamic range L of the values (255 for 8-bit).
    sigma : float
        Standard deviation of the Gaussian window.
    win_size : int
        Odd window side (11 as in Wang et al.).
    k1, k2 : float
        Stabilising constants: C1 = (k1 L)^2, C2 = (k2 L)^2.
    reference : bool
        Blur whole planes with OpenCV and combine them with the plain-numpy
        expression instead of the fused numba kernel (same result to
        rounding; for tests).

    Returns
    -------
    ndarray, shape (H - win_size + 1, W - win_size + 1), float64
        SSIM at each window centre; pixel ``[i, j]`` of the map is centred on
        pixel ``[i + r, j + r]`` of the input, ``r = win_size // 2``.
    """
    ref, dist = _pair(ref, dist)
    if win_size < 3 or win_size % 2 == 0:
        raise ValueError(f"win_size must be odd and >= 3, got {win_size}")
    if min(ref.shape) < win_size:
        raise ValueError(f"planes of shape {ref.shape} are smaller than the {win_size}px window")
    c1 = (k1 * data_range) ** 2
    c2 = (k2 * data_range) ** 2
    if not reference:
        from . import _kernels

        if ref.dtype != np.uint8 or dist.dtype != np.uint8:  # one kernel for 8 bits, one else
            ref, dist = ref.astype(np.float64), dist.astype(np.float64)
        k = cv2.getGaussianKernel(win_size, sigma, cv2.CV_64F).ravel()
        return _kernels.ssim_valid(ref, dist, k, c1, c2)
    x = ref.astype(np.float64)
    y = dist.astype(np.float64)
    mu_x = _gaussian_blur(x, win_size, sigma)
    mu_y = _gaussian_blur(y, win_size, sigma)
    bxx = _gaussian_blur(x * x, win_size, sigma)
    byy = _gaussian_blur(y * y, win_size, sigma)
    bxy = _gaussian_blur(x * y, win_size, sigma)
    r = win_size // 2
    var_x = bxx - mu_x * mu_x
    var_y = byy - mu_y * mu_y
    cov = bxy - mu_x * mu_y
    s = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
        (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)
    )
    return s[r : s.shape[0] - r, r : s.shape[1] - r]


def ssim(ref: np.ndarray, dist: np.ndarray, **kwargs) -> float:
    """Mean SSIM (Gaussian 11x11, sigma 1.5); keyword arguments as in :func:`ssim_map`."""
    return float(ssim_map(ref, dist, **kwargs).mean())


def crop_to_ssim_map(weights: np.ndarray, win_size: int = 11) -> np.ndarray:
    """Crop a full-size weight map to the positions :func:`ssim_map` returns."""
    r = win_size // 2
    return weights[r : weights.shape[0] - r, r : weights.shape[1] - r]


def weighted_ssim(
    ref: np.ndarray, dist: np.ndarray, weights: np.ndarray, *, win_size: int = 11, **kwargs
) -> float:
    """``sum(w * ssim_map) / sum(w)`` over the window centres.

    ``weights`` has the plane's full shape; it is cropped like the SSIM map
    (the border of ``win_size // 2`` pixels is dropped). If the crop leaves no
    weight, the full map's weights cannot be used and ``ValueError`` is raised.
    """
    ref, dist = _pair(ref, dist)
    w = crop_to_ssim_map(_weights(weights, ref.shape), win_size)
    total = w.sum()
    if total <= 0:
        raise ValueError("all weight lies within the SSIM window border")
    s = ssim_map(ref, dist, win_size=win_size, **kwargs)
    return float(np.sum(w * s) / total)


def ssim_8x8(ref: np.ndarray, dist: np.ndarray) -> float:
    """SSIM as FFmpeg's ``ssim`` filter (and x264) compute it, 8-bit planes only.

    Sums over 8x8 box windows placed every 4 pixels (the plane cropped to a
    multiple of 4), x264's integer constants ``c1 = round(.01^2 255^2 64)``
    and ``c2 = round(.03^2 255^2 64 63)``, and the final ratio in float32, as
    FFmpeg does. Agrees with FFmpeg to float rounding; differs from the
    Gaussian :func:`ssim` (typically by 0.001 to 0.01 on coded video).
    """
    ref, dist = _check_8x8(ref, dist)
    from . import _kernels

    return float(_kernels.ssim_8x8_u8(ref, dist))


def _check_8x8(ref: np.ndarray, dist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ref, dist = _pair(ref, dist)
    if ref.dtype != np.uint8 or dist.dtype != np.uint8:
        raise TypeError("ssim_8x8 needs uint8 planes")
    if ref.shape[0] < 8 or ref.shape[1] < 8:
        raise ValueError(f"planes of shape {ref.shape} are too small for 8x8 SSIM")
    return ref, dist


def ssim_8x8_reference(ref: np.ndarray, dist: np.ndarray) -> float:
    """Plain-numpy :func:`ssim_8x8`."""
    ref, dist = _check_8x8(ref, dist)
    h4, w4 = ref.shape[0] // 4, ref.shape[1] // 4
    a = ref[: h4 * 4, : w4 * 4].astype(np.int64)
    b = dist[: h4 * 4, : w4 * 4].astype(np.int64)

    def blocks(v: np.ndarray) -> np.ndarray:
        s4 = v.reshape(h4, 4, w4, 4).sum(axis=(1, 3))
        return s4[:-1, :-1] + s4[1:, :-1] + s4[:-1, 1:] + s4[1:, 1:]

    s1, s2 = blocks(a), blocks(b)
    ss, s12 = blocks(a * a + b * b), blocks(a * b)
    c1 = int(0.01 * 0.01 * 255 * 255 * 64 + 0.5)
    c2 = int(0.03 * 0.03 * 255 * 255 * 64 * 63 + 0.5)
    var = ss * 64 - s1 * s1 - s2 * s2
    cov = s12 * 64 - s1 * s2
    f32 = np.float32
    num = (2 * s1 * s2 + c1).astype(f32) * (2 * cov + c2).astype(f32)
    den = (s1 * s1 + s2 * s2 + c1).astype(f32) * (var + c2).astype(f32)
    return float(np.mean(num / den, dtype=np.float64))


def pool(values: np.ndarray | list[float], percentile: float = 5.0) -> dict[str, float]:
    """Summaries of per-frame values.

    Parameters
    ----------
    values : array_like of float
        Per-frame metric values (finite).
    percentile : float
        The low percentile reported as ``"p5"`` (linear interpolation between
        order statistics, numpy's default).

    Returns
    -------
    dict
        ``mean``, ``harmonic_mean`` (NaN when any value is <= 0, where it is
        undefined), ``p5``, ``min``, ``max``, ``count``. Empty input gives NaN
        everywhere and ``count`` 0.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    nan = float("nan")
    if v.size == 0:
        return {"mean": nan, "harmonic_mean": nan, "p5": nan, "min": nan, "max": nan, "count": 0}
    hmean = float(v.size / np.sum(1.0 / v)) if np.all(v > 0) else nan
    return {
        "mean": float(v.mean()),
        "harmonic_mean": hmean,
        "p5": float(np.percentile(v, percentile)),
        "min": float(v.min()),
        "max": float(v.max()),
        "count": int(v.size),
    }
