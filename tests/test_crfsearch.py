"""crf-search: target parsing, the interpolating search, prediction, the printed command, CLI."""

from __future__ import annotations

import argparse
import json
import math
import shlex

import numpy as np
import pytest

from salcodec.bitstream import video_payload_bytes
from salcodec.cli import main
from salcodec.commands.encode import add_drop_options, add_encode_options, settings_from_args
from salcodec.crfsearch import (
    CRF_PER_STRENGTH,
    crf_search,
    default_sample_plan,
    encode_command,
    parse_target,
    start_shift,
)
from salcodec.errors import SalcodecError
from salcodec.quality import measure
from salcodec.sampling import make_sample
from salcodec.search.scorer import SampleScorer
from salcodec.search.secant import (
    REFINE_CRF,
    TARGET_MARGIN,
    Trial,
    _solve,
    from_linear,
    search_strength,
    to_linear,
)
from salcodec.settings import EncodeSettings
from salcodec.transcode import encode

from .media import CARPHONE

FAST = EncodeSettings(preset="veryfast", model="lc")


def test_parse_target():
    assert parse_target("SSIM=0.97") == ("ssim", 0.97)
    assert parse_target("xpsnr=38") == ("xpsnr", 38.0)
    assert parse_target("wxpsnr=36.5") == ("wxpsnr", 36.5)
    for bad in ("ssim", "foo=1", "psnr=high", "ssim=1.2", "psnr=inf"):
        with pytest.raises(SalcodecError):
            parse_target(bad)
    with pytest.raises(SalcodecError, match="vmaf is unavailable: .*libvmaf.*pyvmaf"):
        parse_target("vmaf=93")


def test_linear_scale_round_trips():
    for q in (0.9, 0.97, 0.995):
        assert from_linear("ssim", to_linear("ssim", q)) == pytest.approx(q, abs=1e-12)
    assert to_linear("xpsnr", 38.0) == 38.0


def _line(crf, a=50.0, slope=-0.5, b0=1e6, bslope=-0.12):
    """A synthetic trial on exactly linear curves."""
    return Trial(crf=crf, quality=a + slope * crf, bytes=round(b0 * math.exp(bslope * crf)),
                 sample_bytes=0, seconds=0.0)


def test_solve_interpolates_and_extrapolates_on_a_line():
    crf, sq, sb = _solve([_line(20), _line(26)], 38.0, "psnr", None)
    assert crf == pytest.approx(24.0) and sq == pytest.approx(-0.5)
    assert sb == pytest.approx(-0.12, abs=1e-6)
    crf, _, _ = _solve([_line(20), _line(22)], 36.0, "psnr", None)  # outside: extrapolate
    assert crf == pytest.approx(28.0)
    crf, _, _ = _solve([_line(20)], 38.0, "psnr", (-0.5, -0.12))  # borrowed slopes
    assert crf == pytest.approx(24.0)


def test_search_strength_needs_few_trials_on_a_line():
    calls = []

    def run(crf):
        calls.append(crf)
        return _line(crf, slope=-0.6)

    cand, slopes = search_strength(run, 0.0, 36.0, "psnr", (10, 45), 23.0, None, 4)
    assert len(calls) == 2 and cand.reached
    # Aiming TARGET_MARGIN above 36: (50 - 36.05) / 0.6 = 23.25, floored to 0.1.
    assert cand.crf == pytest.approx(23.2)
    assert cand.quality >= 36.0 + TARGET_MARGIN
    assert cand.predicted_bytes == pytest.approx(1e6 * math.exp(-0.12 * 23.2), rel=1e-3)
    calls.clear()
    # A second strength starting next to its answer, with the first one's slopes: one trial.
    cand2, _ = search_strength(run, 4.0, 36.2, "psnr", (10, 45), cand.crf, slopes, 4)
    assert len(calls) == 1 and cand2.crf == pytest.approx(22.9)  # (50 - 36.25) / 0.6
    # Unreachable within the range: the lowest CRF, not reached, no endless trials.
    calls.clear()
    cand3, _ = search_strength(run, 0.0, 60.0, "psnr", (10, 45), 23.0, None, 4)
    assert not cand3.reached and cand3.crf == 10 and len(calls) <= 4


def test_an_answer_far_from_every_trial_gets_a_trial_of_its_own():
    def curve(crf):  # quality falls faster at high CRF, as real encodes do
        return 50.0 - 0.6 * crf - 0.02 * (crf - 23) ** 2

    calls = []

    def run(crf):
        calls.append(crf)
        return Trial(crf=crf, quality=curve(crf), bytes=round(1e6 * math.exp(-0.12 * crf)),
                     sample_bytes=0, seconds=0.0)

    cand, _ = search_strength(run, 0.0, 30.0, "psnr", (10, 51), 23.0, None, 4)
    # 23, then the slope guess far beyond the answer, then one next to it.
    assert len(calls) >= 3 and min(abs(c - cand.crf) for c in calls) <= REFINE_CRF
    assert curve(cand.crf) == pytest.approx(30.0, abs=0.3)


