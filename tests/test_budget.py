import av
import pytest

import salcodec
from salcodec.sampling import make_sample, plan_windows
from salcodec.settings import EncodeSettings

from .media import CARPHONE, DATA


def test_plan_windows_spread_and_whole_video():
    assert plan_windows(1000, 4, 30) == [(110, 30), (360, 30), (610, 30), (860, 30)]
    assert plan_windows(100, 4, 30) == [(0, 100)]
    with pytest.raises(ValueError):
        plan_windows(0, 2, 2)


def test_make_sample_is_lossless_and_has_the_planned_frames(tmp_path):
    sample = make_sample(DATA / "asl_again.mkv", tmp_path / "s.mkv", count=2, seconds=0.4)
    assert sample.windows == ((13, 12), (51, 12)) and sample.frames == 24
    assert sample.fraction == pytest.approx(24 / 77)
    with av.open(str(sample.path)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 24


def test_budget_names_and_their_old_aliases():
    assert EncodeSettings().budget == "attended"
    assert EncodeSettings(budget="match").budget == "size"
    assert EncodeSettings(budget="crf").budget == "zero-mean"
    assert EncodeSettings(budget="size").stage_options()["anchor"] == "mean"
    assert EncodeSettings().stage_options()["anchor"] == "attended"


def test_settings_reject_unknown_fields():
    with pytest.raises(salcodec.SalcodecError, match="crff"):
        EncodeSettings().with_(crff=3)
    assert EncodeSettings(strength=7).baseline().saliency is False


def test_budget_match_brings_size_to_the_baseline(tmp_path):
    opts = dict(preset="veryfast", model="lc", strength=5)
    base = salcodec.encode(CARPHONE, tmp_path / "b.mp4", saliency=False, **opts)
    free = salcodec.encode(CARPHONE, tmp_path / "f.mp4", budget="zero-mean", **opts)
    matched = salcodec.encode(CARPHONE, tmp_path / "m.mp4", budget="size", **opts)
    assert abs(free.bytes / base.bytes - 1) > 0.05, "the unmatched arm should differ"
    assert abs(matched.bytes / base.bytes - 1) < 0.03
    assert matched.budget["mode"] == "size" and matched.settings["bias"] != 0
    assert matched.budget["trials"][0][0] == 0.0


@pytest.mark.parametrize("bad", [dict(strength=-1), dict(clamp=0), dict(smoothing=1.5),
                                 dict(crf=60), dict(preset="warp"), dict(model="nope"),
                                 dict(strength=float("nan")), dict(budget="cheap"),
                                 dict(sharpness=-1)])
def test_settings_are_validated(bad):
    with pytest.raises(salcodec.SalcodecError):
        EncodeSettings(**bad)
