"""The three encoders: settings that drop ROI are refused, and the offsets arrive.

Real encodes of a 20-frame 176x144 clip. Where FFmpeg's decoder exports the
quantiser (H.264 QP, VP9 q index) the proof is the realised value per half of
the picture; for HEVC, whose decoder exports none, it is the quality of each
half against a plain x265 encode of the same clip.
"""

import os
import warnings

import av
import numpy as np
import pytest

import salcodec
from salcodec.codecs import get_codec, roi
from salcodec.errors import SalcodecError, SalcodecWarning
from salcodec.qpinspect import iter_qp_maps, qp_statistics
from salcodec.regions import limit_levels, roi_payload
from salcodec.settings import EncodeSettings

from .media import CARPHONE, frames, write_clip
from .test_external_maps import FRAMES, image_folder

VP9 = {"codec": "libvpx-vp9", "crf": 40, "preset": "8"}
X265 = {"codec": "libx265", "crf": 30, "preset": "veryfast"}


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("codecs") / "clip.mp4"
    write_clip(path, CARPHONE, limit=FRAMES)
    return path


@pytest.fixture(scope="module")
def left_map(tmp_path_factory):
    return image_folder(tmp_path_factory.mktemp("maps") / "left", "left")


# --- what is refused, and why ------------------------------------------------------------

@pytest.mark.parametrize("changes, cause", [
    ({"codec": "libsvtav1"}, "libsvtav1 ignores FFmpeg's ROI side data"),
    ({"codec": "mpeg4"}, "not an encoder salcodec drives"),
    # x265: AQ off drops the offsets (libx265.c); so do tune=grain and aq-strength=0 w/o cutree.
    ({**X265, "params": "aq-mode=0"}, "aq-mode=0 makes libx265 ignore"),
    ({**X265, "params": "aq_mode=0"}, "aq-mode=0 makes libx265 ignore"),
    ({**X265, "params": "tune=grain"}, "grain turns AQ off"),
    ({**X265, "params": "aq-strength=0:cutree=0"}, "without cutree"),
    ({**X265, "params": "foo=1"}, "unknown x265 parameter 'foo'"),
    ({**X265, "params": "bframes=x"}, "invalid value 'x' for x265 parameter 'bframes'"),
    ({**X265, "params": "crf=20"}, "conflicts with salcodec's own setting"),
    ({**X265, "x264_params": "bframes=3"}, "--x264-params is for libx264"),
    # VP9: libvpx applies ROI only in realtime mode at speed >= 5 with aq-mode 0.
    ({**VP9, "preset": "4"}, "only at realtime speed 5 or above"),
    ({**VP9, "params": "deadline=good"}, "only one in which libvpx applies ROI"),
    ({**VP9, "params": "aq-mode=3"}, "only with aq-mode=0"),
    # FFmpeg knows libvpx's aq-mode by that spelling only: aq_mode is refused, not passed.
    ({**VP9, "params": "aq_mode=3"}, "unknown libvpx-vp9 option"),
    ({**VP9, "preset": "12"}, r"5\.\.9 \(-9\.\.9 with --no-saliency\)"),
    ({**VP9, "params": "foo=1"}, "unknown libvpx-vp9 option"),
    ({**VP9, "params": "row-mt=abc"}, "libvpx-vp9 refuses row-mt=abc"),
    ({**VP9, "crf": 30.5}, "whole-number --crf"),
    ({**VP9, "crf": 64}, "0..63"),
    ({**VP9, "pix_fmt": "yuv420p10le"}, "has no yuv420p10le"),
    ({**X265, "pix_fmt": "yuv444p"}, "salcodec writes 4:2:0"),
    ({"params": "aq-mode=1", "x264_params": "aq-mode=2"}, "conflict; give one"),
])
def test_settings_that_drop_roi_or_are_unknown_are_refused(changes, cause):
    with pytest.raises(SalcodecError, match=cause):
        EncodeSettings(**changes)


