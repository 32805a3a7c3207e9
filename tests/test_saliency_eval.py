"""Fixation datasets, evaluation and the two saliency commands."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from salcodec.cli import main
from salcodec.errors import SalcodecError
from salcodec.saliency import get_model
from salcodec.saliency.datasets import (
    HUMAN_ROWS,
    density_from_fixations,
    evaluate,
    find_samples,
    fixations_from_density,
    iter_dataset,
    load_ground_truth,
)

FIX = Path(__file__).parent / "data" / "fixations"
DATA = Path(__file__).parent / "data"
SHARED_FIX = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fixations"


def test_find_samples_layouts():
    points = find_samples(FIX / "points")
    assert len(points) == 4
    assert all(s.points is not None and s.density is not None for s in points)
    maps_only = find_samples(FIX / "maps-only")
    assert len(maps_only) == 2 and all(s.points is None for s in maps_only)


def test_find_samples_errors(tmp_path):
    with pytest.raises(SalcodecError, match="no such dataset"):
        find_samples(tmp_path / "missing")
    (tmp_path / "stimuli").mkdir()
    with pytest.raises(SalcodecError, match="no images"):
        find_samples(tmp_path)
    cv2.imwrite(str(tmp_path / "stimuli" / "a.png"), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(SalcodecError, match="no ground truth"):
        find_samples(tmp_path)


def test_subfolder_full_preferred(tmp_path):
    (tmp_path / "stimuli").mkdir()
    cv2.imwrite(str(tmp_path / "stimuli" / "a.png"), np.zeros((8, 8, 3), np.uint8))
    for sub in ("excluding_200ms", "full"):
        (tmp_path / "maps" / sub).mkdir(parents=True)
        cv2.imwrite(str(tmp_path / "maps" / sub / "a.png"), np.ones((8, 8), np.uint8))
    (s,) = find_samples(tmp_path)
    assert s.density.parent.name == "full"


def test_mit1003_names_and_zero_one_masks(tmp_path):
    # MIT1003 names its ground truth NAME_fixMap.jpg / NAME_fixPts.png; some
    # sets store points as a 0/1 mask rather than 0/255.
    for sub in ("stimuli", "fixation_points", "maps"):
        (tmp_path / sub).mkdir()
    cv2.imwrite(str(tmp_path / "stimuli" / "i1.jpeg"), np.zeros((20, 30, 3), np.uint8))
    pts = np.zeros((20, 30), np.uint8)
    pts[5, 7] = pts[12, 20] = 1
    cv2.imwrite(str(tmp_path / "fixation_points" / "i1_fixPts.png"), pts)
    cv2.imwrite(str(tmp_path / "maps" / "i1_fixMap.png"), 200 * pts)
    (sample,) = find_samples(tmp_path)
    assert sample.points.name == "i1_fixPts.png" and sample.density.name == "i1_fixMap.png"
    fixations, _ = load_ground_truth(sample, (20, 30))
    assert sorted(map(tuple, np.argwhere(fixations))) == [(5, 7), (12, 20)]


def test_fixations_from_density_finds_blobs():
    dens = np.zeros((60, 80), np.float32)
    dens[15, 20] = dens[40, 60] = 1.0
    dens[50, 10] = 0.05  # below 10 % of the maximum after blurring: dropped
    dens = cv2.GaussianBlur(dens, (0, 0), 3)
    fix = fixations_from_density(dens)
    assert sorted(map(tuple, np.argwhere(fix))) == [(15, 20), (40, 60)]
    back = density_from_fixations(fix)
    assert np.unravel_index(back.argmax(), back.shape) in [(15, 20), (40, 60)]


def test_ground_truth_loaded_at_stimulus_size():
    for root in ("points", "maps-only"):
        for _name, rgb, fix, dens in iter_dataset(FIX / root):
            assert fix.shape == dens.shape == rgb.shape[:2]
            assert fix.dtype == bool and fix.sum() >= 1 and dens.max() > 0


def test_evaluate_scores_models():
    rows = evaluate(FIX / "points", {"centre": lambda: get_model("centre"),
                                     "default": lambda: get_model("default")})
    for row in rows.values():
        assert row["n"] == 4
        assert 0.5 < row["auc_judd"] <= 1 and row["nss"] > 0 and row["kl"] > 0
    # Two of the four are objects off-centre on plain ground: content beats the prior.
    assert rows["default"]["nss"] > rows["centre"]["nss"]


def test_evaluate_human_ceiling_rows():
    rows = evaluate(FIX / "points", {"centre": lambda: get_model("centre")}, human=True)
    sharp, smooth = (rows[name] for name in HUMAN_ROWS)
    # The answer key against itself: perfect on the density metrics, and
    # blurring it costs fixation metrics but still beats the centre prior.
    assert sharp["cc"] == pytest.approx(1.0) and sharp["kl"] == pytest.approx(0.0, abs=1e-6)
    assert sharp["nss"] > smooth["nss"] > rows["centre"]["nss"]
    assert smooth["cc"] < 1.0


def test_cli_eval_json(capsys):
    assert main(["eval-saliency", str(FIX / "maps-only"), "--model", "lc,hc", "--json",
                 "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["models"]) == {"lc", "hc", "centre"}
    assert out["models"]["lc"]["n"] == 2


def test_cli_eval_text_and_errors(capsys, tmp_path):
    assert main(["eval-saliency", str(FIX / "points"), "--limit", "1", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "| default |" in out and "| centre |" in out and "AUC-Judd" in out
    assert main(["eval-saliency", str(FIX / "points"), "--model", "centre", "--human",
                 "--quiet"]) == 0
    assert f"| {HUMAN_ROWS[0]} |" in capsys.readouterr().out
    assert main(["eval-saliency", str(tmp_path / "nope")]) == 1
    err = capsys.readouterr().err
    assert "nope: no such dataset folder" in err and "Traceback" not in err
    assert main(["eval-saliency", str(FIX / "points"), "--model", "bogus"]) == 1
    assert "unknown model 'bogus'" in capsys.readouterr().err


def test_cli_saliency_image(tmp_path, capsys):
    src = FIX / "points" / "stimuli" / "etocvd_apples.jpg"
    out = tmp_path / "heat.png"
    assert main(["saliency", str(src), str(out), "--model", "hc"]) == 0
    img = cv2.imread(str(out))
    assert img.shape == cv2.imread(str(src)).shape
    assert main(["saliency", str(src), str(out)]) == 1  # refuses to overwrite
    assert "exists" in capsys.readouterr().err
    assert main(["saliency", str(src), str(out), "--overwrite"]) == 0
    assert main(["saliency", str(tmp_path / "missing.png"), str(tmp_path / "x.png")]) == 1
    assert "missing.png: no such file" in capsys.readouterr().err
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    assert main(["saliency", str(bad), str(tmp_path / "y.png")]) == 1
    assert "bad.png: cannot read as an image" in capsys.readouterr().err
    assert not (tmp_path / "y.png").exists()


def test_cli_saliency_video(tmp_path, capsys):
    import av

    out = tmp_path / "heat.mp4"
    assert main(["saliency", str(DATA / "bbb_audio.mp4"), str(out)]) == 0
    with av.open(str(out)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == 50 and frames[0].shape == (180, 320, 3)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 100)
    assert main(["saliency", str(bad), str(tmp_path / "z.mp4")]) == 1
    err = capsys.readouterr().err
    assert "bad.mp4" in err and "Traceback" not in err
    assert not (tmp_path / "z.mp4").exists()


@pytest.mark.shared
@pytest.mark.parametrize(("name", "limit"), [("mit1003-100", 25), ("etocvd", 25), ("etto", 10)])
def test_default_beats_centre_on_shared_data(name, limit):
    # A subset keeps this fast (etto is 1920x1080); the full table is in docs/saliency.md.
    root = SHARED_FIX / name
    if not root.is_dir():
        pytest.skip("../shared/data is not present")
    rows = evaluate(root, {"centre": lambda: get_model("centre"),
                           "default": lambda: get_model("default")}, limit=limit)
    for metric in ("auc_judd", "nss", "cc", "sim"):
        assert rows["default"][metric] > rows["centre"][metric], metric
    assert rows["default"]["kl"] < rows["centre"]["kl"]


def test_points_only_dataset_gets_a_density(tmp_path):
    # Points without maps (and the "images/" alias): the density is derived.
    src = FIX / "points"
    (tmp_path / "images").mkdir()
    (tmp_path / "fixations").mkdir()
    for name in ("etocvd_apples", "etto_MouseTrapBlack__Curve_030_Rot_"):
        (tmp_path / "images" / f"{name}.jpg").write_bytes(
            (src / "stimuli" / f"{name}.jpg").read_bytes())
        (tmp_path / "fixations" / f"{name}.png").write_bytes(
            (src / "fixation_points" / f"{name}.png").read_bytes())
    samples = find_samples(tmp_path)
    assert len(samples) == 2 and all(s.density is None for s in samples)
    for _name, _rgb, fix, dens in iter_dataset(tmp_path):
        assert dens[fix].mean() > dens.mean()
    rows = evaluate(tmp_path, {"hc": lambda: get_model("hc")})
    assert rows["hc"]["n"] == 2 and np.isfinite(rows["hc"]["kl"])
