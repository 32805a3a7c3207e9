"""Gaze on video: the gaze table, per-frame scores, eval-saliency on clips, gaze: weights."""

from __future__ import annotations

import csv
import json
import shutil
from fractions import Fraction
from itertools import islice
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from salcodec.cli import main
from salcodec.errors import InputError, SalcodecError
from salcodec.quality import WeightSpec, fixation_map, measure, parse_weights, read_fixations
from salcodec.saliency import get_model
from salcodec.saliency.datasets import dataset_layout, evaluate_videos
from salcodec.saliency.videogaze import (
    HUMAN_ROW,
    evaluate_video,
    find_gaze_videos,
    gaussian_sum,
    is_gaze_video,
    read_gaze_table,
    score_video,
)

DATA = Path(__file__).parent / "data"
CLIP = DATA / "asl_again.mkv"  # 640x480, 77 frames
W, H = 640, 480
SHARED_GAZE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "gaze-video"

HEADER = "ved_frame_1based,clip_frame_0based,recording_id,x_px,y_px,in_frame,extra"


def _rows() -> tuple[list[str], dict[int, list[tuple[float, float]]]]:
    """Synthetic gaze on frames 0..11 (not 12..), and the units it should give.

    Three recordings; each has three samples per frame around a point that
    drifts right; one more sample per frame is off-screen (in_frame 0) and
    one lies outside the picture with in_frame 1 (dropped by the size check).
    Frame 5 has no in-frame sample at all.
    """
    lines = []
    units: dict[int, list[tuple[float, float]]] = {}
    centres = {"a": (200.0, 150.0), "b": (420.0, 300.0), "c": (430.0, 310.0)}
    for k in range(12):
        if k == 5:
            lines.append(f"{k + 1},{k},a,900,100,0,x")
            continue
        units[k] = []
        for rec, (cx, cy) in centres.items():
            cx += 3 * k
            for dx, dy in ((-2.0, 1.0), (0.0, -1.0), (2.0, 0.0)):
                lines.append(f"{k + 1},{k},{rec},{cx + dx},{cy + dy},1,x")
            units[k].append((cx, cy))
        lines.append(f"{k + 1},{k},a,10,20,0,x")  # off-screen, flagged
        lines.append(f"{k + 1},{k},b,{W + 5},20,1,x")  # outside the picture
    return lines, units


@pytest.fixture
def gaze_clip(tmp_path) -> tuple[Path, dict]:
    folder = tmp_path / "signer"
    folder.mkdir()
    shutil.copy(CLIP, folder / "clip.mkv")
    lines, units = _rows()
    (folder / "gaze.csv").write_text(HEADER + "\n" + "\n".join(lines) + "\n")
    return folder, units