def test_plain_arms_may_use_what_saliency_may_not():
    assert EncodeSettings(**{**VP9, "preset": "2"}, saliency=False).preset == "2"
    opts = get_codec("libx265").options(28, "medium", "aq-mode=0", False)
    assert "aq-mode=0" in opts["x265-params"]


def test_vp9_params_are_ffmpeg_avoptions_taken_as_typed():
    # keyint_min is FFmpeg's spelling; rewriting _ to - made it an unknown keyint-min.
    vp9 = get_codec("libvpx-vp9")
    assert vp9.options(40, "8", "keyint_min=10:lag-in-frames=0", True)["keyint_min"] == "10"
    assert EncodeSettings(**VP9, params="keyint_min=10").params == "keyint_min=10"
    # x264 and x265 still read both spellings as one.
    assert "aq-mode=1" in get_codec("libx265").options(28, "medium", "aq_mode=1", True)[
        "x265-params"]


def test_vp9_baseline_gets_aq_mode_0_too_unless_given():
    # libvpx's default aq-mode is not 0 (its output differs), so the plain arm gets
    # the saliency arm's aq-mode=0 and a comparison measures the ROI alone.
    vp9 = get_codec("libvpx-vp9")
    assert vp9.options(40, "8", None, False)["aq-mode"] == "0"
    assert vp9.options(40, "2", "aq-mode=3", False)["aq-mode"] == "3"


def test_option_defaults_are_salcodecs_crf():
    from salcodec.codecs.vp9 import vp9_options
    from salcodec.codecs.x264 import x264_options
    from salcodec.codecs.x265 import x265_options

    assert x264_options()["crf"] == x265_options()["crf"] == vp9_options()["crf"] == "23"
    assert EncodeSettings().crf == 23


def test_options_per_codec():
    vp9 = get_codec("libvpx-vp9").options(40, "medium", "row-mt=1", True)
    assert vp9 == {"crf": "40", "b": "0", "deadline": "realtime", "cpu-used": "5",
                   "aq-mode": "0", "row-mt": "1"}
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        x265 = get_codec("libx265").options(28, "ultrafast", None, True)
    assert x265["x265-params"] == "aq-mode=1:log-level=error"
    assert any(issubclass(w.category, SalcodecWarning) for w in seen)
    s = EncodeSettings(x264_params="keyint=60")
    assert s.params == s.x264_params == "keyint=60"
    assert s.with_(params="keyint=30").x264_params == "keyint=30"
    assert s.with_(codec="libx265").x264_params is None
    assert get_codec("libx264").qp_range("yuv420p10le") == 63
    assert get_codec("libvpx-vp9").qp_range() == 63


def test_cli_refuses_svtav1_and_webm_for_hevc_in_one_line(clip, tmp_path):
    import subprocess
    import sys

    for args, cause in ((["--codec", "libsvtav1"], "libsvtav1 ignores"),
                        (["--codec", "libx265"], "webm cannot hold HEVC")):
        r = subprocess.run([sys.executable, "-m", "salcodec", "encode", str(clip),
                            str(tmp_path / "o.webm"), *args], capture_output=True, text=True)
        assert r.returncode == 1 and cause in r.stderr
        assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert not (tmp_path / "o.webm").exists()


# --- the records survive each encoder's arithmetic ---------------------------------------

def libvpxenc_delta_q(payload: bytes) -> np.ndarray:
    """What libvpxenc.c makes of records: (int)(num * 1.0f / den * 63), single precision."""
    rec = np.frombuffer(payload, dtype=roi.ROI_DTYPE)
    q = np.trunc(rec["qoffset_num"].astype(np.float32) / rec["qoffset_den"].astype(np.float32)
                 * np.float32(63))
    return np.clip(q, -63, 63).astype(int)


