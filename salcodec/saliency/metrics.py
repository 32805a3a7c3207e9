"""Fixation-prediction metrics, as in the MIT/Tuebingen saliency benchmark.

AUC-Judd and NSS score a saliency map against fixation *points* (a boolean
map, True where someone fixated); CC, SIM and KL score it against a fixation
*density* map. The definitions follow the MIT benchmark's MATLAB code
(cvzoya/saliency, ``code_forMetrics``), with two deliberate differences:

* AUC-Judd adds no random jitter: tied saliency values are handled exactly
  (a threshold counts every pixel >= it), so scores are deterministic.
* Maps must already have the ground truth's shape; resizing is the caller's
  job (:func:`salcodec.saliency.datasets.evaluate` resizes bilinearly).
"""

from __future__ import annotations

import numpy as np

#: MATLAB's eps, used by the benchmark's KL and SIM code.
EPS = np.finfo(np.float64).eps


def _check_pair(saliency: np.ndarray, truth: np.ndarray, what: str) -> tuple[np.ndarray, ...]:
    saliency = np.asarray(saliency, dtype=np.float64)
    truth = np.asarray(truth)
    if saliency.ndim != 2:
        raise ValueError(f"saliency map must be 2-D, got shape {saliency.shape}")
    if saliency.shape != truth.shape:
        raise ValueError(f"saliency map {saliency.shape} and {what} {truth.shape} differ in shape")
    if not np.all(np.isfinite(saliency)):
        raise ValueError("saliency map has non-finite values")
    return saliency, truth


def _fixations(saliency: np.ndarray, fixations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    saliency, fixations = _check_pair(saliency, fixations, "fixation map")
    fixations = fixations.astype(bool)
    if not fixations.any():
        raise ValueError("fixation map has no fixations")
    return saliency, fixations


def _density(saliency: np.ndarray, density: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    saliency, density = _check_pair(saliency, density, "density map")
    density = density.astype(np.float64)
    if not np.all(np.isfinite(density)) or density.min() < 0 or density.max() <= 0:
        raise ValueError("density map must be finite, non-negative and not all zero")
    return saliency, density


def auc_judd(saliency: np.ndarray, fixations: np.ndarray) -> float:
    """Area under the ROC curve with thresholds at the fixated saliency values.

    For each distinct saliency value ``t`` at a fixation, the true-positive
    rate is the fraction of fixations with saliency >= ``t`` and the
    false-positive rate the fraction of non-fixated pixels with saliency
    >= ``t``; the curve from (0, 0) to (1, 1) is integrated by trapezoids.

    Parameters
    ----------
    saliency : ndarray, shape (H, W)
        Saliency map (any real scale).
    fixations : ndarray, shape (H, W)
        Truthy where a fixation landed.

    Returns
    -------
    float
        AUC in [0, 1]; 0.5 is chance.
    """
    saliency, fixations = _fixations(saliency, fixations)
    fix_values = saliency[fixations]
    n_fix = fix_values.size
    n_pix = saliency.size
    if n_pix == n_fix:
        raise ValueError("every pixel is a fixation: AUC is undefined")
    thresholds = np.unique(fix_values)[::-1]  # descending
    all_sorted = np.sort(saliency.ravel())
    fix_sorted = np.sort(fix_values)
    above_all = n_pix - np.searchsorted(all_sorted, thresholds, side="left")
    above_fix = n_fix - np.searchsorted(fix_sorted, thresholds, side="left")
    tp = np.concatenate(([0.0], above_fix / n_fix, [1.0]))
    fp = np.concatenate(([0.0], (above_all - above_fix) / (n_pix - n_fix), [1.0]))
    return float(np.sum((fp[1:] - fp[:-1]) * (tp[1:] + tp[:-1]) / 2.0))


def nss(saliency: np.ndarray, fixations: np.ndarray) -> float:
    """Normalised scanpath saliency: mean z-scored saliency at the fixations.

    The map is standardised with its mean and sample standard deviation
    (ddof=1, as MATLAB's ``std``). A flat map scores 0.
    """
    saliency, fixations = _fixations(saliency, fixations)
    std = saliency.std(ddof=1)
    if std <= 0:
        return 0.0
    z = (saliency - saliency.mean()) / std
    return float(z[fixations].mean())


def cc(saliency: np.ndarray, density: np.ndarray) -> float:
    """Pearson linear correlation between a saliency map and a density map.

    A flat map (zero variance) scores 0.
    """
    saliency, density = _density(saliency, density)
    s = saliency - saliency.mean()
    d = density - density.mean()
    denom = np.sqrt((s * s).sum() * (d * d).sum())
    return float((s * d).sum() / denom) if denom > 0 else 0.0


def _as_distribution(a: np.ndarray) -> np.ndarray:
    total = a.sum()
    return a / total if total > 0 else np.full(a.shape, 1.0 / a.size)


def sim(saliency: np.ndarray, density: np.ndarray) -> float:
    """Similarity (histogram intersection) of the two maps as distributions.

    The saliency map is first scaled to [0, 1] (as the benchmark does), then
    both maps are normalised to sum 1 and ``sum(min(s, d))`` is returned:
    1 for identical distributions, 0 for disjoint ones.
    """
    saliency, density = _density(saliency, density)
    lo, hi = saliency.min(), saliency.max()
    s = (saliency - lo) / (hi - lo) if hi > lo else np.zeros_like(saliency)
    return float(np.minimum(_as_distribution(s), _as_distribution(density)).sum())


def kl_div(saliency: np.ndarray, density: np.ndarray) -> float:
    """KL divergence of the saliency distribution from the density: lower is better.

    ``sum(d * log(eps + d / (s + eps)))`` with both maps normalised to sum 1
    (the benchmark's form; eps is MATLAB's ``eps``). The saliency map must
    be non-negative.
    """
    saliency, density = _density(saliency, density)
    if saliency.min() < 0:
        raise ValueError("KL needs a non-negative saliency map")
    s = _as_distribution(saliency)
    d = _as_distribution(density)
    return float((d * np.log(EPS + d / (s + EPS))).sum())


#: Metric name -> (function, ground truth it needs, True when higher is better).
METRICS = {
    "auc_judd": (auc_judd, "fixations", True),
    "nss": (nss, "fixations", True),
    "cc": (cc, "density", True),
    "sim": (sim, "density", True),
    "kl": (kl_div, "density", False),
}


def score_all(saliency: np.ndarray, fixations: np.ndarray, density: np.ndarray) -> dict:
    """All five metrics of one map: ``{"auc_judd", "nss", "cc", "sim", "kl"}``."""
    out = {}
    for name, (func, needs, _) in METRICS.items():
        out[name] = func(saliency, fixations if needs == "fixations" else density)
    return out
