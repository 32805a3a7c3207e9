"""Bjontegaard deltas: average rate (or quality) difference between two RD curves.

Both curves are interpolated as functions on a shared axis and the area
between them over the overlapping range is divided by the range:

* :func:`bd_rate`: x = quality, y = log10(rate); the mean log-rate
  difference d becomes a percentage ``(10^d - 1) * 100``. Negative means the
  test curve needs fewer bits for the same quality.
* :func:`bd_quality` (alias :func:`bd_psnr`): x = log10(rate), y = quality;
  the mean quality difference (test - anchor), in the metric's units.

Interpolation methods, as in the ``bjontegaard`` package (which the tests
compare against):

``"pchip"``
    Piecewise cubic Hermite (monotone, scipy's PchipInterpolator): the
    JCT-VC/JVET common-test-conditions method. Default.
``"akima"``
    Akima spline (linear with 2 points).
``"cubic"``
    One cubic polynomial through all points by least squares (VCEG-M33, the
    original Bjontegaard method); needs 4 points.

When the curves' ranges on the integration axis overlap by less than
``min_overlap`` of their union, a :class:`BDOverlapWarning` is issued and
``BDResult.low_overlap`` is set; with no overlap the value is NaN.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .errors import SalcodecWarning

METHODS = ("pchip", "akima", "cubic")
#: Default minimum overlap (fraction of the union of both ranges), as bjontegaard.
MIN_OVERLAP = 0.75


class BDOverlapWarning(SalcodecWarning):
    """The two RD curves overlap too little for a trustworthy Bjontegaard delta."""


@dataclass(frozen=True)
class BDResult:
    """A Bjontegaard delta and how much to trust it.

    Attributes
    ----------
    value : float
        Percent rate difference (:func:`bd_rate`) or quality difference
        (:func:`bd_quality`); NaN when the curves do not overlap.
    method : str
        Interpolation used.
    overlap : float
        Overlap of the two ranges on the integration axis, as a fraction of
        their union (0 to 1).
    interval : (float, float)
        Integration interval (quality for BD-rate, log10 rate for BD-quality).
    low_overlap : bool
        True when ``overlap < min_overlap`` (a warning was issued).
    """

    value: float
    method: str
    overlap: float
    interval: tuple[float, float]
    low_overlap: bool

    def __float__(self) -> float:
        return self.value


class _Cubic:
    """Least-squares cubic in the form bjontegaard uses (value and integral)."""

    def __init__(self, x: np.ndarray, y: np.ndarray):
        self.coef = np.polyfit(x, y, 3)
        self.integral = np.polyint(self.coef)

    def __call__(self, x):
        return np.polyval(self.coef, x)

    def integrate(self, a: float, b: float) -> float:
        return float(np.polyval(self.integral, b) - np.polyval(self.integral, a))


def _curve(x: Sequence[float], y: Sequence[float], name: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate one curve and sort it by ``x``."""
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"{name}: {x.size} x values but {y.size} y values")
    if x.size < 2:
        raise ValueError(f"{name}: need at least 2 points, got {x.size}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError(f"{name}: values must be finite")
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    if np.any(np.diff(x) <= 0):
        raise ValueError(f"{name}: repeated value {x[np.argmin(np.diff(x))]} on the x axis")
    return x, y


def _log_rates(rates: Sequence[float], name: str) -> np.ndarray:
    r = np.asarray(rates, dtype=np.float64).ravel()
    if not np.all(r > 0):
        raise ValueError(f"{name}: rates must be positive")
    return np.log10(r)


def interpolator(x: np.ndarray, y: np.ndarray, method: str = "pchip"):
    """An interpolant of sorted points with ``__call__`` and ``integrate(a, b)``."""
    # scipy.interpolate takes 0.4 s to import: only when a curve is drawn.
    from scipy.interpolate import Akima1DInterpolator, PchipInterpolator, make_interp_spline

    if method == "pchip":
        return PchipInterpolator(x, y)
    if method == "akima":
        return Akima1DInterpolator(x, y) if x.size > 2 else make_interp_spline(x, y, k=1)
    if method == "cubic":
        if x.size < 4:
            raise ValueError(f"cubic interpolation needs at least 4 points, got {x.size}")
        return _Cubic(x, y)
    raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")


def bd_delta(
    x_anchor: Sequence[float],
    y_anchor: Sequence[float],
    x_test: Sequence[float],
    y_test: Sequence[float],
    method: str = "pchip",
    min_overlap: float = MIN_OVERLAP,
) -> BDResult:
    """Mean of ``f_test - f_anchor`` over the overlap of the two x ranges.

    The generic Bjontegaard integral, with no log scaling; :func:`bd_rate`
    and :func:`bd_quality` call it with log10 rates on the proper axis.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    xa, ya = _curve(x_anchor, y_anchor, "anchor")
    xt, yt = _curve(x_test, y_test, "test")
    if method == "cubic" and min(xa.size, xt.size) < 4:
        raise ValueError("cubic interpolation needs at least 4 points per curve")
    lo, hi = float(max(xa[0], xt[0])), float(min(xa[-1], xt[-1]))
    union = max(xa[-1], xt[-1]) - min(xa[0], xt[0])
    overlap = max(hi - lo, 0.0) / union
    if overlap <= 0:
        warnings.warn(
            "RD curves do not overlap; Bjontegaard delta is undefined (NaN)",
            BDOverlapWarning,
            stacklevel=3,
        )
        return BDResult(math.nan, method, 0.0, (lo, hi), True)
    low = overlap < min_overlap
    if low:
        warnings.warn(
            f"RD curves overlap by {overlap:.0%} of their range (< {min_overlap:.0%}); "
            "the Bjontegaard delta describes only that part of the curves",
            BDOverlapWarning,
            stacklevel=3,
        )
    fa = interpolator(xa, ya, method)
    ft = interpolator(xt, yt, method)
    avg = (float(ft.integrate(lo, hi)) - float(fa.integrate(lo, hi))) / (hi - lo)
    return BDResult(float(avg), method, float(overlap), (lo, hi), low)


def bd_rate(
    rates_a: Sequence[float],
    q_a: Sequence[float],
    rates_b: Sequence[float],
    q_b: Sequence[float],
    method: str = "pchip",
    min_overlap: float = MIN_OVERLAP,
) -> BDResult:
    """Bjontegaard delta rate of curve B (test) against curve A (anchor), in percent.

    Parameters
    ----------
    rates_a, q_a : sequence of float
        Anchor rates (bytes, bits/s, any positive unit shared with B) and
        qualities (PSNR in dB, SSIM, ...; higher is better).
    rates_b, q_b : sequence of float
        Test curve; the number of points may differ from A's.
    method : {"pchip", "akima", "cubic"}
    min_overlap : float
        Quality-range overlap (fraction of the union) below which a
        :class:`BDOverlapWarning` is issued.

    Returns
    -------
    BDResult
        ``value``: average rate change of B at equal quality, percent
        (-10 means B needs 10 % fewer bits).
    """
    return _scale_rate(
        bd_delta(q_a, _log_rates(rates_a, "anchor"), q_b, _log_rates(rates_b, "test"),
                 method, min_overlap)
    )


def _scale_rate(r: BDResult) -> BDResult:
    value = float((10.0**r.value - 1.0) * 100.0) if math.isfinite(r.value) else math.nan
    return BDResult(value, r.method, r.overlap, r.interval, r.low_overlap)


def bd_quality(
    rates_a: Sequence[float],
    q_a: Sequence[float],
    rates_b: Sequence[float],
    q_b: Sequence[float],
    method: str = "pchip",
    min_overlap: float = MIN_OVERLAP,
) -> BDResult:
    """Bjontegaard delta quality (e.g. BD-PSNR): mean quality gain of B at equal rate.

    Parameters as in :func:`bd_rate`; ``value`` is in the quality's units and
    the integration runs over log10 rate.
    """
    return bd_delta(_log_rates(rates_a, "anchor"), q_a, _log_rates(rates_b, "test"), q_b,
                    method, min_overlap)


#: BD-PSNR is BD-quality with PSNR as the quality.
bd_psnr = bd_quality


@dataclass(frozen=True)
class EqualQualitySaving:
    """One test point against the baseline interpolated at the same quality.

    Attributes
    ----------
    quality : float
        The test point's quality.
    rate : float
        The test point's rate.
    baseline_rate : float
        Baseline rate interpolated at ``quality`` (NaN outside its range).
    saved : float
        ``baseline_rate - rate`` (positive: the test spends less).
    saved_fraction : float
        ``saved / baseline_rate``.
    in_range : bool
        Whether ``quality`` lies within the baseline's measured range (no
        extrapolation is done outside it).
    """

    quality: float
    rate: float
    baseline_rate: float
    saved: float
    saved_fraction: float
    in_range: bool


def savings_at_equal_quality(
    base_rates: Sequence[float],
    base_q: Sequence[float],
    test_rates: Sequence[float],
    test_q: Sequence[float],
    method: str = "pchip",
) -> list[EqualQualitySaving]:
    """Bytes saved by each test point against the baseline at equal quality.

    The baseline's log10(rate) is interpolated as a function of quality
    (pchip by default, as in BD-rate) and evaluated at each test point's
    quality. Points outside the baseline's quality range get NaN.

    Returns
    -------
    list of EqualQualitySaving
        In the order of the test points.
    """
    q, lr = _curve(base_q, _log_rates(base_rates, "baseline"), "baseline")
    f = interpolator(q, lr, method)
    tq = np.asarray(test_q, dtype=np.float64).ravel()
    tr = np.asarray(test_rates, dtype=np.float64).ravel()
    if tq.shape != tr.shape:
        raise ValueError(f"test: {tr.size} rates but {tq.size} qualities")
    out = []
    for qi, ri in zip(tq, tr, strict=True):
        inside = bool(q[0] <= qi <= q[-1])
        base = float(10.0 ** f(qi)) if inside else math.nan
        saved = base - float(ri)
        out.append(EqualQualitySaving(float(qi), float(ri), base, saved, saved / base, inside))
    return out
