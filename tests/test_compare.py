import json
import math

import pytest

from salcodec.compare import compare, default_eval_weights, is_circular
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
    assert [a["name"] for a in report["arms"]] == ["x264", "salcodec s=2"]
    assert report["evaluation_weights"]["circular"] is False
    for arm in report["arms"]:
        assert [p["crf"] for p in arm["points"]] == [22, 27, 32]
        for p in arm["points"]:
            assert p["frames"] == 120 and p["bytes"] > 0
            assert {"psnr", "ssim", "xpsnr", "wpsnr", "wssim", "wxpsnr"} == set(p["metrics"])
        sizes = [p["bytes"] for p in arm["points"]]
        assert sizes == sorted(sizes, reverse=True)  # higher CRF, fewer bytes
    bd = report["bd_rate"]["salcodec s=2"]
    assert set(bd) == set(report["metrics"])
    assert all(math.isfinite(v["pchip"]) and math.isfinite(v["akima"]) for v in bd.values())
    savings = report["savings_at_equal_quality"]["salcodec s=2"]["psnr"]
    assert len(savings) == 3


def test_evaluation_map_defaults_to_a_model_the_encoder_did_not_use():
    spec = default_eval_weights(FAST)
    assert spec.startswith("model:") and spec != "model:lc"
    assert is_circular(parse_weights("model:lc"), FAST)
    assert not is_circular(parse_weights(spec), FAST)


def test_compare_needs_two_crfs(tmp_path):
    with pytest.raises(SalcodecError):
        compare(CARPHONE, tmp_path, crfs=(23,), settings=FAST)


def test_compare_metrics_option_and_vmaf_refused(tmp_path):
    report = compare(CARPHONE, tmp_path, crfs=(24, 32), settings=FAST, sample=1,
                     eval_weights="model:spectral", metrics="xpsnr")
    assert report["metrics"] == ["psnr", "ssim", "xpsnr"]  # psnr, ssim always
    assert set(report["bd_rate"]["salcodec s=2"]) == {"psnr", "ssim", "xpsnr"}
    with pytest.raises(SalcodecError, match="vmaf is unavailable: .*libvmaf"):
        compare(CARPHONE, tmp_path / "v", crfs=(24, 32), settings=FAST, metrics="psnr,vmaf")
    assert not (tmp_path / "v").exists()  # refused before any work


def test_compare_cli_vmaf_is_one_line(tmp_path, capsys):
    from salcodec.cli import main

    rc = main(["compare", str(CARPHONE), "--out", str(tmp_path / "o"), "--metrics", "vmaf"])
    out, err = capsys.readouterr()
    assert rc == 1 and out == "" and err.count("\n") == 1
    assert err.startswith("salcodec: error: vmaf is unavailable")
