"""Fixation metrics against values worked out by hand and independent re-derivations."""

import numpy as np
import pytest

from salcodec.saliency.metrics import EPS, auc_judd, cc, kl_div, nss, score_all, sim


def auc_judd_loop(sal, fix):
    """The MIT benchmark's AUC_Judd.m, transcribed literally (valid for distinct values)."""
    s = sal.ravel().astype(float)
    f = fix.ravel().astype(bool)
    sth = np.sort(s[f])[::-1]
    nf, npix = len(sth), len(s)
    tp = [0.0]
    fp = [0.0]
    for i, t in enumerate(sth, start=1):
        above = int((s >= t).sum())
        tp.append(i / nf)
        fp.append((above - i) / (npix - nf))
    tp.append(1.0)
    fp.append(1.0)
    return sum((fp[k + 1] - fp[k]) * (tp[k + 1] + tp[k]) / 2 for k in range(len(tp) - 1))


def test_auc_judd_by_hand():
    # Values 0..5 in a row; fixations on 5 and 2. Threshold 5: tp 1/2, fp 0/4;
    # threshold 2: tp 2/2, fp 2/4 (values 4 and 3). Curve (0,0)(0,.5)(.5,1)(1,1):
    # area = 0.5 * (0.5 + 1) / 2 + 0.5 * 1 = 0.875.
    sal = np.array([[0, 1, 2, 3, 4, 5]], float)
    fix = np.array([[0, 0, 1, 0, 0, 1]], bool)
    assert auc_judd(sal, fix) == pytest.approx(0.875)


def test_auc_judd_matches_literal_benchmark_code():
    rng = np.random.default_rng(0)
    for _ in range(5):
        sal = rng.random((17, 23))
        fix = rng.random((17, 23)) < 0.1
        assert auc_judd(sal, fix) == pytest.approx(auc_judd_loop(sal, fix), abs=1e-12)


def test_auc_judd_extremes_and_ties():
    fix = np.zeros((4, 4), bool)
    fix[1, 2] = fix[3, 0] = True
    assert auc_judd(fix.astype(float), fix) == pytest.approx(1.0)
    assert auc_judd(np.ones((4, 4)), fix) == pytest.approx(0.5)  # one tied threshold
    # Fixations on the lowest value: the first threshold admits every pixel, so
    # Judd's curve goes straight from (0, 0) to (1, 1).
    assert auc_judd(-fix.astype(float), fix) == pytest.approx(0.5)


def test_nss_by_hand():
    # mean 1, sample std sqrt((1 + 1 + 1 + 9) / 3) = 2: z at the 4 is 1.5.
    sal = np.array([[0, 0], [0, 4]], float)
    fix = np.array([[0, 0], [0, 1]], bool)
    assert nss(sal, fix) == pytest.approx(1.5)
    assert nss(np.ones((2, 2)), fix) == 0.0


def test_cc_matches_corrcoef_and_sign():
    rng = np.random.default_rng(1)
    a, b = rng.random((9, 11)), rng.random((9, 11))
    assert cc(a, b) == pytest.approx(np.corrcoef(a.ravel(), b.ravel())[0, 1])
    assert cc(b, b) == pytest.approx(1.0)
    assert cc(b.max() - b, b) == pytest.approx(-1.0)


def test_sim_by_hand():
    # s scaled to [0,1]: [0, 1/2, 1] -> distribution [0, 1/3, 2/3]; d = [1/2, 1/2, 0].
    # sum(min) = 0 + 1/3 + 0 = 1/3.
    sal = np.array([[2.0, 3.0, 4.0]])
    dens = np.array([[1.0, 1.0, 0.0]])
    assert sim(sal, dens) == pytest.approx(1 / 3)
    assert sim(dens, dens) == pytest.approx(1.0)


def test_kl_by_hand():
    s = np.array([[1.0, 3.0]])  # -> [1/4, 3/4]
    d = np.array([[1.0, 1.0]])  # -> [1/2, 1/2]
    want = 0.5 * np.log(EPS + 0.5 / (0.25 + EPS)) + 0.5 * np.log(EPS + 0.5 / (0.75 + EPS))
    assert kl_div(s, d) == pytest.approx(want)
    assert kl_div(d, d) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="non-negative"):
        kl_div(-s, d)


def test_validation():
    with pytest.raises(ValueError, match="differ in shape"):
        nss(np.zeros((2, 3)), np.ones((3, 2), bool))
    with pytest.raises(ValueError, match="no fixations"):
        auc_judd(np.zeros((2, 2)), np.zeros((2, 2), bool))
    with pytest.raises(ValueError, match="non-negative"):
        cc(np.zeros((2, 2)), -np.ones((2, 2)))
    with pytest.raises(ValueError, match="non-finite"):
        cc(np.full((2, 2), np.nan), np.ones((2, 2)))


def test_score_all_keys():
    fix = np.eye(5, dtype=bool)
    out = score_all(np.eye(5), fix, np.eye(5))
    assert set(out) == {"auc_judd", "nss", "cc", "sim", "kl"}
    assert out["auc_judd"] == pytest.approx(1.0)
    assert out["cc"] == pytest.approx(1.0)
