"""Smoke tests of the benchmark harness on tiny real inputs (no ../shared needed).

They check structure and the measuring machinery, never timings: a shared
machine makes any time limit flaky.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from benchmarks import common, plain_x264, report
from benchmarks.compression import prepare_still
from benchmarks.run import SECTIONS, Plan, _sections, make_plan, run_plan
from salcodec import bitstream

REPO = Path(__file__).resolve().parents[1]
CARPHONE = REPO / "salcodec" / "data" / "carphone.mp4"
BBB_AUDIO = REPO / "tests" / "data" / "bbb_audio.mp4"


def _video_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(c.streams.video[0]) if p.size]


def test_child_peak_rss_is_its_own(tmp_path):
    # 300 MB here must not show up as the child's peak (Linux keeps a
    # process's high-water mark across exec; the launcher avoids inheriting ours).
    ballast = np.ones(300 * 2**20 // 8)
    small = common.run_child(["-c", "print('{\"ok\": 1}')"])
    big = common.run_child(["-c", "import numpy as np; a = np.ones(200 * 2**20 // 8); "
                                  "a += 1; print(a.size)"])
    assert ballast.sum() > 0
    assert small.output == {"ok": 1}
    assert 0 < small.max_rss_mib < 150
    assert big.max_rss_mib > small.max_rss_mib + 150
    assert small.wall_s > 0 and small.cpu_s >= 0


def test_child_failure_raises_with_stderr():
    with pytest.raises(common.ChildError, match="boom"):
        common.run_child(["-c", "import sys; sys.exit('boom')"])


def test_plain_baseline_is_bit_exact_with_no_saliency_and_copies_audio(tmp_path):
    import salcodec

    plain, nosal = tmp_path / "plain.mp4", tmp_path / "nosal.mp4"
    info = plain_x264.transcode(BBB_AUDIO, plain, crf=30, preset="veryfast")
    salcodec.encode(BBB_AUDIO, nosal, crf=30, preset="veryfast", saliency=False,
                    progress=False)
    assert info["frames"] == 50
    assert info["options"] == {"crf": "30", "preset": "veryfast"}
    # Same settings and frames reach libx264: identical bitstreams.
    assert _video_packets(plain) == _video_packets(nosal)
    with av.open(str(plain)) as out, av.open(str(BBB_AUDIO)) as src:
        assert len(out.streams.audio) == 1
        a_out = [bytes(p) for p in out.demux(out.streams.audio[0]) if p.size]
        a_src = [bytes(p) for p in src.demux(src.streams.audio[0]) if p.size]
    assert a_out == a_src


def test_cut_video_is_a_decodable_prefix(tmp_path):
    dst = tmp_path / "cut.mp4"
    kept = common.cut_video(BBB_AUDIO, dst, 1.0)
    info = common.video_info(dst)
    assert 20 <= kept["video_packets"] <= 30
    assert info["frames"] == kept["video_packets"] and info["audio"]
    with av.open(str(dst)) as c:
        decoded = sum(1 for _ in c.decode(video=0))
    assert decoded == kept["video_packets"]
    assert _video_packets(dst) == _video_packets(BBB_AUDIO)[:decoded]


def test_prepare_still_keeps_map_aligned(tmp_path):
    rgb = common.real_frames(CARPHONE, 1, (176, 144))[0]
    density = np.zeros(rgb.shape[:2], np.float32)
    density[30:50, 100:130] = 1.0
    clip, map_path, size = prepare_still(rgb, density, tmp_path, max_width=88, frames=2)
    assert size == (88, 72)
    m = cv2.imread(str(map_path), cv2.IMREAD_UNCHANGED)
    assert m.dtype == np.uint16 and m.shape == (72, 88)
    ys, xs = np.nonzero(m > m.max() / 2)
    assert 15 <= ys.mean() <= 25 and 50 <= xs.mean() <= 65  # half-size copy of the box
    assert common.video_info(clip)["frames"] == 2
    with av.open(str(clip)) as c:
        packets = sum(p.size for p in c.demux(c.streams.video[0]))
    # x264's settings SEI (hundreds of bytes) is not counted as picture data.
    assert 0 < bitstream.video_payload_bytes(clip) < packets - 300


def _fixation_set(root: Path) -> Path:
    """Two stills from the carphone clip, each with a density map on the face."""
    (root / "stimuli").mkdir(parents=True)
    (root / "maps").mkdir()
    for i, rgb in enumerate(common.real_frames(CARPHONE, 2, (176, 144))):
        cv2.imwrite(str(root / "stimuli" / f"im{i}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        yy, xx = np.mgrid[0:144, 0:176]
        d = np.exp(-((xx - 110 - 5 * i) ** 2 + (yy - 60) ** 2) / (2 * 15.0**2))
        cv2.imwrite(str(root / "maps" / f"im{i}.png"), np.round(d * 255).astype(np.uint8))
    return root


def _finite_positive(x) -> bool:
    return isinstance(x, float | int) and math.isfinite(x) and x > 0


def test_run_plan_tiny_writes_every_section(tmp_path):
    plan = Plan(
        mode="quick", sections=list(SECTIONS),
        frames_clip=CARPHONE, frames_count=2, min_seconds=0.01, models=["centre", "lc"],
        resolutions=((64, 36), (128, 72)),
        overhead_clip=BBB_AUDIO, presets=("medium",), reps=1, crf=30,
        long_clip=CARPHONE, short_seconds=1.0, long_seconds=None, memory_preset="veryfast",
        memory_reps=1,
        clips=[(CARPHONE, None)], compare_crfs=(24, 36),
        fixation_sets=[_fixation_set(tmp_path / "fix")], fixation_images=2,
        fixation_crfs=(24, 36), strengths=(4.0,), fixation_models=["default"],
        still_frames=2, max_width=176,
        profile_clip=BBB_AUDIO, profile_preset="veryfast",
    )
    out = tmp_path / "out"
    results = run_plan(plan, out, "python -m benchmarks.run (test)", log=lambda _m: None)
    failed = {k: v.get("reason") for k, v in results["sections"].items() if v["status"] != "ok"}
    assert not failed

    text = (out / "RESULTS.md").read_text()
    for title in report.SECTION_TITLES.values():
        assert f"## {title}" in text
    assert "## Machine and versions" in text and "## Targets" in text
    data = json.loads((out / "results.json").read_text())
    assert data["versions"]["av"] == av.__version__ and data["machine"]["cores"] >= 1

    sec = data["sections"]
    rows = sec["saliency"]["result"]["rows"]
    assert [r["model"] for r in rows] == ["centre", "lc"]
    for r in rows:
        assert all(_finite_positive(v) for v in r["fps"].values())
    assert rows[1]["numba_cache_index_files"] >= 1  # lc is numba: the cache was written
    start = sec["saliency"]["result"]["encode_start"]
    assert all(_finite_positive(start[k]["wall_s"]) for k in ("empty_cache", "cached"))

    ovh = sec["overhead"]["result"]["presets"]["medium"]
    for key in ("ratio_salcodec_vs_plain", "ratio_nosaliency_vs_plain"):
        assert _finite_positive(ovh[key]["wall"]) and _finite_positive(ovh[key]["peak_rss"])
    assert ovh["identical_bitstream_plain_vs_nosaliency"] is True

    mem = sec["memory"]["result"]
    assert mem["short"]["frames"] < mem["long"]["frames"] == 120
    assert _finite_positive(mem["arms"]["salcodec"]["growth"])

    row = sec["compression"]["result"]["rows"][0]
    assert set(row["bd_rate_pchip"]) >= {"psnr", "ssim", "wpsnr", "wssim"}
    assert row["evaluation_weights"]["circular"] is False

    fix = sec["fixations"]["result"]["sets"]["fix"]
    assert fix["images"] == 2
    assert math.isfinite(fix["summary"]["default s=4"]["psnr"]["mean"])

    prof = sec["profile"]["result"]
    assert prof["worker"]["calls"] == 50 and prof["main_thread_top"]
    assert isinstance(data["gaps"], list)
    assert {t["target"].split(",")[0] for t in data["targets"]} >= {
        "wall-time ratio salcodec / plain", "peak-RSS ratio salcodec / plain"}


def test_missing_data_skips_sections(tmp_path):
    plan = make_plan(tmp_path, quick=True, only=list(SECTIONS))
    assert set(plan.missing) == set(SECTIONS)
    plan.sections = ["memory", "fixations"]
    results = run_plan(plan, tmp_path / "out", "cmd", log=lambda _m: None)
    assert {v["status"] for v in results["sections"].values()} == {"skipped"}
    assert "skipped:" in (tmp_path / "out" / "RESULTS.md").read_text()


def test_only_rejects_unknown_sections():
    import argparse

    assert _sections("memory,profile") == ["memory", "profile"]
    with pytest.raises(argparse.ArgumentTypeError):
        _sections("memory,nonsense")


def test_tune_default_scores_every_combination(capsys):
    from benchmarks import tune_default

    grid = tune_default.parse_grid(["face_weight=0,1", "n_thresholds=4,6"])
    assert grid == {"face_weight": [0.0, 1.0], "n_thresholds": [4, 6]}
    results = tune_default.search(REPO / "tests" / "data" / "fixations" / "points", grid, limit=2)
    assert len(results) == 4 and all(r["n"] == 2 for r in results)
    assert [r["nss"] for r in results] == sorted((r["nss"] for r in results), reverse=True)
    combos = {tuple(r["params"].values()) for r in results}
    assert combos == {(0.0, 4), (0.0, 6), (1.0, 4), (1.0, 6)}
    with pytest.raises(SystemExit, match="NAME one of"):
        tune_default.parse_grid(["bogus=1"])


def test_tune_stills_reproduces_the_default_model_and_its_scores():
    # The still-branch search fuses cached cues: it must give the model's own
    # map and the metrics module's scores, or its choice would not carry over.
    from benchmarks import tune_stills
    from salcodec.saliency.base import normalize_map, upscale
    from salcodec.saliency.datasets import iter_dataset
    from salcodec.saliency.fusion import DefaultModel
    from salcodec.saliency.metrics import auc_judd, nss
    from salcodec.saliency.priors import centre_prior

    root = REPO / "tests" / "data" / "fixations" / "points"
    items = tune_stills.cache_set(root)
    shipped = {**tune_stills.BASE, "sigma": 0.3, "gaze": 2.0, "gamma": 1.25, "mirror": True}
    for params, model in ((tune_stills.BASE, DefaultModel(
            first_gaze_mirror=False, centre_sigma=0.25, gaze_weight=0.75, gamma=1.5)),
            (shipped, DefaultModel())):
        for item, (_, rgb, fix, _) in zip(items, iter_dataset(root), strict=True):
            model.reset()
            fused = tune_stills.fuse(item, params, centre_prior(item["bms"].shape, params["sigma"]))
            sal = model(rgb)
            np.testing.assert_allclose(upscale(normalize_map(fused), item["shape"]), sal,
                                       atol=1e-5)
            got = tune_stills.scores(fused, item)
            assert got == pytest.approx((nss(sal, fix), auc_judd(sal, fix)), abs=1e-5)


def test_saliency_speed_encoder_sorts_every_frame_by_what_ran():
    from benchmarks.saliency_speed import encoder_fps, load_frames, yuv_frames

    frames = yuv_frames(load_frames(BBB_AUDIO, limit=20), (320, 180))  # 38 frames, no cut
    row = encoder_fps(frames, cadence=3, seconds=0.0)
    kinds = row["kinds"]
    assert row["frames"] == len(frames) == sum(k["frames"] for k in kinds.values())
    # Two of every three frames reuse the last analysis; the learned map runs every 18.
    assert abs(kinds["carried"]["frames"] - 2 * len(frames) / 3) <= 1
    assert sum(v["frames"] for k, v in kinds.items() if "gaze" in k) == 2
    assert row["fps"] > 0 and row["fps_analysed"] < row["fps"]
    assert all(k == "carried" or k.startswith("analysed") for k in kinds)
