import json
import math

import pytest

from salcodec.compare import compare, default_eval_weights, is_circular
from salcodec.crfsearch import crf_search, parse_target
from salcodec.errors import SalcodecError
from salcodec.quality.weights import parse_weights
from salcodec.settings import EncodeSettings

from .media import CARPHONE

FAST = EncodeSettings(preset="veryfast", model="lc")


def test_compare_writes_a_complete_report(tmp_path):
    report = compare(CARPHONE, tmp_path, crfs=(22, 27, 32), settings=FAST,
                     eval_weights="model:spectral")
    on_disk = json.loads((tmp_path / "report.json").read_text())
    assert on_disk == json.loads(json.dumps(report))
    assert (tmp_path / "rd.png").read_bytes()[:4] == b"\x89PNG"
    assert report["schema"] == "salcodec.compare/1"
    assert [a["name"] for a in report["arms"]] == ["x264", "salcodec s=4"]
    assert report["evaluation_weights"]["circular"] is False
    for arm in report["arms"]:
        assert [p["crf"] for p in arm["points"]] == [22, 27, 32]
        for p in arm["points"]:
            assert p["frames"] == 120 and p["bytes"] > 0
            assert {"psnr", "ssim", "wpsnr", "wssim"} <= set(p["metrics"])
        sizes = [p["bytes"] for p in arm["points"]]
        assert sizes == sorted(sizes, reverse=True)  # higher CRF, fewer bytes
    bd = report["bd_rate"]["salcodec s=4"]
    assert set(bd) == set(report["metrics"])
    assert all(math.isfinite(v["pchip"]) and math.isfinite(v["akima"]) for v in bd.values())
    savings = report["savings_at_equal_quality"]["salcodec s=4"]["psnr"]
    assert len(savings) == 3


def test_evaluation_map_defaults_to_a_model_the_encoder_did_not_use():
    spec = default_eval_weights(FAST)
    assert spec.startswith("model:") and spec != "model:lc"
    assert is_circular(parse_weights("model:lc"), FAST)
    assert not is_circular(parse_weights(spec), FAST)


def test_compare_needs_two_crfs(tmp_path):
    with pytest.raises(SalcodecError):
        compare(CARPHONE, tmp_path, crfs=(23,), settings=FAST)


def test_parse_target():
    assert parse_target("SSIM=0.97") == ("ssim", 0.97)
    for bad in ("ssim", "foo=1", "psnr=high"):
        with pytest.raises(SalcodecError):
            parse_target(bad)


def test_crf_search_finds_the_largest_crf_that_reaches_the_target():
    result = crf_search(CARPHONE, "psnr=34", strengths=(0.0, 4.0), settings=FAST)
    assert result["sample"]["fraction_of_video"] == 1.0
    for c in result["candidates"]:
        assert c["reached"] and c["quality"] >= 34
        worse = [t for t in c["trials"] if t["crf"] > c["crf"]]
        # Optimal on the 0.5 grid: the next CRF up was tried and missed the target.
        assert any(t["crf"] == c["crf"] + 0.5 and t["quality"] < 34 for t in worse), c["trials"]
    best = result["best"]
    assert best["sample_bytes"] == min(c["sample_bytes"] for c in result["candidates"])


def test_crf_search_weighted_target_needs_weights():
    with pytest.raises(SalcodecError, match="--weights"):
        crf_search(CARPHONE, "wpsnr=40", settings=FAST)


def test_crf_search_cli_encodes_with_the_best_settings(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "best.mp4"
    proc = subprocess.run(
        [sys.executable, "-m", "salcodec", "crf-search", str(CARPHONE), "--target", "psnr=33",
         "--strengths", "0,4", "--preset", "veryfast", "--model", "lc", "--encode", str(out),
         "--json"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    best = result["best"]
    assert result["encoded"]["frames_out"] == 120 and out.exists()
    assert result["encoded"]["settings"]["crf"] == best["crf"]
    assert result["encoded"]["settings"]["saliency"] is (best["strength"] > 0)
