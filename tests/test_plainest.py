"""Plain x264's estimated size (salcodec.plainest) and the offset spool it reads."""

from __future__ import annotations

import numpy as np
import pytest

from salcodec.plainest import (
    K,
    PlainEstimate,
    block_texture,
    plain_ratio,
    unavailable_reason,
)
from salcodec.qpreport import OffsetSpool

RNG = np.random.default_rng(14)


def random_frame(shape=(9, 11)):
    qp = RNG.integers(15, 45, size=shape)
    offsets = RNG.integers(-6, 11, size=shape)
    return qp, offsets


# --- the estimator as a pure function -----------------------------------------------------


@pytest.mark.parametrize("trial", range(20))
def test_zero_offsets_estimate_the_bytes_themselves(trial):
    qp, _ = random_frame()
    assert plain_ratio(qp, np.zeros_like(qp)) == pytest.approx(1.0, abs=1e-12)
    est = PlainEstimate()
    sizes = RNG.integers(100, 10_000, size=5)
    for n in sizes:
        est.add(int(n), qp, np.zeros_like(qp))
    r = est.result(int(sizes.sum()) + 700)
    assert r["video_bytes"] == sizes.sum() and r["bytes"] == sizes.sum() + 700
    assert r["saving"] == 0 and r["video_saving"] == 0


@pytest.mark.parametrize("trial", range(20))
def test_monotone_in_the_offsets(trial):
    # Raising any block's offset means plain x264 would have spent more there.
    qp, offsets = random_frame()
    before = plain_ratio(qp, offsets)
    i = tuple(RNG.integers(0, s) for s in qp.shape)
    raised = offsets.copy()
    raised[i] += int(RNG.integers(1, 5))
    lowered = offsets.copy()
    lowered[i] -= int(RNG.integers(1, 5))
    assert plain_ratio(qp, lowered) < before < plain_ratio(qp, raised)
    # Positive offsets everywhere: plain x264 is larger; negative: smaller.
    assert plain_ratio(qp, np.abs(offsets) + 1) > 1 > plain_ratio(qp, -np.abs(offsets) - 1)


@pytest.mark.parametrize("c", [-4, 1, 3, 10])
def test_k_is_qp_per_halving(c):
    # A uniform offset c: plain x264 spends 2^(c/k) times the bytes, whatever the QP map.
    qp, _ = random_frame()
    off = np.full(qp.shape, c)
    for k in (4.0, 6.0, K, 12.0):
        assert plain_ratio(qp, off, k) == pytest.approx(2 ** (c / k), rel=1e-12)
    # A larger k (bits less sensitive to QP) pulls the estimate towards the bytes.
    assert abs(plain_ratio(qp, off, 12.0) - 1) < abs(plain_ratio(qp, off, 6.0) - 1)


def test_blocks_weigh_by_their_realised_qp():
    # The same offset counts more on a low-QP block (it holds more of the bits).
    qp = np.array([[20, 40]])
    assert plain_ratio(qp, np.array([[6, 0]])) > plain_ratio(qp, np.array([[0, 6]]))


def test_weights_say_which_blocks_hold_the_bits():
    qp, offsets = random_frame()
    assert plain_ratio(qp, offsets, weights=np.full(qp.shape, 7.0)) == pytest.approx(
        plain_ratio(qp, offsets))
    # All the weight on one block: that block's offset alone decides.
    w = np.full(qp.shape, 1e-12)
    w[2, 3] = 1.0
    assert plain_ratio(qp, offsets, weights=w) == pytest.approx(2 ** (offsets[2, 3] / K))
    with pytest.raises(ValueError, match="weights"):
        plain_ratio(qp, offsets, weights=np.ones((2, 2)))


def test_block_texture_is_the_variance_of_each_macroblock():
    # 40x24 luma: a 3x2 grid whose last column and row are cut by the edge.
    luma = np.full((24, 40), 100, np.uint8)
    luma[0:8, 16:32] = 200  # top half of block (0, 1) bright: variance 2500
    w = block_texture(luma, (2, 3))
    assert w.shape == (2, 3)
    np.testing.assert_allclose(w[0, 1], 2500 + 1)
    assert np.all(np.delete(w.ravel(), 1) == 1.0)  # flat blocks weigh 1, edge blocks too
    deep = block_texture(luma.astype(np.uint16) * 4, (2, 3))  # 10-bit: same shape, x16
    np.testing.assert_allclose(deep[0, 1], 2500 * 16 + 1)


