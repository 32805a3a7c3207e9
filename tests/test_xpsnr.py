"""XPSNR against FFmpeg's own xpsnr filter (through PyAV), numba against numpy, weighted form."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from salcodec.quality import FrameAligner, ffmpeg_metrics, measure
from salcodec.quality import xpsnr as X
from salcodec.quality.video import frame_planes

from .media import clip

#: FFmpeg prints each value as float32 with 6 decimals: about 2e-6 dB apart at 30-40 dB.
FFMPEG_TOL = 5e-6


def _distort(src: Path, dst: Path, *, limit: int, size: tuple[int, int] | None = None,
             crf: int = 34, rate: int = 25) -> tuple[Path, Path]:
    """Lossless reference (optionally resized) and a libx264 CRF copy of its first frames."""
    ref = dst.with_name(dst.stem + "_ref.mkv")
    with av.open(str(src)) as c:
        frames = [f for _, f in zip(range(limit), c.decode(video=0), strict=False)]
    w, h = size or (frames[0].width, frames[0].height)
    for path, opts in ((ref, {"qp": "0"}), (dst, {"crf": str(crf)})):
        with av.open(str(path), "w", format="matroska") as out:
            s = out.add_stream("libx264", rate=rate)
            s.width, s.height, s.pix_fmt = w, h, "yuv420p"
            s.options = {**opts, "preset": "ultrafast"}
            for i, f in enumerate(frames):
                g = f.reformat(width=w, height=h, format="yuv420p")
                g.pts, g.time_base = i, Fraction(1, rate)
                out.mux(s.encode(g))
            out.mux(s.encode(None))
    return ref, dst


def _planes(frame: av.VideoFrame) -> list[np.ndarray]:
    return [np.array(p) for p in frame_planes(frame)]


def _ours_and_ffmpeg(ref: Path, dist: Path, fps: float, reference: bool = False):
    with FrameAligner(ref, dist) as a:
        pairs = list(a)
        ours_meter = X.XPSNR(fps=fps, reference=reference)
        ours = [ours_meter(_planes(p.ref.frame), _planes(p.dist.frame)) for p in pairs]
        theirs = ffmpeg_metrics(pairs, ("xpsnr",), fps=fps)
    return ours, theirs


def _assert_close(ours, theirs):
    assert len(ours) == len(theirs) > 0
    for o, t in zip(ours, theirs, strict=True):
        for c in "yuv":
            assert o[c] == pytest.approx(t[f"xpsnr_{c}"], abs=FFMPEG_TOL)


@pytest.fixture(scope="module")
def carphone_pair(tmp_path_factory):
    return _distort(clip("carphone.mp4"), tmp_path_factory.mktemp("x") / "carphone.mkv",
                    limit=12, crf=36)


def test_measure_matches_ffmpeg_filter_per_frame(carphone_pair):
    # 176x144: 8x8 blocks, min-smoothing, first-order temporal term (25 fps).
    ref, dist = carphone_pair
    r = measure(ref, dist, ["xpsnr"])
    with FrameAligner(ref, dist) as a:
        theirs = ffmpeg_metrics(a, ("xpsnr",), fps=r.ref.fps)
    assert r.frames_compared == len(theirs) == 12
    for rec, t in zip(r.per_frame, theirs, strict=True):
        assert rec["xpsnr"] == pytest.approx(t["xpsnr_y"], abs=FFMPEG_TOL)
        assert rec["xpsnr_u"] == pytest.approx(t["xpsnr_u"], abs=FFMPEG_TOL)
        assert rec["xpsnr_v"] == pytest.approx(t["xpsnr_v"], abs=FFMPEG_TOL)
    # A real, non-trivial weighting: XPSNR differs from PSNR on this clip.
    p = measure(ref, dist, ["psnr"]).values("psnr")
    assert np.abs(r.values("xpsnr") - p).mean() > 0.5


def test_second_order_temporal_term_from_32_fps(carphone_pair):
    ours, theirs = _ours_and_ffmpeg(*carphone_pair, fps=50)
    _assert_close(ours, theirs)
    first = [o["y"] for o in _ours_and_ffmpeg(*carphone_pair, fps=25)[0]]
    assert any(abs(o["y"] - f) > 1e-3 for o, f in zip(ours[2:], first[2:], strict=True))


def test_vga_without_smoothing_and_odd_chroma(tmp_path):
    # asl_again is 640x480 (smoothing applies up to 640x480); 650x362 is above
    # it, with 20-pixel blocks whose last column and row are partial.
    src = Path(__file__).parent / "data" / "asl_again.mkv"
    for size in [(640, 480), (650, 362)]:
        pair = _distort(src, tmp_path / f"asl{size[0]}.mkv", limit=4, size=size)
        ours, theirs = _ours_and_ffmpeg(*pair, fps=30)
        _assert_close(ours, theirs)


def test_above_2048x1152_downsampled_highpass(tmp_path):
    pair = _distort(clip("bbb_audio.mp4"), tmp_path / "big.mkv", limit=3, size=(2080, 1172))
    ours, theirs = _ours_and_ffmpeg(*pair, fps=25)
    _assert_close(ours, theirs)


def test_numba_kernel_equals_numpy_reference(carphone_pair, tmp_path):
    big = _distort(clip("bbb_audio.mp4"), tmp_path / "big.mkv", limit=2, size=(2064, 1160))
    vga = _distort(Path(__file__).parent / "data" / "asl_again.mkv", tmp_path / "v.mkv",
                   limit=3, size=(650, 362))
    for pair, fps in ((carphone_pair, 25), (carphone_pair, 50), (vga, 30), (big, 60)):
        with FrameAligner(*pair) as a:
            frames = [(_planes(p.ref.frame), _planes(p.dist.frame)) for p in a][:3]
        fast, slow = X.XPSNR(fps=fps), X.XPSNR(fps=fps, reference=True)
        for r, d in frames:
            o1, o2 = fast(r, d), slow(r, d)
            for k in ("y", "u", "v", "wsse_y"):
                assert o1[k] == pytest.approx(o2[k], rel=1e-12)
        w1 = X.block_weights(frames[-1][0][0], frames[-2][0][0], fps=fps)
        w2 = X.block_weights(frames[-1][0][0], frames[-2][0][0], fps=fps, reference=True)
        np.testing.assert_allclose(w1, w2, rtol=1e-12)


def test_block_size_and_order():
    assert X.block_size(3840, 2160) == 128
    assert X.block_size(1280, 720) == 44
    assert X.block_size(176, 144) == 8
    assert X.block_size(40, 40) == 0  # FFmpeg falls back to PSNR
    assert X.temporal_order(29.97) == 1 and X.temporal_order(50) == 2
    assert X.temporal_order(None) == 1


def test_weighted_form(carphone_pair):
    ref, dist = carphone_pair
    with FrameAligner(ref, dist) as a:
        frames = [(_planes(p.ref.frame), _planes(p.dist.frame)) for p in a][:4]
    (r0, d0), (r1, d1) = frames[0], frames[1]
    m = X.XPSNR(fps=25)
    m(r0, d0)
    uniform = X.xpsnr_planes(r1, d1, r0[0], None, fps=25, saliency=np.full(r1[0].shape, 3.0))
    assert uniform["wxpsnr"] == pytest.approx(uniform["y"], abs=1e-6)
    # By hand: the weighted SSE of each block with the block's XPSNR weight.
    h, w = r1[0].shape
    sal = np.zeros((h, w))
    sal[40:100, 60:120] = 1.0
    got = X.xpsnr_planes(r1, d1, r0[0], None, fps=25, saliency=sal)["wxpsnr"]
    bw = X.block_weights(r1[0], r0[0], fps=25)
    e2 = (r1[0].astype(float) - d1[0]) ** 2 * sal / sal.mean()
    b = X.block_size(w, h)
    per_block = e2.reshape(h // b, b, w // b, b).sum(axis=(1, 3))
    scale = math.sqrt(16 * 2**7 / math.sqrt(w * h / 3840 / 2160))
    wsse = math.floor(float((per_block * bw).sum()) * scale + 0.5)
    assert got == pytest.approx(10 * math.log10(w * h * 255**2 / wsse), abs=1e-9)
    assert abs(got - uniform["y"]) > 0.1  # the region's error differs from the frame's


def test_measure_wxpsnr_and_ffmpeg_pooling(carphone_pair):
    ref, dist = carphone_pair
    r = measure(ref, dist, ["xpsnr", "wxpsnr"], weights="model:centre")
    v = r.values("wxpsnr")
    assert np.all(np.isfinite(v)) and np.abs(v - r.values("xpsnr")).max() > 0.05
    # FFmpeg's sequence value: PSNR of the squared mean root of the weighted SSEs.
    wsse = [r.ref.width * r.ref.height * 255**2 / 10 ** (x / 10) for x in r.values("xpsnr")]
    pooled = 10 * math.log10(r.ref.width * r.ref.height * 255**2 / np.mean(np.sqrt(wsse)) ** 2)
    assert r.summary["xpsnr"]["ffmpeg_pooled"] == pytest.approx(pooled, abs=1e-6)
    assert r.summary["xpsnr"]["ffmpeg_pooled"] <= r.summary["xpsnr"]["mean"] + 1e-9


def test_identical_frames_are_capped(carphone_pair):
    ref, _ = carphone_pair
    r = measure(ref, ref, ["xpsnr"], max_frames=2)
    assert r.values("xpsnr").tolist() == [100.0, 100.0]
