import numpy as np
import pytest

from salcodec.qpmap import OffsetSmoother, importance_to_offsets, quantize_offsets


@pytest.fixture
def importance():
    rng = np.random.default_rng(1)
    # Skewed like a real saliency map: most blocks dull, a few very salient.
    return rng.beta(0.5, 3.0, size=(9, 11))


def test_zero_mean_and_clamp(importance):
    off = importance_to_offsets(importance, strength=8, clamp=6)
    assert abs(off.mean()) < 1e-4
    assert off.max() <= 6 + 1e-6 and off.min() >= -6 - 1e-6
    assert (np.abs(off) >= 6 - 1e-6).any(), "strength 8 should reach the clamp"


def test_monotone_non_increasing_in_importance(importance):
    off = importance_to_offsets(importance, strength=5, clamp=4)
    order = np.argsort(importance.ravel(), kind="stable")
    assert np.all(np.diff(off.ravel()[order]) <= 1e-6)
    # The most important block gets the lowest QP.
    assert off.ravel()[order[-1]] == off.min()


def test_strength_scales_offsets_linearly_inside_clamp(importance):
    a = importance_to_offsets(importance, strength=1, clamp=50)
    b = importance_to_offsets(importance, strength=2, clamp=50)
    np.testing.assert_allclose(b, 2 * a, atol=1e-5)
    assert a.std() == pytest.approx(1.0, rel=1e-3)


def test_flat_or_zero_strength_gives_zeros(importance):
    assert not importance_to_offsets(np.full((3, 4), 0.7)).any()
    assert not importance_to_offsets(importance, strength=0).any()


def test_invalid_arguments():
    with pytest.raises(ValueError):
        importance_to_offsets(np.zeros(5))
    with pytest.raises(ValueError):
        importance_to_offsets(np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError):
        importance_to_offsets(np.ones((2, 2)), clamp=0)
    with pytest.raises(ValueError):
        OffsetSmoother(1.0)


def test_without_zero_mean_the_raw_mapping_is_kept(importance):
    off = importance_to_offsets(importance, strength=3, clamp=100, zero_mean=False)
    z = (importance - importance.mean()) / importance.std()
    np.testing.assert_allclose(off, -3 * z, atol=1e-5)


def test_quantize():
    q = quantize_offsets(np.array([-1.6, -0.4, 0.5, 2.49]))
    np.testing.assert_array_equal(q, [-2, 0, 0, 2])


def test_smoother_damps_flicker_and_resets():
    s = OffsetSmoother(0.5)
    a, b = np.full((2, 2), 4.0), np.full((2, 2), -4.0)
    np.testing.assert_allclose(s.update(a), 4)
    np.testing.assert_allclose(s.update(b), 0)
    np.testing.assert_allclose(s.update(b), -2)
    s.reset()
    np.testing.assert_allclose(s.update(a), 4)
    # Averages of zero-mean maps stay zero-mean.
    rng = np.random.default_rng(2)
    s = OffsetSmoother(0.7)
    for _ in range(5):
        m = rng.normal(size=(4, 4))
        out = s.update(m - m.mean())
    assert abs(out.mean()) < 1e-6


def _maps(n=40, seed=7):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        shape = tuple(rng.integers(2, 30, size=2))
        yield rng.beta(rng.uniform(0.2, 2), rng.uniform(0.5, 4), size=shape)


@pytest.mark.parametrize("sharpness", [0.5, 1.0, 4.0, 12.0])
def test_attended_anchor_properties(sharpness):
    from salcodec.qpmap import attended_weights

    for imp in _maps():
        off = importance_to_offsets(imp, 4, 50, anchor="attended", sharpness=sharpness,
                                    min_mean=-50)
        w = attended_weights(imp, sharpness)
        # The weighted mean is the anchor: zero within the (here non-binding) clamp.
        assert abs(np.average(off, weights=w)) < 1e-4
        order = np.argsort(imp.ravel(), kind="stable")
        assert np.all(np.diff(off.ravel()[order]) <= 1e-5), "monotone in importance"
        # Same spread as the zero-mean map: only the level moves.
        zm = importance_to_offsets(imp, 4, 50)
        np.testing.assert_allclose(off - off.mean(), zm - zm.mean(), atol=1e-4)
        # The peak keeps more bits than the anchor; the attended level sits above the mean.
        assert off.ravel()[order[-1]] <= 1e-5
        assert off.mean() >= zm.mean() - 1e-5


def test_sharper_anchor_moves_every_offset_up():
    for imp in _maps(20, seed=3):
        lo = importance_to_offsets(imp, 4, 50, anchor="attended", sharpness=1, min_mean=-50)
        hi = importance_to_offsets(imp, 4, 50, anchor="attended", sharpness=6, min_mean=-50)
        assert np.all(hi >= lo - 1e-5)


def test_attended_anchor_keeps_a_least_mean_offset():
    for imp in _maps(20, seed=9):
        free = importance_to_offsets(imp, 2, 10, anchor="attended", min_mean=-50)
        off = importance_to_offsets(imp, 2, 10, anchor="attended", min_mean=1.0)
        assert off.mean() >= min(1.0, 10) - 1e-4
        # Only the level moves: where neither map is clamped, by one constant.
        assert np.all(off >= free - 1e-5)
        inside = (np.abs(off) < 10 - 1e-6) & (np.abs(free) < 10 - 1e-6)
        if inside.any():
            shift = off[inside] - free[inside]
            assert np.ptp(shift) < 1e-4


def test_attended_anchor_respects_the_clamp_and_flat_maps():
    for imp in _maps(20, seed=5):
        off = importance_to_offsets(imp, 9, 3, anchor="attended", sharpness=8)
        assert off.max() <= 3 + 1e-6 and off.min() >= -3 - 1e-6
    assert not importance_to_offsets(np.full((4, 5), 0.3), anchor="attended").any()
    with pytest.raises(ValueError, match="anchor"):
        importance_to_offsets(np.eye(3), anchor="peak")


def test_least_mean_is_weighted_by_coding_cost():
    # An object on a flat background: all the bits sit in the object's blocks,
    # so the least mean must hold where the cost is, not over the flat area.
    imp = np.full((9, 16), 0.01)
    imp[3:6, 6:10] = 1.0
    cost = np.ones_like(imp)
    cost[3:6, 6:10] = 400.0
    plain = importance_to_offsets(imp, 2, 10, anchor="attended", min_mean=1.0)
    costed = importance_to_offsets(imp, 2, 10, anchor="attended", min_mean=1.0, cost=cost)
    assert np.average(costed, weights=cost) >= 1.0 - 1e-4
    assert costed[3:6, 6:10].mean() > plain[3:6, 6:10].mean()
