"""End-to-end encodes through PyAV's libx264, checked by decoding the result."""

import av
import numpy as np
import pytest

import salcodec
from salcodec.codecs import PIX_FMTS
from salcodec.codecs.x264 import add_h264_stream
from salcodec.encoder import SaliencyEncoder
from salcodec.errors import SalcodecError
from salcodec.mapper import OffsetMapper
from salcodec.qpinspect import iter_qp_maps, qp_statistics
from salcodec.saliency import SaliencyModel
from salcodec.transcode import count_video_packets

from .media import CARPHONE, DATA, audio_payloads, frames, video_pts_seconds, write_clip

pytestmark = pytest.mark.filterwarnings("ignore::salcodec.errors.SalcodecWarning")


BBB = DATA / "bbb_audio.mp4"
ASL = DATA / "asl_again.mkv"
# aq-strength 0 removes x264's own variance AQ so the realised QP shows our offsets.
PARAMS = "aq-mode=1:aq-strength=0:keyint=8:min-keyint=8:scenecut=0"


class Stripes(SaliencyModel):
    """A test model: vertical bands of importance, known exactly."""

    name = "stripes"

    def compute(self, image):
        w = image.shape[1]
        return np.tile((np.arange(w) * 4 // w).astype(np.float32), (image.shape[0], 1))


def pearson(a, b):
    a, b = np.ravel(a).astype(float), np.ravel(b).astype(float)
    return float(np.corrcoef(a, b)[0, 1])


def encode_with_model(src, dst, model, **kw):
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vin = inp.streams.video[0]
        cc = vin.codec_context
        vout = add_h264_stream(out, cc.width, cc.height, vin.average_rate, vin.time_base,
                               crf=26, preset="veryfast", x264_params=PARAMS)
        with SaliencyEncoder(vout, model=model, smoothing=0, **kw) as stage:
            for f in inp.decode(vin):
                out.mux(stage.encode(f))
            out.mux(stage.flush())
    return stage.stats


def test_requested_offsets_reach_the_encoder_exactly(tmp_path):
    out = tmp_path / "stripes.mp4"
    encode_with_model(CARPHONE, out, Stripes(), strength=4, clamp=8)
    mapper = OffsetMapper(176, 144, Stripes(), strength=4, clamp=8, smoothing=0)
    requested = mapper.offsets(next(frames(CARPHONE)).to_ndarray(format="rgb24"))[0]
    intra = [f.qp for f in iter_qp_maps(out) if f.pict_type == "I"]
    assert len(intra) >= 10
    for qp in intra:
        assert pearson(qp, requested) >= 0.9


def test_lc_saliency_offsets_correlate_with_decoded_qp_on_i_frames(tmp_path):
    out = tmp_path / "lc.mp4"
    # At strength 4 MB-tree's own per-block QP on I-frames pulls this to ~0.86.
    stats = encode_with_model(CARPHONE, out, "lc", strength=6, clamp=10)
    assert stats.frames == 120 and stats.as_dict()["mean_abs_qp_offset"] > 0.5
    mapper = OffsetMapper(176, 144, "lc", strength=6, clamp=10, smoothing=0)
    requested = [mapper(f)[0] for f in frames(CARPHONE)]
    cors = [pearson(f.qp, requested[f.index]) for f in iter_qp_maps(out) if f.pict_type == "I"]
    assert len(cors) >= 10
    assert min(cors) >= 0.9, cors


def test_default_model_spends_bits_on_the_face(tmp_path):
    # The product's default end to end on a person signing: the face's
    # macroblock (found by BlazeFace) gets a far lower realised QP than the
    # rest of the frame, and the face prior is what puts it there.
    from salcodec.saliency.blazeface import BlazeFace
    from salcodec.saliency.fusion import DefaultModel

    x, y, w, h, _ = BlazeFace().detect(next(frames(ASL)).to_ndarray(format="rgb24"))[0]
    face = np.zeros((480 // 16, 640 // 16), dtype=bool)
    face[int(y + h / 2) // 16, int(x + w / 2) // 16] = True
    gaps = {}
    no_faces = DefaultModel(face_weight=0, video_face_weight=0)
    for name, model in (("default", DefaultModel()), ("no faces", no_faces)):
        out = tmp_path / "default.mp4"
        encode_with_model(ASL, out, model, strength=4, clamp=10)
        intra = [f.qp for f in iter_qp_maps(out) if f.pict_type == "I"]
        assert len(intra) >= 5
        gaps[name] = np.array([qp[~face].mean() - qp[face].mean() for qp in intra])
    assert gaps["default"].min() >= 8, gaps  # offsets clamp at 10
    assert gaps["default"].mean() >= gaps["no faces"].mean() + 3, gaps


def test_no_saliency_attaches_nothing(tmp_path):
    out = tmp_path / "plain.mp4"
    stats = encode_with_model(CARPHONE, out, "lc", enabled=False)
    assert stats.frames == 120 and stats.regions == 0 and stats.sum_abs_offset == 0


def test_encode_copies_audio_bit_exact_and_keeps_frames_and_timestamps(tmp_path):
    out = tmp_path / "bbb.mp4"
    r = salcodec.encode(BBB, out, model="lc", preset="veryfast")
    assert r.frames_in == r.frames_out == 50 == count_video_packets(out)
    assert r.copied_streams == 1
    assert audio_payloads(out) == audio_payloads(BBB)
    assert video_pts_seconds(out) == pytest.approx(video_pts_seconds(BBB), abs=1e-6)
    with av.open(str(out)) as a, av.open(str(BBB)) as b:
        assert a.duration == pytest.approx(b.duration, abs=50_000)  # 50 ms of container slack
        assert a.streams.video[0].average_rate == b.streams.video[0].average_rate
    assert r.mean_abs_qp_offset > 0 and r.bytes == out.stat().st_size


def test_mkv_full_range_input_to_mov(tmp_path):
    out = tmp_path / "asl.mov"
    r = salcodec.encode(ASL, out, model="lc", preset="ultrafast")
    assert r.frames_out == r.frames_in == 77
    with av.open(str(out)) as c, av.open(str(ASL)) as a:
        # Full range stays full range (FFmpeg's decoder names it yuvj420p), values untouched.
        assert c.streams.video[0].codec_context.color_range == 2
        got = next(c.decode(video=0)).to_ndarray(format="gray").astype(int)
        ref = next(a.decode(video=0)).to_ndarray(format="gray").astype(int)
        assert abs(got.mean() - ref.mean()) < 1


def test_variable_frame_rate_timestamps_survive(tmp_path):
    src = tmp_path / "vfr.mkv"
    pts = np.cumsum([0] + [33, 33, 50, 17, 100, 33, 33, 66, 33, 40, 27] * 2).tolist()
    write_clip(src, CARPHONE, pts=pts, limit=len(pts))
    out = tmp_path / "vfr_out.mp4"
    r = salcodec.encode(src, out, model="lc", preset="ultrafast")
    assert r.frames_out == len(pts)
    np.testing.assert_allclose(video_pts_seconds(out), np.array(pts) / 1000, atol=1e-3)


def test_odd_size_is_padded_to_even(tmp_path):
    src = tmp_path / "odd.mkv"
    write_clip(src, CARPHONE, codec="ffv1", size=(175, 143), limit=10)
    out = tmp_path / "odd.mp4"
    r = salcodec.encode(src, out, model="lc", preset="ultrafast")
    assert (r.width, r.height) == (176, 144) and r.frames_out == 10


def test_ten_bit_input_is_converted(tmp_path):
    src = tmp_path / "ten.mkv"
    write_clip(src, CARPHONE, codec="ffv1", pix_fmt="yuv420p10le", limit=10)
    out = tmp_path / "ten.mp4"
    r = salcodec.encode(src, out, model="lc", preset="ultrafast")
    assert r.frames_out == 10 and r.mean_abs_qp_offset > 0
    # The ROI still reaches the encoder after the conversion.
    assert qp_statistics(out)[0]["mean_std_qp"] > 1


def test_saliency_changes_the_qp_spread_against_baseline(tmp_path):
    a = salcodec.encode(CARPHONE, tmp_path / "s.mp4", model="lc", preset="veryfast",
                        x264_params="aq-strength=0")
    b = salcodec.encode(CARPHONE, tmp_path / "b.mp4", saliency=False, preset="veryfast",
                        x264_params="aq-strength=0")
    assert b.mean_abs_qp_offset == 0 and b.settings["saliency"] is False
    sa = qp_statistics(tmp_path / "s.mp4")[0]["mean_std_qp"]
    sb = qp_statistics(tmp_path / "b.mp4")[0]["mean_std_qp"]
    assert sa > sb + 1.0
    assert a.bytes != b.bytes


@pytest.fixture
def no_avx512(monkeypatch):
    """Option tests that must not depend on whether this CPU has AVX-512."""
    from salcodec.codecs import x264

    monkeypatch.setattr(x264, "asm_below_avx512", lambda: None)


def test_settings_that_would_drop_the_offsets_are_refused_or_fixed(tmp_path, no_avx512):
    from salcodec.codecs.x264 import x264_options

    with pytest.raises(salcodec.SalcodecError, match="aq-mode=0"):
        x264_options(x264_params="aq-mode=0")
    with pytest.raises(salcodec.SalcodecError, match="MB-tree"):
        x264_options(preset="superfast", x264_params="aq-strength=0")
    with pytest.raises(salcodec.SalcodecError, match="MB-tree"):
        x264_options(x264_params="aq-strength=0:mbtree=0")
    assert x264_options(x264_params="aq-mode=0", roi_enabled=False)["x264-params"] == "aq-mode=0"
    with pytest.warns(salcodec.SalcodecWarning, match="ultrafast"):
        opts = x264_options(preset="ultrafast")
    assert opts["x264-params"] == "aq-mode=1"


@pytest.mark.parametrize("params, cause", [
    ("foo=1", "unknown x264 parameter 'foo'"),
    ("crf=40", "conflicts"),
    ("qp=20", "conflicts"),
    ("preset=slow", "--preset"),
    ("aq-mode=banana", "invalid value"),
    ("aq_mode=0", "aq-mode=0"),  # x264 reads underscores as dashes; so do the checks
])
def test_unknown_or_conflicting_x264_params_are_refused_everywhere(params, cause):
    from salcodec.codecs.x264 import x264_options
    from salcodec.settings import EncodeSettings

    with pytest.raises(salcodec.SalcodecError, match=cause):
        x264_options(x264_params=params)
    with pytest.raises(salcodec.SalcodecError, match=cause):
        EncodeSettings(x264_params=params)  # what encode, compare and crf-search build


def test_known_x264_params_pass_through(no_avx512):
    from salcodec.codecs.x264 import x264_options

    opts = x264_options(x264_params="keyint=8:bframes=2:no-mbtree:aq_strength=0.5")
    assert opts["x264-params"] == "keyint=8:bframes=2:no-mbtree=1:aq-strength=0.5"


@pytest.fixture
def cpu(monkeypatch):
    """Set what x264's options see of the CPU (``cpu((mask, avx512_bit))`` or ``cpu(None)``)."""
    from salcodec.codecs import x264

    def use(caps):
        monkeypatch.setattr(x264, "cpu_capabilities", lambda: caps)
        x264.asm_below_avx512.cache_clear()

    yield use
    monkeypatch.undo()
    x264.asm_below_avx512.cache_clear()


def test_x264_is_held_below_avx512_when_offsets_are_on(cpu):
    # With ROI offsets and MB-tree, libx264's AVX-512 code made the bytes depend on
    # the process's memory (a batch, or what ran before), not only on the input.
    from salcodec.codecs.x264 import x264_options

    avx2, avx512 = 1 << 15, 1 << 16
    cpu((0b1011 | avx2 | avx512, avx512))
    assert x264_options()["x264-params"] == f"asm={0b1011 | avx2}"
    assert "x264-params" not in x264_options(roi_enabled=False)  # plain x264 is left alone
    for mine in ("asm=0", "noasm=1", "no-asm=1"):  # the user's choice stands
        assert x264_options(x264_params=mine)["x264-params"] == mine
    cpu((0b1011 | avx2, avx512))  # no AVX-512 here: nothing to hold back
    assert "x264-params" not in x264_options()
    cpu(None)  # no such symbols, or not x86
    assert "x264-params" not in x264_options()


def test_x264_cpu_detection_is_read_from_the_bundled_library():
    from salcodec.codecs.x264 import check_x264_params, cpu_capabilities

    caps = cpu_capabilities()
    if caps is None:
        pytest.skip("this libx264 has no x264_cpu_detect / x264_cpu_names, or no AVX-512 level")
    mask, bit = caps
    assert bit and not bit & (bit - 1)  # one flag: AVX512's own
    check_x264_params({"asm": str(mask & ~bit)})  # x264's parser takes the mask


def test_frames_from_ndarray_without_time_base_are_encoded_with_offsets(tmp_path):
    # Plain PyAV accepts frames with neither pts nor time base; so must the stage.
    out = tmp_path / "nd.mp4"
    rgb = [f.to_ndarray(format="rgb24") for f in frames(CARPHONE, 12)]
    with av.open(str(out), "w") as c:
        vout = add_h264_stream(c, 176, 144, 25, None, crf=26, preset="veryfast",
                               x264_params=PARAMS)
        with SaliencyEncoder(vout, model=Stripes(), smoothing=0, strength=4, clamp=8) as stage:
            for a in rgb:
                frame = av.VideoFrame.from_ndarray(a, format="rgb24")
                assert frame.time_base is None and frame.pts is None
                c.mux(stage.encode(frame))
            c.mux(stage.flush())
    assert count_video_packets(out) == 12
    pts = video_pts_seconds(out)
    np.testing.assert_allclose(np.diff(pts), 1 / 25, atol=1e-6)
    assert stage.stats.regions > 0
    assert qp_statistics(out)[0]["mean_std_qp"] > 1  # the offsets reached the encoder


def test_stream_that_cannot_carry_roi_is_refused_at_construction(tmp_path):
    # A libx264 stream made by hand in 4:4:4: refused up front with the formats that
    # work, not with a ValueError from the ROI bridge inside the stage.
    with av.open(str(tmp_path / "444.mkv"), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 176, 144, "yuv444p"
        with pytest.raises(SalcodecError, match=" or ".join(PIX_FMTS)):
            SaliencyEncoder(s, model=Stripes())
        SaliencyEncoder(s, model=Stripes(), enabled=False).close()  # no ROI: fine


def test_unknown_model_is_refused_at_construction(tmp_path):
    # The model itself is built on the worker thread (beside the encoder's start);
    # its name is checked before, in the caller's thread.
    with av.open(str(tmp_path / "o.mkv"), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 176, 144, "yuv420p"
        with pytest.raises(ValueError, match="unknown saliency model 'nope'"):
            SaliencyEncoder(s, model="nope")