def test_a_search_goes_on_from_trials_already_made():
    calls = []

    def run(crf):
        calls.append(crf)
        return _line(crf, slope=-0.6)

    # Two trials predicted anew (as once the size proxy exists): the answer,
    # 23.25, lies within REFINE_CRF of the one at 24, so no encode is made.
    cand, _ = search_strength(run, 0.0, 36.0, "psnr", (10, 45), 24.0, None, 4,
                              tried=[_line(24.0, slope=-0.6), _line(27.0, slope=-0.6)])
    assert calls == [] and cand.crf == pytest.approx(23.2) and len(cand.trials) == 2
    # Far from both: one more, next to the answer.
    cand, _ = search_strength(run, 0.0, 36.0, "psnr", (10, 45), 30.0, None, 4,
                              tried=[_line(30.0, slope=-0.6), _line(33.0, slope=-0.6)])
    assert len(calls) == 1 and abs(calls[0] - 23.25) < 0.1


def test_a_strength_starts_where_its_budget_puts_the_target():
    attended = EncodeSettings()
    # Unweighted targets under the attended budget: lower CRF as strength grows.
    assert CRF_PER_STRENGTH < 0
    assert start_shift("ssim", attended, 2.0) == pytest.approx(2 * CRF_PER_STRENGTH)
    assert start_shift("xpsnr", attended, 4.0) == pytest.approx(4 * CRF_PER_STRENGTH)
    # The plain encoder, weighted targets and the other budgets: where the last one ended.
    assert start_shift("psnr", attended, 0.0) == 0.0
    assert start_shift("wpsnr", attended, 2.0) == 0.0
    assert start_shift("psnr", attended.with_(budget="zero-mean"), 2.0) == 0.0
    assert start_shift("psnr", attended.with_(budget="size"), 2.0) == 0.0


def test_sample_plan_is_a_quarter_at_most():
    assert default_sample_plan(225, 25.0) == (3, 19 / 25)
    assert default_sample_plan(10_000, 25.0) == (10, 1.0)  # one window per 5 s, at most 10
    assert default_sample_plan(10_000, 25.0, 3) == (3, 1.0)
    assert default_sample_plan(750, 25.0) == (6, 1.0)
    assert default_sample_plan(20, 25.0) == (3, 8 / 25)


def test_encode_command_round_trips_through_the_cli_parser():
    p = argparse.ArgumentParser()
    p.add_argument("input")
    p.add_argument("output")
    add_encode_options(p)
    for s in (FAST.with_(crf=27.3), FAST.baseline().with_(crf=19.5, x264_params="keyint=60"),
              EncodeSettings(crf=30, strength=6, budget="zero-mean", smoothing=0.3)):
        argv = shlex.split(encode_command("in put.mp4", "out.mp4", s))
        assert argv[:4] == ["salcodec", "encode", "in put.mp4", "out.mp4"]
        got = settings_from_args(p.parse_args(argv[2:]))
        if s.saliency:
            assert got == s
        else:  # mapping options mean nothing for plain x264
            assert got.baseline().with_(model=s.model) == s
    # The streams left out of the --encode output are left out by the printed line too.
    add_drop_options(p)
    argv = shlex.split(encode_command("in.mp4", "out.mp4", FAST, ("subtitle", "audio")))
    assert argv[-2:] == ["-an", "-sn"] and p.parse_args(argv[2:]).drop == ["audio", "subtitle"]


def test_prediction_from_a_real_sample(tmp_path):
    sample = make_sample(CARPHONE, tmp_path / "s.mkv", count=3, seconds=0.3)
    assert sample.windows and len(sample.windows) == 3
    scorer = SampleScorer(sample, "psnr")
    assert scorer.starts.sum() == 3 and scorer.starts[0]
    out = tmp_path / "t.mkv"
    encode(sample.path, out, FAST.baseline().with_(crf=28), overwrite=True, progress=False)
    values, frames = scorer.score(out)
    sizes = frames.bytes
    assert len(values) == len(sizes) == sample.frames
    assert sizes.sum() == video_payload_bytes(out)
    ref = measure(sample.path, out, ["psnr", "ssim"])
    np.testing.assert_allclose(values, ref.values("psnr"), atol=1e-12)
    # Scored on a thread per core, in frame order all the same.
    ssim, _ = SampleScorer(sample, "ssim").score(out)
    np.testing.assert_allclose(ssim, ref.values("ssim"), atol=1e-12)
    q, b = scorer.predict(values, frames)
    n = sample.source_frames
    starts, rest = sizes[scorer.starts], sizes[~scorer.starts]
    assert b == pytest.approx(starts.mean() + rest.mean() * (n - 1))
    # I-frames cost more than the rest, so the naive scaling would overshoot.
    assert b < sizes.sum() / sample.fraction