def test_vp9_records_survive_libvpxenc_truncation():
    k = np.arange(-63, 64)
    rects = np.tile([0, 16, 0, 16], (len(k), 1))
    np.testing.assert_array_equal(libvpxenc_delta_q(roi.roi_records(rects, k, 63, True)), k)
    # Fractional offsets are rounded to the nearest step; written the x264 way,
    # libvpxenc would truncate them toward zero (-2.75 -> -2).
    frac = np.array([-2.75, -0.6, 0.6, 2.75])
    rects = rects[:4]
    np.testing.assert_array_equal(libvpxenc_delta_q(roi.roi_records(rects, frac, 63, True)),
                                  [-3, -1, 1, 3])
    np.testing.assert_array_equal(libvpxenc_delta_q(roi.roi_records(rects, frac, 63)),
                                  [-2, 0, 0, 2])


def test_vp9_offsets_keep_at_most_seven_levels_in_order():
    rng = np.random.default_rng(0)
    offsets = rng.integers(-12, 13, size=(9, 11)).astype(float)
    limited = limit_levels(offsets, 7)
    assert len(np.unique(limited[limited != 0])) <= 7
    assert ((limited == 0) == (np.rint(offsets) == 0)).all()
    order = np.argsort(offsets.ravel(), kind="stable")
    assert (np.diff(limited.ravel()[order]) >= 0).all()  # monotone: importance order kept
    payload = roi_payload(offsets, 176, 144, qp_range=63, levels=7, truncates=True)
    levels = np.frombuffer(payload, dtype=roi.ROI_DTYPE)["qoffset_num"]
    assert len(np.unique(levels)) <= 7


def test_level_limit_keeps_every_offsets_sign():
    # Many negative levels, two lone positives: +1 was merged into -1 (nearest of
    # the representatives -1 and +6), so a block asked to lose quality gained it.
    offsets = np.array([-1] * 20 + [-2] * 10 + [-3] * 8 + [-4] * 6 + [-5] * 5 + [-6] * 4
                       + [-7] * 3 + [-8] * 2 + [1, 6], float).reshape(2, 30)
    limited = limit_levels(offsets, 7)
    assert (np.sign(limited) == np.sign(offsets)).all()
    assert len(np.unique(limited[limited != 0])) <= 7
    rng = np.random.default_rng(3)
    for _ in range(200):
        x = rng.integers(-12, 13, size=(6, 8)) * rng.integers(0, 2, size=(6, 8))
        y = limit_levels(x, 7)
        assert (np.sign(y) == np.sign(x)).all() and len(np.unique(y[y != 0])) <= 7
        order = np.argsort(x.ravel(), kind="stable")
        assert (np.diff(y.ravel()[order]) >= 0).all()


def test_vp9_stats_and_sidecar_record_the_merged_offsets_sent(tmp_path):
    from fractions import Fraction

    from salcodec.codecs import add_video_stream
    from salcodec.encoder import SaliencyEncoder
    from salcodec.mapfile import MapReader
    from salcodec.saliency import SaliencyModel

    class Ramp(SaliencyModel):  # 10 non-zero offset levels here, more than VP9's 7
        name = "ramp"

        def compute(self, rgb):
            return np.tile(np.linspace(0, 1, rgb.shape[1], dtype=np.float32),
                           (rgb.shape[0], 1))

    side = tmp_path / "m.jsonl"
    with av.open(str(tmp_path / "v.webm"), "w") as c:
        s = add_video_stream(c, "libvpx-vp9", 176, 144, Fraction(25), None, crf=40,
                             preset="8")
        with SaliencyEncoder(s, model=Ramp(), strength=10, clamp=20, smoothing=0,
                             cadence=1, export_map=side) as enc:
            for i, f in enumerate(frames(CARPHONE, 3)):
                f.pts = i
                c.mux(enc.encode(f))
            c.mux(enc.flush())
    hist = enc.stats.as_dict()["qp_offset_histogram"]
    assert 0 < len([k for k in hist if k != "0"]) <= 7
    records = list(MapReader(side, 176, 144))
    assert len(records) == 3
    for rec in records:
        sent = rec.offsets[rec.offsets != 0]
        assert 0 < len(np.unique(sent)) <= 7
        np.testing.assert_array_equal(limit_levels(rec.offsets, 7), rec.offsets)


# --- proof that the offsets arrive -------------------------------------------------------

