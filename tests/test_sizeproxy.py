"""The tiled proxy behind crf-search's size prediction (salcodec.sizeproxy)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from salcodec.bitstream import video_payload_bytes
from salcodec.sampling import make_sample, with_proxy
from salcodec.search.scorer import SampleScorer
from salcodec.settings import EncodeSettings
from salcodec.sizeproxy import (
    ALIGN,
    GRID,
    MIN_TILE,
    ROOK,
    FrameSizes,
    ProxyEncoder,
    SizeProxy,
    mosaic,
)
from salcodec.transcode import encode

from .media import CARPHONE, frames

PLAIN = EncodeSettings(preset="veryfast", saliency=False, crf=28)


def sizes(values, keys) -> FrameSizes:
    return FrameSizes(np.array(values, dtype=np.float64), np.array(keys, dtype=bool))


def test_mosaic_of_a_720p_frame():
    m = mosaic(1280, 720)
    assert m.tile == (320, 176) and m.size == (640, 352)  # a quarter of the area, rounded
    assert m.origins == (((0, 320), (176, 960)), ((352, 0), (544, 640)))


def test_small_pictures_get_larger_tiles_or_are_their_own_proxy():
    assert mosaic(176, 144).tile == (MIN_TILE, MIN_TILE)  # not 32 x 32: seams would dominate
    assert mosaic(62, 40).origins == (((0, 0),),) and mosaic(62, 40).size == (62, 40)
    assert mosaic(126, 720).size == (126, 720)  # too narrow for two tiles side by side


def test_mosaic_tiles_lie_on_the_macroblock_grid_one_per_grid_row_and_column():
    rng = np.random.default_rng(3)
    for _ in range(500):
        w, h = (2 * int(v) for v in rng.integers(1, 1200, size=2))
        m = mosaic(w, h)
        tw, th = m.tile
        if m.origins == (((0, 0),),):  # whole picture: only when two tiles do not fit
            assert (tw, th) == (w, h)
            assert 2 * max(MIN_TILE, w // GRID // ALIGN * ALIGN) > w or \
                2 * max(MIN_TILE, h // GRID // ALIGN * ALIGN) > h
            continue
        assert tw % ALIGN == 0 and th % ALIGN == 0 and tw >= MIN_TILE and th >= MIN_TILE
        assert m.size == (2 * tw, 2 * th) and m.size[0] <= w and m.size[1] <= h
        cells = [o for row in m.origins for o in row]
        for y, x in cells:
            assert y % ALIGN == 0 and x % ALIGN == 0
            assert 0 <= y <= h - th and 0 <= x <= w - tw
        # Source rows and columns in ROOK order: every row and column of the grid
        # visited once, so the tiles' origins are spread over the frame.
        grid = [cell for row in ROOK for cell in row]
        assert sorted(r for r, _ in grid) == sorted(c for _, c in grid) == list(range(GRID))
        for axis in (0, 1):  # origins grow with the grid row (y) and column (x)
            by_cell = [o[axis] for _, o in sorted(zip(grid, cells, strict=True),
                                                  key=lambda gc: gc[0][axis])]
            assert by_cell == sorted(by_cell)
            if len(set(by_cell)) < 4:  # only where tiles are wider than a grid cell
                assert m.tile[axis ^ 1] > (h, w)[axis] // GRID // ALIGN * ALIGN


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_cut_copies_each_tile_with_its_chroma(dtype):
    rng = np.random.default_rng(5)
    w, h = 416, 240
    m = mosaic(w, h)
    planes = [rng.integers(0, 1000 if dtype is np.uint16 else 256, size=s).astype(dtype)
              for s in ((h, w), (h // 2, w // 2), (h // 2, w // 2))]
    y, u, v = m.cut(planes)
    tw, th = m.tile
    assert y.shape == (2 * th, 2 * tw) and u.shape == v.shape == (th, tw)
    assert y.dtype == u.dtype == dtype
    for i, row in enumerate(m.origins):
        for j, (oy, ox) in enumerate(row):
            np.testing.assert_array_equal(y[i * th:(i + 1) * th, j * tw:(j + 1) * tw],
                                          planes[0][oy:oy + th, ox:ox + tw])
            for out, src in ((u, planes[1]), (v, planes[2])):
                np.testing.assert_array_equal(
                    out[i * th // 2:(i + 1) * th // 2, j * tw // 2:(j + 1) * tw // 2],
                    src[oy // 2:(oy + th) // 2, ox // 2:(ox + tw) // 2])


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "yuv420p10le"])
def test_proxy_encoder_writes_the_source_tiles(tmp_path, pix_fmt):
    settings = PLAIN.with_(pix_fmt=pix_fmt, crf=0 if pix_fmt == "yuv420p" else 10)
    m = mosaic(176, 144)
    src = list(frames(CARPHONE, 6))
    with ProxyEncoder(tmp_path / "p.mkv", settings, 176, 144, Fraction(30)) as enc:
        assert enc.size == m.size
        for f in src:
            enc.add(enc.picture(f))
        sizes = enc.finish()
    assert len(sizes.bytes) == 6 and sizes.keys[0]
    import av

    with av.open(str(tmp_path / "p.mkv")) as c:
        out = [f.to_ndarray(format="yuv420p") for f in c.decode(video=0)]
    want = m.cut([np.asarray(p) for p in _planes(src[2])])[0]
    got = out[2][:m.size[1]]
    assert got.shape == want.shape
    # The tiles are the source's pixels (lossless at CRF 0; near them at 10-bit CRF 10).
    assert np.abs(got.astype(int) - want.astype(int)).mean() < (0.01 if pix_fmt == "yuv420p" else 2)


def _planes(frame):
    a = frame.to_ndarray(format="yuv420p")
    h, w = frame.height, frame.width
    return a[:h], a[h:h + h // 4].reshape(h // 2, w // 2), a[h + h // 4:].reshape(h // 2, w // 2)


def test_prediction_scales_each_picture_kind():
    full = sizes([900, 100, 100, 100, 800, 100, 100, 100], [1, 0, 0, 0, 1, 0, 0, 0])
    win = sizes([400, 50, 50], [1, 0, 0])
    proxy = SizeProxy(full, win, (8, 8))
    # A trial equal to the window proxy predicts the full proxy itself.
    assert proxy.predict(win) == pytest.approx(full.bytes.sum())
    # Key frames twice as dear at full size, the rest three times.
    trial = sizes([800, 150, 150], [1, 0, 0])
    assert proxy.predict(trial) == pytest.approx(1700 * 2 + 600 * 3)
    # Linear in the trial's bytes.
    doubled = sizes(trial.bytes * 2, trial.keys)
    assert proxy.predict(doubled) == pytest.approx(2 * proxy.predict(trial))


def test_a_kind_the_trial_lacks_borrows_the_all_frames_ratio():
    full = sizes([900, 100, 100, 800], [1, 0, 0, 1])
    win = sizes([400, 50], [1, 0])
    trial = sizes([300, 300], [0, 0])  # the encoder chose no key frame in the trial
    ratio = trial.bytes.mean() / win.bytes.mean()  # 300 / 225, for the key frames
    expected = 1700 * ratio + 200 * 300 / 50
    assert SizeProxy(full, win, (8, 8)).predict(trial) == pytest.approx(expected)


def test_real_proxy_predicts_a_real_full_encode(tmp_path):
    sample = with_proxy(make_sample(CARPHONE, tmp_path / "s.mkv", count=3, seconds=0.3), PLAIN)
    proxy = sample.proxy
    assert proxy is not None
    assert len(proxy.full.bytes) == sample.source_frames and proxy.full.keys[0]
    assert len(proxy.windows.bytes) == sample.frames
    assert proxy.size == mosaic(176, 144).size == (128, 128)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.mkv"]  # the proxies are gone
    trial = tmp_path / "t.mkv"
    encode(sample.path, trial, PLAIN, overwrite=True, progress=False)
    scorer = SampleScorer(sample, "psnr")
    _, predicted = scorer.predict(*scorer.score(trial))
    assert predicted == pytest.approx(proxy.predict(FrameSizes.of_file(trial)))
    full = tmp_path / "full.mp4"
    encode(CARPHONE, full, PLAIN, overwrite=True, progress=False)
    real = video_payload_bytes(full)
    assert abs(real / predicted - 1) < 0.06, (real, predicted)


def test_whole_video_sample_needs_no_proxy(tmp_path):
    sample = with_proxy(make_sample(CARPHONE, tmp_path / "s.mkv", count=1, seconds=60), PLAIN)
    assert sample.windows == ((0, sample.source_frames),) and sample.proxy is None


def test_a_small_picture_is_encoded_whole_and_the_callers_frames_keep_their_times(tmp_path):
    # 62 x 42: too small for tiles, and its chroma rows do not stack as luma-wide rows.
    src = [f.reformat(width=62, height=42, format="yuv420p") for f in frames(CARPHONE, 5)]
    for i, f in enumerate(src):
        f.pts, f.time_base = 1000 + 40 * i, Fraction(1, 1000)
    with ProxyEncoder(tmp_path / "p.mkv", PLAIN, 62, 42, Fraction(25)) as enc:
        assert enc.size == (62, 42)
        for f in src:
            enc.add(enc.picture(f))
        sizes = enc.finish()
    assert len(sizes.bytes) == 5 and sizes.bytes.min() > 0
    assert [(f.pts, f.time_base) for f in src] == [(1000 + 40 * i, Fraction(1, 1000))
                                                   for i in range(5)]