@pytest.fixture(scope="module")
def searched():
    # Three windows asked for: carphone (120 frames) would be its own sample.
    return crf_search(CARPHONE, "xpsnr=34", settings=FAST.with_(budget="zero-mean"), samples=3)


def test_crf_search_predicts_the_full_encode(searched, tmp_path):
    r = searched
    assert [c["strength"] for c in r["candidates"]] == [0.0, FAST.strength]  # plain and --strength
    assert r["sample"]["fraction_of_video"] <= 0.3
    proxy = r["sample"]["size_proxy"]
    shift = proxy.pop("quality_shift")  # the windows' cold starts, measured on the proxy
    assert isinstance(shift, float) and abs(shift) < 3
    # Encoded at the first strength's answer before the proxy, then refined from there.
    assert abs(proxy.pop("crf") - r["candidates"][0]["crf"]) <= 2
    assert proxy == {"width": 128, "height": 128, "codec": "libx264"}  # 4 tiles of 64 x 64
    assert r["sample_encodes"] <= 6
    for c in r["candidates"]:
        assert 1 <= len(c["trials"]) <= 4
        assert c["settings"]["budget"] == "zero-mean" and c["settings"]["model"] == "lc"
        assert c["settings"]["saliency"] is (c["strength"] > 0)
        assert c["reached"] == (c["quality"] >= 34)
    best = r["best"]
    assert best is not None and r["command"].startswith("salcodec encode ")
    # The real encode at the chosen settings: size and quality near the prediction.
    out = tmp_path / "real.mp4"
    encode(CARPHONE, out, EncodeSettings(**best["settings"]), overwrite=True, progress=False)
    real = video_payload_bytes(out)
    q = measure(CARPHONE, out, ["xpsnr"]).summary["xpsnr"]["mean"]
    assert abs(real / best["predicted_bytes"] - 1) < 0.15, (real, best)
    assert abs(q - best["quality"]) < 0.6, (q, best)


def test_a_short_video_is_its_own_sample():
    r = crf_search(CARPHONE, "psnr=36", settings=FAST, strengths=(0,))
    assert r["sample"]["windows"] == [[0, 120]] and r["sample"]["fraction_of_video"] == 1.0
    assert r["sample"]["size_proxy"] is None  # measured, not predicted
    assert r["best"]["quality"] >= 36 and len(r["candidates"][0]["trials"]) <= 4


def test_crf_search_weighted_target_needs_weights():
    with pytest.raises(SalcodecError, match="--weights"):
        crf_search(CARPHONE, "wpsnr=40", settings=FAST)


def test_cli_vmaf_target_is_one_line(capsys):
    rc = main(["crf-search", str(CARPHONE), "--target", "vmaf=93"])
    out, err = capsys.readouterr()
    assert rc == 1 and out == "" and err.count("\n") == 1
    assert err.startswith("salcodec: error: --target vmaf=93: vmaf is unavailable")


def test_cli_encodes_and_checks_the_target(tmp_path, capsys):
    out = tmp_path / "best.mp4"
    rc = main(["crf-search", str(CARPHONE), "--target", "psnr=33", "--strengths", "0",
               "--preset", "veryfast", "--model", "lc", "--encode", str(out)])
    text, _ = capsys.readouterr()
    assert rc == 0 and out.exists()
    lines = text.splitlines()
    command = next(line for line in lines if line.startswith("command: "))
    argv = shlex.split(command[len("command: "):])
    assert argv[:4] == ["salcodec", "encode", str(CARPHONE), str(out)]
    assert "--no-saliency" in argv and "--preset" in argv
    wrote = next(line for line in lines if line.startswith(f"wrote {out}"))
    assert "vs predicted" in wrote and ("target met" in wrote or "target MISSED" in wrote)
    q = measure(CARPHONE, out, ["psnr"]).summary["psnr"]["mean"]
    assert ("target met" in wrote) == (q >= 33)


def test_cli_json_has_the_real_encode(tmp_path, capsys):
    out = tmp_path / "best.mp4"
    rc = main(["crf-search", str(CARPHONE), "--target", "psnr=33", "--strengths", "0",
               "--preset", "veryfast", "--model", "lc", "--encode", str(out), "--json"])
    doc = json.loads(capsys.readouterr()[0])
    assert rc == 0
    enc = doc["encoded"]
    assert enc["frames_out"] == 120 and enc["settings"]["crf"] == doc["best"]["crf"]
    assert enc["video_bytes"] == video_payload_bytes(out)
    assert enc["size_error"] == pytest.approx(enc["video_bytes"] / doc["best"]["predicted_bytes"]
                                              - 1)
