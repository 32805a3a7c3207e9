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


def test_attended_default_is_smaller_and_keeps_qp_where_people_look(tmp_path):
    # A known salient region: the centre prior's map. Realised QP is read back
    # from the bitstream, inside the region and outside it.
    import numpy as np

    from salcodec.qpinspect import iter_qp_maps

    opts = dict(preset="veryfast", crf=26, model="centre")
    plain = salcodec.encode(CARPHONE, tmp_path / "p.mp4", saliency=False, **opts)
    att = salcodec.encode(CARPHONE, tmp_path / "a.mp4", report_qp=True, **opts)
    assert att.settings["budget"] == "attended"
    assert att.bytes < 0.95 * plain.bytes, "the default must be smaller than plain x264"
    mb_h, mb_w = 9, 11  # 176x144
    yy, xx = np.mgrid[:mb_h, :mb_w]
    centre = (abs(yy - (mb_h - 1) / 2) <= 1.5) & (abs(xx - (mb_w - 1) / 2) <= 1.5)

    def mean_qp(path):
        maps = [f.qp for f in iter_qp_maps(path)]
        return (np.mean([m[centre].mean() for m in maps]),
                np.mean([m[~centre].mean() for m in maps]))

    p_in, p_out = mean_qp(tmp_path / "p.mp4")
    a_in, a_out = mean_qp(tmp_path / "a.mp4")
    assert a_out - p_out > 1.0, "the periphery pays"
    assert abs(a_in - p_in) < a_out - p_out, "the centre keeps about plain x264's QP"
    # The encode's own report agrees: lower QP in its salient fifth than elsewhere.
    assert att.qp["inside"] < att.qp["outside"] and att.qp["frames"] == att.frames_out
