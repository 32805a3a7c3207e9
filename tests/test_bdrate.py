"""Bjontegaard deltas against the reference ``bjontegaard`` package and closed forms."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy.interpolate import PchipInterpolator

from salcodec.bdrate import (
    BDOverlapWarning,
    bd_psnr,
    bd_quality,
    bd_rate,
    savings_at_equal_quality,
)

bjontegaard = pytest.importorskip("bjontegaard")

# (rates_anchor, q_anchor, rates_test, q_test); rates in kbit/s or bytes, q in dB or VMAF.
CURVES = {
    "jvet-like": ([9487.76, 4593.60, 2486.44, 1358.24], [40.037, 38.615, 37.300, 36.004],
                  [9787.80, 4469.00, 2451.52, 1356.24], [40.121, 38.651, 37.296, 35.935]),
    "x264-crf": ([512e3, 301e3, 180e3, 109e3, 66e3], [41.2, 38.9, 36.6, 34.3, 32.0],
                 [470e3, 280e3, 171e3, 101e3, 63e3], [41.0, 38.8, 36.7, 34.2, 32.1]),
    "vmaf": ([2400, 1500, 950, 600], [96.1, 92.8, 87.0, 79.5],
             [2100, 1350, 880, 560], [95.7, 92.9, 87.6, 80.8]),
    "crossing": ([1000, 2000, 4000, 8000], [30.0, 33.5, 36.0, 38.0],
                 [1000, 2000, 4000, 8000], [31.0, 33.8, 35.7, 37.2]),
    "descending-order": ([8000, 4000, 2000, 1000], [38.0, 36.0, 33.5, 30.0],
                         [7000, 3600, 1900, 980], [38.1, 36.2, 33.6, 30.2]),
}


@pytest.mark.parametrize("method", ["pchip", "akima", "cubic"])
@pytest.mark.parametrize("name", sorted(CURVES))
def test_matches_bjontegaard_package(name, method):
    ra, qa, rt, qt = CURVES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref_rate = bjontegaard.bd_rate(ra, qa, rt, qt, method=method)
        ref_q = bjontegaard.bd_psnr(ra, qa, rt, qt, method=method)
        ours_rate = bd_rate(ra, qa, rt, qt, method=method)
        ours_q = bd_quality(ra, qa, rt, qt, method=method)
    assert ours_rate.value == pytest.approx(ref_rate, abs=1e-6)
    assert ours_q.value == pytest.approx(ref_q, abs=1e-6)
    assert float(ours_rate) == ours_rate.value
    assert ours_rate.method == method


@pytest.mark.parametrize("method", ["pchip", "akima"])
def test_different_point_counts_match_bjontegaard(method):
    ra, qa = [9000, 5200, 3000, 1700, 1000, 600], [40.5, 39.0, 37.4, 35.9, 34.2, 32.6]
    rt, qt = [7800, 3000, 1400, 700], [40.2, 37.8, 35.6, 33.2]
    ref = bjontegaard.bd_rate(ra, qa, rt, qt, method=method, require_matching_points=False)
    assert bd_rate(ra, qa, rt, qt, method=method).value == pytest.approx(ref, abs=1e-6)


def test_point_order_does_not_matter():
    ra, qa, rt, qt = CURVES["x264-crf"]
    perm = [2, 0, 4, 1, 3]
    shuffled = bd_rate([ra[i] for i in perm], [qa[i] for i in perm], rt, qt).value
    assert shuffled == pytest.approx(bd_rate(ra, qa, rt, qt).value, abs=1e-12)


@pytest.mark.parametrize("method", ["pchip", "akima", "cubic"])
def test_closed_forms(method):
    ra, qa = [8000, 4000, 2000, 1000], [38.0, 36.0, 33.5, 30.0]
    # Same quality at 90 % of the rate everywhere: exactly -10 %.
    r = bd_rate(ra, qa, [0.9 * x for x in ra], qa, method=method)
    assert r.value == pytest.approx(-10.0, abs=1e-9)
    assert r.overlap == pytest.approx(1.0) and not r.low_overlap
    # Same rates, +0.5 dB everywhere: BD-PSNR is exactly 0.5.
    assert bd_psnr(ra, qa, ra, [q + 0.5 for q in qa], method=method).value == pytest.approx(0.5)
    assert bd_rate(ra, qa, ra, qa, method=method).value == pytest.approx(0.0, abs=1e-12)


def test_low_overlap_warns_and_flags():
    ra, qa = [8000, 4000, 2000, 1000], [38.0, 36.0, 33.5, 30.0]
    rt, qt = [16000, 8000, 4000, 2000], [41.0, 39.5, 37.0, 35.0]
    with pytest.warns(BDOverlapWarning, match="overlap"):
        r = bd_rate(ra, qa, rt, qt)
    assert r.low_overlap and 0 < r.overlap < 0.75
    assert r.interval == (35.0, 38.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = bjontegaard.bd_rate(ra, qa, rt, qt, method="pchip")
    assert r.value == pytest.approx(ref, abs=1e-6)


def test_no_overlap_is_nan():
    with pytest.warns(BDOverlapWarning, match="do not overlap"):
        r = bd_rate([4000, 2000, 1000], [36, 33, 30], [4000, 2000, 1000], [42, 40, 38])
    assert math.isnan(r.value) and r.low_overlap and r.overlap == 0.0


@pytest.mark.parametrize(
    "args, match",
    [
        (([1000, 1000, 2000], [30, 30, 32], [1000, 2000], [30, 32]), "repeated"),
        (([0, 1000], [30, 32], [1000, 2000], [30, 32]), "positive"),
        (([1000, 2000], [30], [1000, 2000], [30, 32]), "values"),
        (([1000], [30], [1000, 2000], [30, 32]), "at least 2"),
    ],
)
def test_input_errors(args, match):
    with pytest.raises(ValueError, match=match):
        bd_rate(*args)


def test_cubic_needs_four_points():
    with pytest.raises(ValueError, match="4 points"):
        bd_rate([1000, 2000, 4000], [30, 33, 36], [1000, 2000, 4000], [31, 34, 37],
                method="cubic")


def test_savings_at_equal_quality():
    ra, qa = [8000, 4000, 2000, 1000], [38.0, 36.0, 33.5, 30.0]
    rt, qt = [3000, 7000, 500], [35.0, 37.5, 27.0]
    out = savings_at_equal_quality(ra, qa, rt, qt)
    f = PchipInterpolator(np.array(qa[::-1]), np.log10(ra[::-1]))
    for s, r, q in zip(out[:2], rt, qt, strict=False):
        base = 10 ** float(f(q))
        assert s.in_range and s.quality == q and s.rate == r
        assert s.baseline_rate == pytest.approx(base, rel=1e-12)
        assert s.saved == pytest.approx(base - r)
        assert s.saved_fraction == pytest.approx(1 - r / base)
    assert not out[2].in_range and math.isnan(out[2].saved)
    # At the baseline's own qualities, 90 % of its rates save exactly 10 %.
    same = savings_at_equal_quality(ra, qa, [0.9 * x for x in ra], qa)
    assert [s.saved_fraction for s in same] == pytest.approx([0.1] * 4)
