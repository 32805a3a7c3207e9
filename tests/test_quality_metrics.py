"""Array-level metrics against scikit-image and first principles, on real frames."""

from __future__ import annotations

import math

import av
import numpy as np
import pytest
from scipy.stats import hmean
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from salcodec.quality import metrics as M

from .media import clip


def _luma_pairs(name: str, n: int = 3, step: int = 7):
    """(frame k, frame k + 1) luma pairs: real content with real differences."""
    with av.open(str(clip(name))) as c:
        ys = [f.to_ndarray(format="gray") for i, f in enumerate(c.decode(video=0)) if i < n * step]
    return [(ys[i], ys[i + 1]) for i in range(0, len(ys) - 1, step)][:n]


@pytest.fixture(scope="module")
def pairs():
    out = []
    for name in ("carphone.mp4", "bbb_audio.mp4", "asl_again.mkv"):
        out += _luma_pairs(name)
    return out


def _sk_ssim(a, b):
    return structural_similarity(a, b, data_range=255, gaussian_weights=True, sigma=1.5,
                                 use_sample_covariance=False)


def test_psnr_matches_skimage(pairs):
    for a, b in pairs:
        assert M.psnr(a, b) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=255),
                                             abs=1e-10)


def test_ssim_matches_skimage_gaussian(pairs):
    for a, b in pairs:
        assert M.ssim(a, b) == pytest.approx(_sk_ssim(a, b), abs=1e-9)


def test_ssim_matches_skimage_on_odd_crop(pairs):
    a, b = pairs[-1]
    a, b = a[13:114, 7:84], b[13:114, 7:84]  # 101 x 77, odd sizes
    assert M.ssim(a, b) == pytest.approx(_sk_ssim(a, b), abs=1e-9)


def test_ssim_map_shape_and_identity(pairs):
    a, _ = pairs[0]
    m = M.ssim_map(a, a)
    assert m.shape == (a.shape[0] - 10, a.shape[1] - 10)
    assert np.allclose(m, 1.0)


def test_psnr_identical_is_inf_or_capped(pairs):
    a, _ = pairs[0]
    assert math.isinf(M.psnr(a, a))
    assert M.psnr(a, a, max_db=100.0) == 100.0


def test_psnr_yuv_combines_per_plane_psnr():
    with av.open(str(clip("carphone.mp4"))) as c:
        frames = [f for _, f in zip(range(2), c.decode(video=0), strict=False)]
    from salcodec.quality import frame_planes

    r, d = frame_planes(frames[0]), frame_planes(frames[1])
    comb, y, u, v = M.psnr_yuv(r, d)
    assert (y, u, v) == (M.psnr(r[0], d[0]), M.psnr(r[1], d[1]), M.psnr(r[2], d[2]))
    assert comb == pytest.approx((6 * y + u + v) / 8)
    assert r[1].shape == (72, 88)


def test_weighted_psnr_uniform_and_scale_invariant(pairs):
    a, b = pairs[1]
    ones = np.ones(a.shape)
    assert M.weighted_psnr(a, b, ones) == pytest.approx(M.psnr(a, b), abs=1e-12)
    w = np.random.default_rng(0).random(a.shape)
    assert M.weighted_psnr(a, b, w) == pytest.approx(M.weighted_psnr(a, b, 37.5 * w), abs=1e-12)


def test_weighted_psnr_with_mask_is_psnr_of_region(pairs):
    a, b = pairs[2]
    w = np.zeros(a.shape)
    w[20:60, 30:90] = 1.0
    assert M.weighted_psnr(a, b, w) == pytest.approx(
        M.psnr(a[20:60, 30:90], b[20:60, 30:90]), abs=1e-10
    )


def test_weighted_psnr_formula(pairs):
    a, b = pairs[3]
    w = np.random.default_rng(2).random(a.shape) ** 3
    e2 = (a.astype(float) - b) ** 2
    expected = 10 * np.log10(255.0**2 / (np.sum(w * e2) / np.sum(w)))
    assert M.weighted_psnr(a, b, w) == pytest.approx(expected, abs=1e-10)


def test_weighted_ssim_uniform_and_mask(pairs):
    a, b = pairs[4]
    assert M.weighted_ssim(a, b, np.ones(a.shape)) == pytest.approx(M.ssim(a, b), abs=1e-12)
    w = np.zeros(a.shape)
    w[40:80, 50:120] = 2.0
    smap = M.ssim_map(a, b)
    assert M.weighted_ssim(a, b, w) == pytest.approx(smap[35:75, 45:115].mean(), abs=1e-12)


def test_weighted_ssim_rejects_weight_only_in_border(pairs):
    a, b = pairs[0]
    w = np.zeros(a.shape)
    w[:3, :] = 1.0
    with pytest.raises(ValueError, match="border"):
        M.weighted_ssim(a, b, w)


@pytest.mark.parametrize(
    "weights, match",
    [(-np.ones((4, 4)), "non-negative"), (np.zeros((4, 4)), "zero"), (np.ones((3, 4)), "shape")],
)
def test_weighted_psnr_validates_weights(weights, match):
    a = np.zeros((4, 4), np.uint8)
    with pytest.raises(ValueError, match=match):
        M.weighted_psnr(a, a + 1, weights)


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="shape"):
        M.psnr(np.zeros((4, 4)), np.zeros((4, 5)))


def test_ssim_8x8_differs_from_gaussian_but_tracks_it(pairs):
    g = np.array([M.ssim(a, b) for a, b in pairs])
    f = np.array([M.ssim_8x8(a, b) for a, b in pairs])
    assert np.corrcoef(g, f)[0, 1] > 0.95
    assert np.abs(g - f).max() < 0.05
    assert not np.allclose(g, f, atol=1e-4)


def test_pool_summaries():
    v = np.array([30.0, 31.5, 29.0, 35.0, 28.25, 33.0])
    s = M.pool(v)
    assert s["mean"] == pytest.approx(v.mean())
    assert s["harmonic_mean"] == pytest.approx(hmean(v))
    assert s["p5"] == pytest.approx(np.percentile(v, 5))
    assert (s["min"], s["max"], s["count"]) == (28.25, 35.0, 6)
    assert math.isnan(M.pool([0.5, -0.1])["harmonic_mean"])
    assert M.pool([])["count"] == 0


def test_numba_kernels_match_numpy_references(pairs):
    for a, b in pairs:
        # Strided views, as planes come out of decoded frames with row padding.
        a, b = a[:, 1:-1], b[:, 1:-1]
        assert M.mse(a, b) == M.mse_reference(a, b)
        # The fused kernel blurs x^2 + y^2 as one plane and sums in another
        # order: a few 1e-12 apart where the local variance is near zero.
        assert np.allclose(M.ssim_map(a, b), M.ssim_map(a, b, reference=True), rtol=0,
                           atol=1e-10)
        f = (a.astype(np.float32), b.astype(np.float32))  # the kernel's other compilation
        assert np.allclose(M.ssim_map(*f), M.ssim_map(*f, reference=True), rtol=0, atol=1e-10)
        assert M.ssim_8x8(a, b) == pytest.approx(M.ssim_8x8_reference(a, b), abs=1e-12)