def test_bad_input_and_unpaired_frames():
    with pytest.raises(ValueError, match="differ in shape"):
        plain_ratio(np.zeros((2, 3)), np.zeros((3, 2)))
    est = PlainEstimate()
    est.add(1000, np.full((2, 2), 30), np.full((2, 2), K))  # plain: twice the bytes
    est.add(500, None, None)  # no offsets: counted at its own size
    est.add(300, np.zeros((2, 2)), np.zeros((3, 3)))  # another grid: likewise
    r = est.result(2000)
    assert (r["frames"], r["frames_unpaired"]) == (1, 2)
    assert r["video_bytes"] == 2800 and r["bytes"] == 2000 - 1800 + 2800
    assert r["saving"] == pytest.approx(1 - 2000 / 3000, abs=1e-4)
    assert PlainEstimate().result(100)["bytes"] is None


def test_reasons_when_there_is_no_estimate():
    ok = dict(saliency=True, pipe=False, decoded="h264", qp_export=None)
    assert unavailable_reason(**ok) is None
    assert "plain encode itself" in unavailable_reason(**{**ok, "saliency": False})
    assert "pipe" in unavailable_reason(**{**ok, "pipe": True})
    assert unavailable_reason(**{**ok, "decoded": "hevc", "qp_export": "no QP"}) == "no QP"
    assert "H.264 only" in unavailable_reason(**{**ok, "decoded": "vp9"})


# --- the spool -------------------------------------------------------------------------------


def test_spool_gives_back_the_offsets_and_stores_repeats_as_one_byte():
    a = np.array([[-3.0, 0.0], [4.0, 200.0]])
    b = np.array([[1.0, 2.0], [3.0, -4.0]])
    spool = OffsetSpool()
    try:
        for arr in (a, a, a, b, b, a):
            spool.write(arr)
        out = list(spool.read())
        assert len(out) == 6
        np.testing.assert_array_equal(out[0], [[-3, 0], [4, 127]])  # clipped to int8
        np.testing.assert_array_equal(out[3], b)
        np.testing.assert_array_equal(out[5], out[0])
        assert out[0] is out[1] is out[2] and out[3] is out[4] and out[5] is not out[0]
        assert spool._file.tell() == 3 * (1 + 4) + 3  # three arrays, three repeats
        with pytest.raises(ValueError, match="shape changed"):
            spool.write(np.zeros((3, 3)))
    finally:
        spool.close()


# --- against a real plain encode -------------------------------------------------------------

#: The estimate's error allowed against a real plain encode: the worst measured on the
#: hold-out clips was -10.4% (docs/budget.md), this fixture at veryfast measures -11.0%;
#: two points more for other x264 builds.
HOLD_OUT_WORST = 0.13


def test_estimate_against_a_real_plain_libx264_encode(tmp_path):
    # A clip of the hold-out set (asl_gestures/again, first 77 frames), not one k was fitted on.
    import salcodec
    from salcodec.bitstream import video_payload_bytes

    from .media import DATA

    clip, opts = DATA / "asl_again.mkv", dict(preset="veryfast", crf=23)
    att = salcodec.encode(clip, tmp_path / "a.mkv", report_qp=True, progress=False, **opts)
    plain = salcodec.encode(clip, tmp_path / "p.mkv", report_qp=True, progress=False,
                            saliency=False, **opts)
    est = att.plain_estimate
    assert est["frames"] == att.frames_out and est["frames_unpaired"] == 0
    assert abs(est["video_bytes"] / video_payload_bytes(tmp_path / "p.mkv") - 1) < HOLD_OUT_WORST
    assert abs(est["bytes"] / plain.bytes - 1) < HOLD_OUT_WORST
    real_saving = 1 - att.bytes / plain.bytes
    assert real_saving > 0.1 and est["saving"] > 0.1  # smaller than plain, and said so
    # Where there is nothing to estimate, the JSON says why.
    none = plain.plain_estimate
    assert none["bytes"] is None and "plain encode" in none["reason"]