def test_table_gives_one_unit_per_recording_per_frame(gaze_clip):
    folder, units = gaze_clip
    assert is_gaze_video(folder) and not is_gaze_video(folder.parent / "nope")
    gv = read_gaze_table(folder / "gaze.csv")
    assert (gv.width, gv.height) == (W, H) and gv.clip == folder / "clip.mkv"
    assert gv.recording_names == ("a", "b", "c") and gv.n_frames == 12
    assert gv.samples == 11 * 9
    for k in range(12):
        got = gv.fixations(k)
        assert got.shape == (len(units.get(k, [])), 2)
        np.testing.assert_allclose(got, np.array(units.get(k, np.zeros((0, 2)))))
    assert gv.fixations(40).shape == (0, 2)
    assert len(gv.fixations(5, pool=1)) == 6
    mask = gv.fixation_mask(3)
    assert sorted(map(tuple, np.argwhere(mask))) == [(150, 209), (300, 429), (310, 439)]
    # Half-size mask: the same points scaled.
    assert mask.shape == (H, W) and gv.fixation_mask(3, (H // 2, W // 2)).sum() == 3


def test_density_pools_neighbours_and_matches_a_blur(gaze_clip):
    folder, _ = gaze_clip
    gv = read_gaze_table(folder / "gaze.csv")
    d = gv.density(5, pool=2)  # frame 5 has no gaze of its own: 3..7 do
    imp = np.zeros((H, W))
    for k in (3, 4, 6, 7):
        for x, y in gv.fixations(k):
            imp[int(y), int(x)] += 1
    ref = cv2.GaussianBlur(imp, (0, 0), W / 30, borderType=cv2.BORDER_CONSTANT)
    np.testing.assert_allclose(d, ref, atol=2e-4 * ref.max())
    assert d.sum() == pytest.approx(12, rel=1e-3)
    assert not gv.density(5, pool=0).any()
    assert not gv.density(30).any()


def test_gaussian_sum_equals_blurred_impulses():
    rng = np.random.default_rng(1)
    rows = rng.integers(0, 60, 40)
    cols = rng.integers(0, 90, 40)
    rows[:5] = 0  # points sharing a row and sitting on the edge
    imp = np.zeros((60, 90))
    np.add.at(imp, (rows, cols), 1.0)
    for sigma in (1.5, 6.0):
        ref = cv2.GaussianBlur(imp, (0, 0), sigma, borderType=cv2.BORDER_CONSTANT)
        got = gaussian_sum(rows, cols, (60, 90), sigma)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, ref, atol=1e-3 * ref.max())
    assert not gaussian_sum(rows[:0], cols[:0], (4, 5), 2.0).any()


@pytest.mark.parametrize(
    "text, match",
    [
        ("", "empty gaze table"),
        ("clip_frame_0based,recording_id,x_px\n0,a,3\n", "needs a column y_px or y"),
        (f"{HEADER}\n1,0,a,zz,3,1,x\n", "line 2: x_px is not a number"),
        (f"{HEADER}\n1,0.5,a,3,3,1,x\n", "line 2: frame index must be a whole number"),
        (f"{HEADER}\n1,-1,a,3,3,1,x\n", "frame index must be a whole number"),
        (f"{HEADER}\n1,0,a,3,3,1,x\n2,1,a,3\n", "line 3: 4 columns"),
        (f"{HEADER}\n1,0,a,3,3,yes,x\n", "in_frame is not a number"),
        (f"{HEADER}\n1,0,a,3,3,0,x\n", "no gaze sample inside the frame"),
    ],
)
def test_bad_tables_are_one_line(tmp_path, text, match):
    p = tmp_path / "gaze.csv"
    p.write_text(text)
    with pytest.raises(InputError, match=match) as info:
        read_gaze_table(p, size=(W, H))
    assert str(p) in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(InputError, match="no such gaze table"):
        read_gaze_table(tmp_path / "missing.csv", size=(W, H))


def test_short_column_names_without_clip(tmp_path):
    p = tmp_path / "g.csv"
    p.write_text("frame,recording,x,y\n0,1,10.5,20\n0,1,12.5,22\n0,2,nan,3\n")
    gv = read_gaze_table(p)
    assert gv.clip is None and gv.width is None
    np.testing.assert_allclose(gv.fixations(0), [[11.5, 21.0]])
    with pytest.raises(ValueError, match="frame size unknown"):
        gv.fixation_mask(0)
    assert gv.fixation_mask(0, (30, 40))[21, 11]


def _centre(h: int, w: int) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.exp(-(((x - w / 2) / (w / 4)) ** 2 + ((y - h / 2) / (h / 4)) ** 2) / 2)


def test_score_video_rewards_maps_on_the_gaze(gaze_clip):
    folder, units = gaze_clip
    gv = read_gaze_table(folder / "gaze.csv")
    on_gaze = [gv.density(k, (H // 4, W // 4), pool=0) for k in range(14)]  # any size
    good = score_video(on_gaze, gv)
    centre = score_video([_centre(H, W)] * 14, gv)
    flat = score_video([np.ones((H, W))] * 14, gv)
    # 14 maps: frames 0..11 but 5 have gaze; 5, 12 and 13 are skipped and counted.
    for r in (good, centre, flat):
        assert r["frames"] == 11 and r["skipped"] == 3
        assert [f["frame"] for f in r["per_frame"]] == [k for k in range(12) if k != 5]
        assert all(f["fixations"] == 3 for f in r["per_frame"])
    assert good["nss"] > centre["nss"] + 1 and good["auc_judd"] > centre["auc_judd"]
    assert good["cc"] > centre["cc"]
    assert flat["nss"] == 0 and flat["cc"] == 0 and flat["auc_judd"] == pytest.approx(0.5)
    assert good["nss"] == pytest.approx(np.mean([f["nss"] for f in good["per_frame"]]))
    # Scoring at a smaller size keeps the ranking (the fast path for tuning).
    small = score_video(on_gaze, gv, shape=(H // 4, W // 4))
    assert small["nss"] > score_video([_centre(H, W)] * 14, gv, shape=(H // 4, W // 4))["nss"]
    assert np.isnan(score_video([], gv)["nss"])


class _Spy:
    """A 'model' that records the frames it is shown and looks at one spot."""

    def __init__(self):
        self.seen = []

    def __call__(self, rgb):
        self.seen.append(rgb.copy())
        m = np.zeros(rgb.shape[:2], np.float32)
        m[140:160, 190:230] = 1.0  # recording a's region
        return m


def test_evaluate_video_streams_frames_in_order(gaze_clip):
    folder, _ = gaze_clip
    (gv,) = find_gaze_videos(folder)
    spy = _Spy()
    rows = evaluate_video({"spy": spy}, gv, limit=8, human=True)
    assert list(rows) == ["spy", "centre", HUMAN_ROW]
    with av.open(str(CLIP)) as c:
        expected = [f.to_ndarray(format="rgb24") for f in islice(c.decode(video=0), 8)]
    assert len(spy.seen) == 8  # every frame, scored or not
    assert all(np.array_equal(a, b) for a, b in zip(spy.seen, expected, strict=True))
    assert rows["spy"]["frames"] == 7 and rows["spy"]["skipped"] == 1
    assert rows["spy"]["nss"] > 0 and rows["spy"]["seconds"] >= 0
    assert rows[HUMAN_ROW]["cc"] == pytest.approx(1.0) and "seconds" not in rows[HUMAN_ROW]
    # A model name gets a fresh instance; centre is not doubled.
    assert list(evaluate_video("centre", gv, limit=2)) == ["centre"]


def test_dataset_layouts(gaze_clip, tmp_path):
    folder, _ = gaze_clip
    assert dataset_layout(folder) == dataset_layout(folder.parent) == "gaze-video"
    assert dataset_layout(DATA / "fixations" / "points") == "stills"
    with pytest.raises(SalcodecError, match="no gaze video"):
        find_gaze_videos(DATA / "fixations")
    clips = evaluate_videos(folder.parent, {"lc": lambda: get_model("lc")}, limit=3)
    assert list(clips) == ["signer"] and clips["signer"]["size"] == [W, H]
    assert clips["signer"]["models"]["lc"]["frames"] == 3


def test_cli_eval_on_gaze_video(gaze_clip, capsys, tmp_path):
    folder, _ = gaze_clip
    per_frame = tmp_path / "frames.csv"
    assert main(["eval-saliency", str(folder.parent), "--model", "lc", "--limit", "8",
                 "--per-frame", str(per_frame), "--json", "--quiet"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["layout"] == "gaze-video"
    models = doc["clips"]["signer"]["models"]
    assert set(models) == {"lc", "centre"}
    assert models["lc"]["frames"] == 7 and models["lc"]["skipped"] == 1
    assert "per_frame" not in models["lc"]
    with per_frame.open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 14 and {r["model"] for r in rows} == {"lc", "centre"}
    nss = [float(r["nss"]) for r in rows if r["model"] == "lc"]
    assert np.mean(nss) == pytest.approx(models["lc"]["nss"], abs=1e-5)
    # A clip whose first frames have no gaze: nothing scored is null in JSON, not NaN.
    late = tmp_path / "late"
    late.mkdir()
    shutil.copy(folder / "clip.mkv", late / "clip.mkv")
    (late / "gaze.csv").write_text(f"{HEADER}\n11,10,a,50,60,1,x\n")
    assert main(["eval-saliency", str(late), "--model", "centre", "--json", "--quiet",
                 "--limit", "2"]) == 0
    centre = json.loads(capsys.readouterr().out)["clips"]["late"]["models"]["centre"]
    assert centre["frames"] == 0 and centre["skipped"] == 2 and centre["nss"] is None
    assert main(["eval-saliency", str(folder), "--model", "centre", "--limit", "3",
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "signer (640x480, 3 frames scored, 0 without gaze)" in out
    assert "| centre |" in out and "ms/frame" in out


def test_cli_eval_errors(gaze_clip, capsys, tmp_path):
    folder, _ = gaze_clip
    assert main(["eval-saliency", str(DATA / "fixations" / "points"), "--per-frame",
                 str(tmp_path / "x.csv")]) == 1
    assert "--per-frame needs a gaze-video dataset" in capsys.readouterr().err
    (folder / "gaze.csv").write_text("clip_frame_0based,recording_id,x_px,y_px\n0,a,1,b\n")
    assert main(["eval-saliency", str(folder), "--model", "centre"]) == 1
    err = capsys.readouterr().err
    assert "gaze.csv: line 2: y_px is not a number" in err and "Traceback" not in err
    assert not (tmp_path / "x.csv").exists()


def _encode_lossy(src: Path, dst: Path, frames: int) -> None:
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        s = out.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        s.options = {"crf": "38", "preset": "veryfast"}
        for i, frame in enumerate(islice(inp.decode(video=0), frames)):
            frame = frame.reformat(format="yuv420p")
            frame.pts, frame.time_base = i, Fraction(1, 30)
            for p in s.encode(frame):
                out.mux(p)
        for p in s.encode():
            out.mux(p)


def test_gaze_weights_in_quality(gaze_clip, tmp_path):
    folder, units = gaze_clip
    table = folder / "gaze.csv"
    dist = tmp_path / "dist.mp4"
    _encode_lossy(folder / "clip.mkv", dist, 7)
    got = measure(folder / "clip.mkv", dist, weights=f"gaze:{table}:sigma=12", max_frames=7,
                  metrics="psnr,wpsnr")

    def by_hand(pair):  # units in continuous coordinates -> pixel centres
        pts = units.get(pair.ref.index)
        return None if pts is None else fixation_map(np.array(pts) - 0.5, (H, W), 12.0)

    ref = measure(folder / "clip.mkv", dist, weights=WeightSpec.from_function(by_hand),
                  max_frames=7, metrics="psnr,wpsnr")
    for a, b in zip(got.per_frame, ref.per_frame, strict=True):
        assert a["wpsnr"] == pytest.approx(b["wpsnr"], abs=1e-9)
    assert got.weights["uniform_fallback_frames"] == 1  # frame 5
    assert got.weights["sigma_px"] == 12 and got.weights["pool"] == 0
    assert got.weights["recordings"] == 3
    assert any(abs(f["wpsnr"] - f["psnr"]) > 0.05 for f in got.per_frame)
    # The fixations: kind reads the same table to the same maps.
    same = measure(folder / "clip.mkv", dist, weights=f"fixations:{table}:sigma=12",
                   max_frames=7, metrics="psnr,wpsnr")
    assert [f["wpsnr"] for f in same.per_frame] == [f["wpsnr"] for f in got.per_frame]
    # Pooling fills frame 5 from its neighbours; default sigma is one degree.
    pooled = measure(folder / "clip.mkv", dist, weights=f"gaze:{table}:pool=1", max_frames=7,
                     metrics="psnr,wpsnr")
    assert pooled.weights["uniform_fallback_frames"] == 0
    assert pooled.weights["sigma_px"] == pytest.approx(W / 30)


def test_gaze_weights_spec_and_errors(gaze_clip, capsys, tmp_path):
    folder, _ = gaze_clip
    spec = parse_weights(f"gaze:{folder}/gaze.csv:sigma=10:pool=2")
    assert (spec.kind, spec.options) == ("gaze", {"sigma": "10", "pool": "2"})
    with pytest.raises(SalcodecError, match="unknown option 'units'"):
        parse_weights("gaze:g.csv:units=norm")
    clip = str(folder / "clip.mkv")
    for spec, message in [
        (f"gaze:{folder}/gaze.csv:pool=-1", "pool must be a whole number"),
        (f"gaze:{tmp_path}/none.csv", "none.csv: gaze table not found"),
        (f"gaze:{folder}/gaze.csv:sigma=0", "sigma must be positive"),
    ]:
        assert main(["quality", clip, clip, "--weights", spec, "--max-frames", "1"]) == 1
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err


def test_read_fixations_accepts_a_gaze_table(gaze_clip):
    folder, units = gaze_clip
    pts, keyed = read_fixations(str(folder / "gaze.csv"))
    assert keyed == "frame" and len(pts) == 33
    np.testing.assert_allclose(pts[pts[:, 0] == 4, 1:], np.array(units[4]) - 0.5)


@pytest.mark.shared
def test_real_gaze_videos():
    if not SHARED_GAZE.is_dir():
        pytest.skip("../shared/data is not present")
    gvs = {gv.name: gv for gv in find_gaze_videos(SHARED_GAZE)}
    assert set(gvs) == {"basketballpass", "partyscene"}
    # Viewers per frame as the data's NOTES.txt counts them (min, median, max).
    counts = {name: [len(gv.fixations(k)) for k in range(gv.n_frames)]
              for name, gv in gvs.items()}
    assert (min(counts["basketballpass"]), np.median(counts["basketballpass"]),
            max(counts["basketballpass"])) == (49, 82.5, 91)
    assert (min(counts["partyscene"]), np.median(counts["partyscene"]),
            max(counts["partyscene"])) == (59, 87.0, 94)
    assert (gvs["partyscene"].width, gvs["partyscene"].height) == (832, 480)
    # 40 frames: the default model's gaze prediction beats the centre prior (on the first
    # 20 its AUC-Judd ties it: 0.745 vs 0.750, NSS 1.15 vs 0.87).
    rows = evaluate_video("default", gvs["basketballpass"], limit=40)
    assert rows["default"]["frames"] == 40
    assert rows["default"]["nss"] > rows["centre"]["nss"] + 0.2
    assert rows["default"]["auc_judd"] > rows["centre"]["auc_judd"]


@pytest.mark.shared
def test_real_gaze_weights(tmp_path):
    folder = SHARED_GAZE / "basketballpass"
    if not folder.is_dir():
        pytest.skip("../shared/data is not present")
    dist = tmp_path / "d.mp4"
    with av.open(str(folder / "clip.mkv")) as inp, av.open(str(dist), "w") as out:
        s = out.add_stream("libx264", rate=50)
        s.width, s.height, s.pix_fmt = 416, 240, "yuv420p"
        s.options = {"crf": "36", "preset": "veryfast"}
        for i, frame in enumerate(islice(inp.decode(video=0), 10)):
            frame.pts, frame.time_base = i, Fraction(1, 50)
            for p in s.encode(frame):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    got = measure(folder / "clip.mkv", dist, weights=f"gaze:{folder}/gaze.csv", max_frames=10,
                  metrics="psnr,wpsnr")
    assert got.weights["uniform_fallback_frames"] == 0
    assert got.weights["sigma_px"] == pytest.approx(416 / 30)
    assert all(np.isfinite(f["wpsnr"]) and f["wpsnr"] != f["psnr"] for f in got.per_frame)