def left_right(path):
    """Mean realised quantiser of the left and right halves over the I- and P-frames.

    (x264's B-frames take most QPs from their references, see test_external_maps.)
    """
    qp = np.stack([f.qp for f in iter_qp_maps(path) if f.pict_type in "IP"]).astype(float)
    half = qp.shape[2] // 2
    return qp[:, :, :half].mean(), qp[:, :, -half:].mean()


@pytest.mark.parametrize("codec", [{"codec": "libx264", "preset": "veryfast"}, VP9,
                                   {"codec": "libx264", "preset": "veryfast",
                                    "pix_fmt": "yuv420p10le"}],
                         ids=["x264", "vp9", "x264-10bit"])
def test_left_half_map_lowers_the_left_halfs_realised_quantiser(clip, left_map, tmp_path, codec):
    out, plain = tmp_path / "roi.mkv", tmp_path / "plain.mkv"
    salcodec.encode(clip, out, map_source=str(left_map), **codec)
    salcodec.encode(clip, plain, saliency=False, **codec)
    lo, hi = left_right(out)
    p_lo, p_hi = left_right(plain)
    # The salient half is quantised more finely, clearly more than in the plain encode.
    gap, plain_gap = hi - lo, p_hi - p_lo
    assert gap > plain_gap + (4 if codec["codec"] == "libvpx-vp9" else 1.5), (gap, plain_gap)
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.pix_fmt == codec.get("pix_fmt", "yuv420p")


def test_vp9_request_arrives_as_libvpx_segment_q(clip, tmp_path):
    # Zero-mean offsets of -20/+20 quantiser steps on the two halves, through the
    # stage, read back as VP9 q index (about 4 per quantiser step).
    from fractions import Fraction

    from salcodec.codecs import add_video_stream
    from salcodec.encoder import SaliencyEncoder
    from salcodec.saliency import SaliencyModel

    class Left(SaliencyModel):
        name = "left"

        def compute(self, rgb):
            m = np.zeros(rgb.shape[:2], np.float32)
            m[:, : rgb.shape[1] // 2] = 1
            return m

    out = tmp_path / "vp9.webm"
    with av.open(str(out), "w") as c:
        s = add_video_stream(c, "libvpx-vp9", 176, 144, Fraction(25), None, crf=40,
                             preset="8")
        with SaliencyEncoder(s, model=Left(), strength=40, clamp=20, smoothing=0,
                             cadence=1) as enc:
            for i, f in enumerate(frames(clip)):
                f.pts = i
                c.mux(enc.encode(f))
            c.mux(enc.flush())
    stats, _ = qp_statistics(out)
    maps = [f.qp for f in iter_qp_maps(out) if f.pict_type == "P"]
    q = np.stack(maps)
    assert (q[:, :, :5].mean() - q[:, :, -5:].mean()) < -40  # about 2 x 20 quantiser steps
    assert stats["unit"].startswith("VP9 q index")


def psnr_halves(ref, path):
    """PSNR of the left and right halves of the luma, pooled over frames."""
    se = np.zeros(2)
    for a, b in zip(frames(ref), frames(path), strict=True):
        ya = a.to_ndarray(format="gray").astype(float)
        yb = b.reformat(format="gray").to_ndarray().astype(float)
        d = (ya - yb) ** 2
        half = d.shape[1] // 2
        se += d[:, :half].mean(), d[:, half:].mean()
    return 10 * np.log10(255 ** 2 / (se / FRAMES))


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "yuv420p10le"])
def test_x265_puts_measurably_better_quality_where_the_map_says(clip, left_map, tmp_path,
                                                                 pix_fmt):
    # FFmpeg's HEVC decoder exports no QP: the proof is quality inside vs outside.
    out, plain = tmp_path / "roi.mp4", tmp_path / "plain.mp4"
    r = salcodec.encode(clip, out, map_source=str(left_map), pix_fmt=pix_fmt, report_qp=True,
                        **X265)
    salcodec.encode(clip, plain, saliency=False, pix_fmt=pix_fmt, **X265)
    left, right = psnr_halves(clip, out)
    p_left, p_right = psnr_halves(clip, plain)
    assert (left - right) > (p_left - p_right) + 1.5, (left, right, p_left, p_right)
    # The default budget (attended) keeps plain x265's quality where the map
    # points and takes bits from the rest.
    assert left > p_left - 0.3 and right < p_right - 1, (left, right, p_left, p_right)
    assert "exports no per-block QP" in r.qp["note"]
    with av.open(str(out)) as c:
        cc = c.streams.video[0].codec_context
        assert cc.name == "hevc" and cc.codec_tag == "hvc1" and cc.pix_fmt == pix_fmt
    with pytest.raises(SalcodecError, match="HEVC decoder exports no per-block QP"):
        qp_statistics(out)


