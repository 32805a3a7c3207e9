import numpy as np
import pytest

from salcodec.mbmap import macroblock_grid, pool_to_macroblocks


def test_grid_counts_partial_blocks():
    assert macroblock_grid(176, 144) == (9, 11)
    assert macroblock_grid(1920, 1080) == (68, 120)
    assert macroblock_grid(17, 1) == (1, 2)
    with pytest.raises(ValueError):
        macroblock_grid(0, 10)


def test_full_resolution_map_gives_exact_block_means_with_partial_edges():
    rng = np.random.default_rng(0)
    w, h = 50, 37  # partial blocks on both edges
    sal = rng.random((h, w)).astype(np.float32)
    pooled = pool_to_macroblocks(sal, w, h)
    assert pooled.shape == (3, 4)
    for by in range(3):
        for bx in range(4):
            block = sal[by * 16:(by + 1) * 16, bx * 16:(bx + 1) * 16]
            assert pooled[by, bx] == pytest.approx(block.mean(), rel=1e-5)


def test_analysis_resolution_map_is_scaled_to_frame():
    # A map at 1/4 resolution of a 64x32 frame: left half 1, right half 0.
    sal = np.zeros((8, 16), np.float32)
    sal[:, :8] = 1
    pooled = pool_to_macroblocks(sal, 64, 32)
    np.testing.assert_allclose(pooled, [[1, 1, 0, 0], [1, 1, 0, 0]])


def test_coarse_map_fills_every_block():
    sal = np.array([[0.0, 1.0]], np.float32)
    pooled = pool_to_macroblocks(sal, 160, 64)  # 10x4 blocks from 2x1 pixels
    assert pooled.shape == (4, 10)
    assert np.isfinite(pooled).all()
    assert pooled[:, :5].max() == 0 and pooled[:, 5:].min() == 1


def test_constant_map_stays_constant():
    pooled = pool_to_macroblocks(np.full((45, 80), 0.3, np.float32), 1280, 720)
    np.testing.assert_allclose(pooled, 0.3, rtol=1e-6)


def test_macroblock_activity_is_the_block_variance():
    from salcodec.mbmap import macroblock_activity

    rng = np.random.default_rng(0)
    gray = np.zeros((32, 48), np.float32)
    gray[:16, 16:32] = rng.integers(0, 255, size=(16, 16))
    act = macroblock_activity(gray, 48, 32)
    assert act.shape == (2, 3)
    assert act[0, 1] == pytest.approx(gray[:16, 16:32].var() + 1, rel=1e-4)
    flat = np.delete(act.ravel(), 1)
    assert np.all(flat == 1)
