"""The size proxy's quality on the sample frames (salcodec.proxyquality), used by crf-search."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from salcodec.io.conform import frame_planes
from salcodec.proxyquality import scorable, window_quality
from salcodec.quality import metrics as M
from salcodec.sampling import make_sample, with_proxy
from salcodec.search.scorer import SHIFT_FADE_CRF, SHIFT_SHARE, SampleScorer, shift_at
from salcodec.search.secant import to_linear
from salcodec.settings import EncodeSettings
from salcodec.sizeproxy import ProxyEncoder

from .media import CARPHONE, frames

PLAIN = EncodeSettings(preset="veryfast", saliency=False, crf=30)


def test_what_can_be_scored_on_the_tiles():
    assert scorable("psnr", "yuv420p") and scorable("ssim", "yuv420p")
    assert scorable("psnr_yuv", "yuv420p")
    assert scorable("wssim", "yuv420p")  # by its unweighted metric
    assert not scorable("xpsnr", "yuv420p") and not scorable("wxpsnr", "yuv420p")
    assert not scorable("psnr", "yuv420p10le")  # the metrics here are 8-bit


def _decoded(path):
    with av.open(str(path)) as c:
        return [tuple(np.array(p) for p in frame_planes(f)) for f in c.decode(video=0)]


def test_window_quality_scores_each_sample_frame_in_both_proxies(tmp_path):
    src = frames(CARPHONE, 30)
    picked = [3, 4, 5, 20, 21, 22]
    pictures = []
    with ProxyEncoder(tmp_path / "full.mkv", PLAIN, 176, 144, Fraction(25)) as full, \
            ProxyEncoder(tmp_path / "win.mkv", PLAIN, 176, 144, Fraction(25)) as win:
        for i, f in enumerate(src):
            p = full.picture(f)
            full.add(p)
            if i in picked:
                win.add(p)
                pictures.append(tuple(np.array(a) for a in frame_planes(p)))
        full.finish()
        win.finish()
    got = window_quality(pictures, picked, full.path, win.path, "psnr")
    assert got is not None
    dec_full, dec_win = _decoded(full.path), _decoded(win.path)
    want_full = [M.psnr(pictures[k][0], dec_full[i][0], max_db=100) for k, i in enumerate(picked)]
    want_win = [M.psnr(pictures[k][0], dec_win[k][0], max_db=100) for k in range(len(picked))]
    np.testing.assert_allclose(got[0], want_full, atol=1e-9)
    np.testing.assert_allclose(got[1], want_win, atol=1e-9)
    # A weighted target is scored by its unweighted metric; XPSNR is not scored.
    np.testing.assert_allclose(window_quality(pictures, picked, full.path, win.path, "wpsnr")[0],
                               want_full, atol=1e-9)
    with pytest.raises(ValueError, match="xpsnr"):
        window_quality(pictures, picked, full.path, win.path, "xpsnr")
    # A frame the full proxy does not have: no correction rather than a wrong one.
    assert window_quality(pictures, [*picked[:-1], 99], full.path, win.path, "psnr") is None


def test_the_sample_scorer_adds_the_proxys_shift_to_the_non_key_frames(tmp_path):
    bare = make_sample(CARPHONE, tmp_path / "s.mkv", count=3, seconds=0.3)
    sample = with_proxy(bare, PLAIN, "ssim")
    assert sample.proxy.crf == PLAIN.crf
    q_full, q_win = sample.proxy.quality
    assert len(q_full) == len(q_win) == sample.frames
    assert ((q_full > 0.5) & (q_full <= 1)).all() and ((q_win > 0.5) & (q_win <= 1)).all()
    scorer = SampleScorer(sample, "ssim")
    rest = ~scorer.starts
    lin = np.vectorize(lambda v: to_linear("ssim", v))
    assert scorer.shift == pytest.approx(
        SHIFT_SHARE * (lin(q_full[rest]).mean() - lin(q_win[rest]).mean()))
    # The prediction moves by that shift on the non-key frames only.
    values = np.linspace(0.9, 0.95, sample.frames)
    plain = with_proxy(bare, PLAIN)
    assert plain.proxy.quality is None  # no metric asked for
    unshifted = SampleScorer(plain, "ssim")
    assert unshifted.shift == 0.0
    sizes = plain.proxy.windows
    q0, b0 = unshifted.predict(values, sizes)
    q1, b1 = scorer.predict(values, sizes)
    assert b0 == pytest.approx(b1)
    total, keys = sample.source_frames, 1
    rest_mean = 1 - 10 ** (-(lin(values[rest].mean()) + scorer.shift) / 10)
    assert q1 == pytest.approx((values[~rest].mean() * keys + rest_mean * (total - keys)) / total)
    assert (q1 > q0) == (scorer.shift > 0)
    # A trial above the proxy's CRF gets part of the shift (shift_at).
    q2, _ = scorer.predict(values, sizes, PLAIN.crf + SHIFT_FADE_CRF / 2)
    assert min(q0, q1) <= q2 <= max(q0, q1)


def test_the_shift_fades_above_the_proxys_crf():
    for crf in (None, 20.0, 23.0):  # at or below the proxy's CRF: as measured
        assert shift_at(1.2, crf, 23.0) == 1.2
    assert shift_at(1.2, 23.0 + SHIFT_FADE_CRF / 2, 23.0) == pytest.approx(0.6)
    assert shift_at(1.2, 23.0 + SHIFT_FADE_CRF + 4, 23.0) == 0.0
    assert shift_at(1.2, 30.0, None) == 1.2  # no proxy CRF known: as measured