def test_vp9_goes_into_webm(clip, left_map, tmp_path):
    out = tmp_path / "o.webm"
    r = salcodec.encode(clip, out, map_source=str(left_map), **VP9)
    assert r.frames_out == FRAMES
    with av.open(str(out)) as c:
        assert c.format.name.startswith("matroska") and c.streams.video[0].codec.name == "vp9"


# --- the other verbs ---------------------------------------------------------------------

def test_encode_command_round_trips_codec_settings():
    import argparse
    import shlex

    from salcodec.commands.encode import add_encode_options, settings_from_args
    from salcodec.crfsearch import encode_command

    p = argparse.ArgumentParser()
    p.add_argument("input")
    p.add_argument("output")
    add_encode_options(p)
    for s in (EncodeSettings(**VP9, params="row-mt=1"),
              EncodeSettings(**X265, pix_fmt="yuv420p10le", params="bframes=2"),
              EncodeSettings(**X265, saliency=False, params="aq-mode=0")):
        argv = shlex.split(encode_command("in.mp4", "out.mkv", s))
        got = settings_from_args(p.parse_args(argv[2:]))
        assert got == s if s.saliency else got.baseline() == s


def test_compare_and_crf_search_run_on_vp9(clip, tmp_path):
    from salcodec.compare import compare
    from salcodec.crfsearch import crf_search

    report = compare(clip, tmp_path / "cmp", crfs=(34, 44), metrics=["psnr"],
                     settings=EncodeSettings(**VP9, model="centre"))
    assert [a["name"] for a in report["arms"]] == ["vp9", "salcodec s=2"]
    assert "--codec libvpx-vp9" in report["provenance"]["equivalent_command"]
    assert all(p["bytes"] > 0 for a in report["arms"] for p in a["points"])
    with pytest.raises(SalcodecError, match="--html shows H.264's realised QP"):
        compare(clip, tmp_path / "h", crfs=(28, 34), settings=EncodeSettings(**X265), html=True)
    result = crf_search(clip, "psnr=34", settings=EncodeSettings(**VP9, model="centre"),
                        crf_range=(20, 63), samples=2, sample_seconds=0.3, max_trials=2)
    crfs = [t["crf"] for c in result["candidates"] for t in c["trials"]]
    assert crfs and all(c == int(c) for c in crfs)  # VP9 takes whole numbers
    assert "--codec libvpx-vp9" in (result["command"] or "--codec libvpx-vp9")
    with pytest.raises(SalcodecError, match="within 0..51 for libx265"):
        crf_search(clip, "psnr=34", settings=EncodeSettings(**X265), crf_range=(20, 60))


def test_batch_names_an_output_container_that_holds_the_codec():
    from salcodec.batch import plan_batch

    names = ["a.webm", "b.ts", "c.mp4", "d.avi"]
    out = {c: [os.path.basename(i.output) for i in plan_batch(names, "o", c)]
           for c in ("libx264", "libvpx-vp9", "libx265")}
    assert out == {"libx264": ["a.mkv", "b.ts", "c.mp4", "d.mkv"],
                   "libvpx-vp9": ["a.webm", "b.mkv", "c.mp4", "d.mkv"],
                   "libx265": ["a.mkv", "b.ts", "c.mp4", "d.mkv"]}
