"""Saliency models: the protocol, numba kernels vs numpy references, behaviour."""

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from salcodec.data import DEFAULT_CLIP
from salcodec.saliency import (
    MODELS,
    available_models,
    get_model,
    saliency_map,
)
from salcodec.saliency.base import downscale, upscale
from salcodec.saliency.blazeface import BlazeFace, ssd_anchors
from salcodec.saliency.bms import bms_attention, bms_attention_reference
from salcodec.saliency.datasets import read_rgb
from salcodec.saliency.fusion import DefaultModel
from salcodec.saliency.hc import (
    hc_colour_saliency_numba,
    hc_colour_saliency_reference,
    quantise_colours,
)
from salcodec.saliency.lc import lc_saliency_numba, lc_saliency_reference
from salcodec.saliency.motion import compensate_camera
from salcodec.saliency.priors import centre_prior, face_map
from salcodec.saliency.region import (
    cross_region_contrast_numba,
    cross_region_contrast_reference,
)
from salcodec.saliency.text import TextDetector, TextModel, text_map
from salcodec.scenecut import histogram_intersection

DATA = Path(__file__).parent / "data"
STILL = DATA / "fixations" / "points" / "stimuli" / "etocvd_i1007068829.jpg"


def video_frames(name, limit):
    with av.open(str(name if isinstance(name, Path) else DATA / name)) as c:
        decoded = zip(range(limit), c.decode(video=0), strict=False)
        return [f.to_ndarray(format="rgb24") for _, f in decoded]


@pytest.fixture(scope="module")
def photo():
    return read_rgb(STILL)


def square_on_grey(h=72, w=96, colour=(200, 30, 30), top=20, left=50, size=16):
    """A grey frame with textured noise and one coloured square (a clear pop-out)."""
    rng = np.random.default_rng(3)
    img = np.clip(120 + rng.normal(0, 4, (h, w, 3)), 0, 255).astype(np.uint8)
    img[top:top + size, left:left + size] = colour
    return img


@pytest.mark.parametrize("name", sorted(MODELS))
def test_protocol(name, photo):
    model = get_model(name)
    for image in (photo, photo[:30, :40].copy(), photo[:2, :3].copy()):
        model.reset()
        out = model(image)
        assert out.dtype == np.float32
        assert out.shape == image.shape[:2]
        assert out.min() >= 0.0 and out.max() <= 1.0
    # Deterministic after reset; stills are unaffected by history.
    model.reset()
    a = model(photo)
    model.reset()
    assert np.array_equal(a, model(photo))
    with pytest.raises(TypeError):
        model(photo.astype(np.float32))
    with pytest.raises(ValueError):
        model(photo[..., 0])


def test_registry_and_api(photo):
    assert {"default", "lc", "hc", "region", "spectral", "bms", "centre", "faces", "text", "motion",
            "temporal", "saldiff"} <= set(available_models())
    from salcodec.saliency import DEFAULT_MODEL

    assert DEFAULT_MODEL == "default"
    out = saliency_map(photo)
    assert out.shape == photo.shape[:2] and out.dtype == np.float32
    assert np.array_equal(out, saliency_map(photo, DefaultModel()))
    with pytest.raises(ValueError, match="unknown saliency model"):
        get_model("nope")


def test_downscale_upscale():
    img = np.zeros((720, 1280, 3), np.uint8)
    assert downscale(img, 128).shape == (72, 128, 3)
    assert downscale(img, 2000) is img
    assert downscale(img[:2, :1000], 100).shape == (2, 100, 3)
    m = np.random.default_rng(0).random((9, 16)).astype(np.float32)
    up = upscale(m, (90, 160))
    assert up.shape == (90, 160) and up.min() >= m.min() and up.max() <= m.max()


def test_lc_kernel_matches_reference(photo):
    small = downscale(photo, 100)
    np.testing.assert_allclose(lc_saliency_numba(small), lc_saliency_reference(small),
                               rtol=1e-5)


def test_hc_kernel_matches_reference():
    rng = np.random.default_rng(1)
    for n in (1, 2, 7, 60):
        lab = (rng.random((n, 3)) * [100, 200, 200] - [0, 100, 100]).astype(np.float32)
        freq = rng.random(n).astype(np.float32)
        freq /= freq.sum()
        for m in (1, 2, max(n // 4, 1), n):
            np.testing.assert_allclose(hc_colour_saliency_numba(lab, freq, m),
                                       hc_colour_saliency_reference(lab, freq, m),
                                       rtol=1e-4, atol=1e-4)


def test_hc_quantisation_covers_pixels():
    img = square_on_grey()
    index, lab, freq = quantise_colours(img)
    assert index.shape == img.shape[:2] and index.max() < len(lab)
    assert freq.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(np.bincount(index.ravel(), minlength=len(lab)) / index.size, freq,
                               rtol=1e-6)


def test_region_kernel_matches_reference():
    rng = np.random.default_rng(2)
    lab_q, lab_r = rng.random((13, 3)) * 100, rng.random((9, 3)) * 100
    pos_q, pos_r = rng.random((13, 2)), rng.random((9, 2))
    w = rng.random(9)
    args = [np.asarray(a, np.float32) for a in (lab_q, pos_q, lab_r, pos_r, w)]
    np.testing.assert_allclose(cross_region_contrast_numba(*args, 0.4),
                               cross_region_contrast_reference(*args, 0.4), rtol=1e-5)


def test_bms_kernel_matches_reference(photo):
    import cv2

    from ._bms_numba import bms_attention_numba

    small = downscale(photo, 64)
    channels = np.ascontiguousarray(
        cv2.cvtColor(small, cv2.COLOR_RGB2Lab).transpose(2, 0, 1), dtype=np.float32)
    thresholds = np.linspace(30, 220, 6, dtype=np.float32)[None].repeat(3, 0)
    got = bms_attention(channels, thresholds)
    assert got.max() > 0 and got.dtype == np.float32
    np.testing.assert_allclose(got, bms_attention_reference(channels, thresholds), atol=1e-5)
    # The OpenCV flood fill replaced this numba kernel: same maps, bit for bit.
    assert np.array_equal(got, bms_attention_numba(channels, thresholds))
    # A ring: its hole and the ring itself are surrounded only where they do not touch
    # the border; the outside never is.
    ring = np.zeros((1, 12, 12), np.float32)
    ring[0, 3:9, 3:9] = 1
    ring[0, 5:7, 5:7] = 0
    att = bms_attention(ring, np.array([[0.5]], np.float32))
    assert att[0, 0] == 0 and att[5, 5] > 0 and att[3, 3] > 0
    np.testing.assert_allclose(att, bms_attention_reference(ring, np.array([[0.5]])), atol=1e-6)
    # Tiles must not leak into each other: a figure touching one tile's bottom edge
    # is border-connected (cleared), one a pixel above it is surrounded (kept).
    edge = np.zeros((2, 5, 6), np.float32)
    edge[0, 4, 2:4] = 1
    edge[1, 3, 2:4] = 1
    att = bms_attention(edge, np.array([[0.5], [0.5]], np.float32))
    np.testing.assert_allclose(att, bms_attention_reference(edge, np.array([[0.5], [0.5]])),
                               atol=1e-6)
    assert np.array_equal(att, bms_attention_numba(edge, np.array([[0.5], [0.5]], np.float32)))


@pytest.mark.parametrize("name", ["lc", "hc", "region", "spectral", "bms", "default"])
def test_pop_out_square_is_salient(name):
    img = square_on_grey()
    out = get_model(name)(img)
    inside = out[22:34, 52:64].mean()
    outside = np.concatenate([out[:, :40].ravel(), out[50:, :].ravel()]).mean()
    assert inside > outside + 0.2, (inside, outside)


def test_centre_prior():
    c = centre_prior((5, 7))
    assert c[2, 3] == pytest.approx(1.0) and c.argmax() == 2 * 7 + 3
    assert c[0, 0] < c[1, 1] < c[2, 2]
    with pytest.raises(ValueError):
        centre_prior((5, 7), sigma=0)


def test_face_map():
    m = face_map((50, 80), np.array([[40, 10, 20, 20]]))
    assert np.unravel_index(m.argmax(), m.shape) == (18, 50)  # centre x, 0.4 down
    assert m[18, 50 + 8] == pytest.approx(np.exp(-0.5), rel=1e-4)  # sigma 0.4 of the width
    assert face_map((5, 5), np.zeros((0, 4))).max() == 0


def test_ssd_anchors_match_mediapipe_layout():
    # 256 px, strides 16 (2 anchors per cell) and 32 x3 (6 per cell): 512 + 384.
    a = ssd_anchors()
    assert a.shape == (896, 2)
    assert np.allclose(a[:2], [[0.5 / 16, 0.5 / 16]] * 2)  # first cell, twice
    assert np.allclose(a[512:518], [[0.5 / 8, 0.5 / 8]] * 6)
    assert np.allclose(a[-1], [7.5 / 8, 7.5 / 8])


def test_blazeface_finds_the_face_and_nothing_in_flat_frames():
    det = BlazeFace()
    assert len(det.detect(np.full((120, 160, 3), 128, np.uint8))) == 0
    # One person signing to the camera: one face, top centre-right.
    frame = video_frames("asl_again.mkv", 1)[0]
    boxes = det.detect(frame)
    assert len(boxes) == 1, boxes
    x, y, w, h, score = boxes[0]
    assert abs(x + w / 2 - 325) < 25 and abs(y + h / 2 - 128) < 25 and score > 0.9, boxes
    # The talking head in the car: one face, in the upper middle.
    boxes = det.detect(video_frames(DEFAULT_CLIP, 1)[0])
    assert len(boxes) == 1, boxes
    x, y, w, h, _ = boxes[0]
    assert 40 < x + w / 2 < 130 and 20 < y + h / 2 < 90, boxes


def test_text_detector_finds_written_words_only():
    det = TextDetector()
    frame = video_frames("bbb_audio.mp4", 1)[0].copy()  # 320x180, no writing in it
    assert det.probability(frame).max() < 0.05
    assert det.probability(np.full((120, 160, 3), 128, np.uint8)).max() < 0.05
    cv2.putText(frame, "EXIT 42", (170, 60), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 2,
                cv2.LINE_AA)
    prob = det.probability(frame)
    assert prob.shape == (192, 320)  # long side 320, sides rounded to multiples of 32
    ys, xs = np.nonzero(prob > 0.5)
    sy = 192 / 180
    assert 165 <= xs.min() and xs.max() <= 300 and 30 * sy <= ys.min() and ys.max() <= 66 * sy
    # Resampled to the frame and blurred, the map keeps the detector's confidence.
    m = text_map(prob, (180, 320))
    assert m.shape == (180, 320) and m.max() == pytest.approx(prob.max(), rel=1e-5)
    assert np.unravel_index(m.argmax(), m.shape)[0] in range(35, 65)
    assert text_map(np.zeros((4, 4), np.float32), (9, 16)).max() == 0
    assert text_map(np.full((4, 4), 0.2, np.float32), (9, 16)).max() == 0  # below threshold
    assert TextModel()(video_frames("bbb_audio.mp4", 1)[0]).max() == 0  # no writing: no map
    # The default model's map rises on the words.
    plain = DefaultModel(text_weight=0.0)(frame)
    with_text = DefaultModel()(frame)
    assert with_text[45:60, 180:250].mean() > plain[45:60, 180:250].mean() + 0.1


def test_camera_compensation_removes_pan_keeps_object():
    h, w = 40, 60
    yy, xx = np.indices((h, w))
    pan = np.stack([1.5 + 0.01 * xx, -0.5 + 0.02 * yy], -1).astype(np.float32)  # affine
    assert np.abs(compensate_camera(pan)).max() < 1e-4
    flow = pan.copy()
    flow[10:18, 20:28] += [3.0, 0.0]  # an object moving against the pan
    mag = np.linalg.norm(compensate_camera(flow), axis=-1)
    assert mag[10:18, 20:28].min() > 2.5 and np.median(mag) < 0.1


def shifted(img, dx):
    return np.ascontiguousarray(np.roll(img, dx, axis=1))


def test_motion_model_pan_vs_moving_object(photo):
    base = downscale(photo, 128)
    model = get_model("motion")
    assert model(base).max() == 0  # first frame: nothing to compare with
    out = model(shifted(base, 3))  # pure pan: nothing stands out much
    pan_level = out.mean()
    model.reset()
    obj = base.copy()
    model(obj)
    moved = base.copy()
    moved[30:50, 60:80] = base[30:50, 54:74]  # a patch moves 6 px right
    out = model(moved)
    assert out[32:48, 62:78].mean() > 0.5 > pan_level
    assert out[32:48, 62:78].mean() > 3 * out[:, :40].mean()


def test_temporal_models_light_up_appearing_object():
    still = square_on_grey(colour=(120, 120, 120))
    changed = square_on_grey()
    for name in ("temporal", "saldiff"):
        model = get_model(name)
        assert model(still).max() == 0
        assert model(still).max() == 0  # nothing changed
        out = model(changed)
        assert out[22:34, 52:64].mean() > 0.5 > out[:, :40].mean(), name
        model.reset()
        assert model(changed).max() == 0


def test_default_detects_cuts_and_smooths():
    bbb = video_frames("bbb_audio.mp4", 50)
    asl = [downscale(f, 320)[:180] for f in video_frames("asl_again.mkv", 20)]
    model = DefaultModel()
    for f in bbb + asl:  # two real shots back to back: one cut, none within a shot
        model(f)
    assert model.cuts == 1
    # After a cut nothing is carried over: same as a fresh model on that frame.
    model = DefaultModel()
    model(bbb[0])
    after_cut = model(asl[0])
    assert model.cuts == 1
    assert np.allclose(after_cut, DefaultModel()(asl[0]), atol=1e-6)
    # Without a cut the previous map is blended in (smoothing) and motion counts.
    # (Faces are detected on every frame here: BlazeFace finds the bunny's.)
    # The still branch (a shot's first frame) made the video branch's twin.
    every = dict(detect_interval=1, gaze_interval=1, first_gaze_sides=(256,),
                 first_gaze_mirror=False, centre_sigma=0.25, offset=0.3, gamma=1.5,
                 gaze_weight=0.75, face_weight=1, video_centre_sigma=0.25,
                 video_gamma=1.5, video_gaze_weight=0.75, video_face_weight=1)
    smooth = DefaultModel(**every)
    plain = DefaultModel(smoothing=0.0, motion_weight=0.0, **every)
    smooth(bbb[0])
    plain(bbb[0])
    assert not np.allclose(smooth(bbb[1]), plain(bbb[1]), atol=1e-4)
    assert np.allclose(plain(bbb[2]), DefaultModel(**every)(bbb[2]), atol=1e-6)


def test_histogram_intersection():
    assert histogram_intersection([1, 1, 0], [2, 2, 0]) == pytest.approx(1.0)
    assert histogram_intersection([1, 0], [0, 1]) == 0.0
    with pytest.raises(ValueError):
        histogram_intersection([1], [1, 2])


def test_default_runs_detectors_on_a_staggered_schedule_and_after_cuts(monkeypatch):
    bbb = video_frames("bbb_audio.mp4", 9)
    asl = [downscale(f, 320)[:180] for f in video_frames("asl_again.mkv", 3)]
    from salcodec.saliency import fusion

    model = DefaultModel(detect_interval=4, gaze_interval=6, text_interval=8)
    calls, frame_index = [], [0]
    for name, obj, attr in (("faces", model._face_detector, "detect"),
                            ("text", model._text_detector, "probability"),
                            ("gaze", fusion, "gaze_probability")):
        real = getattr(obj, attr)

        def spy(*args, real=real, name=name):
            calls.append((name, frame_index[0]))
            return real(*args)

        monkeypatch.setattr(obj, attr, spy)
    for i, frame in enumerate(bbb + asl):  # a cut at frame 9
        frame_index[0] = i
        model(frame)
    assert [i for n, i in calls if n == "faces"] == [0, 4, 8, 9]
    # Half its interval later, but faces run then: one network per frame, text next.
    assert [i for n, i in calls if n == "text"] == [0, 5, 9]
    assert [i for n, i in calls if n == "gaze"] == [0, 3, 9]  # half an interval, then 6
    # Called every other frame (the encoder's cadence), the schedule counts video frames.
    calls.clear()
    model = DefaultModel(detect_interval=4, gaze_interval=6)
    model.frame_step = 2
    for i in range(0, 9, 2):
        frame_index[0] = i
        model(bbb[i])
    assert [i for n, i in calls if n == "gaze"] == [0, 4]


def test_models_run_beside_other_threads():
    # The encoder computes saliency in a pipeline thread: instances must not
    # share state, so concurrent streams give exactly the sequential maps.
    from concurrent.futures import ThreadPoolExecutor

    clips = [video_frames("bbb_audio.mp4", 12), [downscale(f, 320) for f in
                                                  video_frames("asl_again.mkv", 12)]]

    def run(frames):
        model = DefaultModel(detect_interval=5)
        return [model(f) for f in frames]

    sequential = [run(c) for c in clips]
    with ThreadPoolExecutor(2) as pool:
        threaded = list(pool.map(run, clips))
    for a, b in zip(sequential, threaded, strict=True):
        for x, y in zip(a, b, strict=True):
            assert np.array_equal(x, y)


def test_registry_names_match_the_classes_and_import_lazily():
    import subprocess
    import sys

    from salcodec.saliency import model_class

    for name in MODELS:
        assert model_class(name).name == name
    code = "import sys, salcodec; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_default_encode_path_does_not_load_numba(tmp_path):
    # numba (llvmlite) costs ~120 MiB and up to a CPU-second per process: the
    # default model must not pull it in (issue 14's RSS and start-up targets).
    import subprocess
    import sys

    from .media import CARPHONE, write_clip

    src = tmp_path / "in.mp4"
    write_clip(src, CARPHONE, limit=8)
    code = ("import sys; from salcodec.cli import main; "
            f"rc = main(['encode', {str(src)!r}, {str(tmp_path / 'out.mp4')!r}, '--preset', "
            "'ultrafast', '--no-progress']); "
            "print(rc, 'numba' in sys.modules, 'salcodec.saliency.fusion' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=300)
    assert out.stdout.split() == ["0", "False", "True"], out.stdout + out.stderr


def test_lab_tables_are_built_beside_the_model_and_awaited(photo, tmp_path):
    # A fresh process: building a model starts OpenCV's Lab tables in a thread
    # (its first 8-bit conversion costs ~90 ms); BMS waits for them, and the
    # map is the one of a process whose tables were long built.
    import subprocess
    import sys

    from salcodec.saliency.bms import bms_saliency

    np.save(tmp_path / "photo.npy", photo)
    code = ("import threading, numpy as np; from salcodec.saliency import bms; "
            "m = bms.BMSModel(); t = bms._lab_tables; "
            "print(t.name, t in threading.enumerate() or t.ident is not None, t.daemon); "
            f"np.save({str(tmp_path / 'map.npy')!r}, "
            f"bms.bms_saliency(np.load({str(tmp_path / 'photo.npy')!r}))); "
            "print(t.is_alive())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    # Not a daemon: a process exiting on an early error while OpenCV was still
    # inside the conversion aborted (SIGABRT) in a fuzz case.
    assert out.stdout.split() == ["salcodec-lab-tables", "True", "False", "False"], (
        out.stdout + out.stderr)
    assert np.array_equal(np.load(tmp_path / "map.npy"), bms_saliency(photo))


def test_default_smoothing_decays_per_frame_of_video():
    # Called every 3rd frame, the previous map weighs smoothing ** 3: the map
    # follows the content at the same pace in time whatever the cadence.
    bbb = video_frames("bbb_audio.mp4", 7)[::3]
    cues = dict(detect_interval=0, gaze_weight=0, video_gaze_weight=0, motion_weight=0)
    every3 = DefaultModel(smoothing=0.7, **cues)
    every3.frame_step = 3
    once = DefaultModel(smoothing=0.7 ** 3, **cues)
    for f in bbb:
        a, b = every3(f), once(f)
    assert np.allclose(a, b, atol=1e-6)
    assert not np.allclose(a, DefaultModel(smoothing=0.7, **cues)(bbb[-1]), atol=1e-3)


def test_first_frame_gaze_is_not_larger_than_the_frame(monkeypatch):
    # The encoder's 720p thumbnail is 320x180: the learned map of a shot's first
    # frame runs at 320 there (mirrored), not enlarged to 512; later frames at
    # gaze_side, not mirrored. Several first sides run once each after capping.
    from salcodec.saliency import fusion

    sides = []
    real = fusion.gaze_probability

    def spy(rgb, shape, side, mirror=False):
        sides.append((side, mirror))
        return real(rgb, shape, side, mirror)

    monkeypatch.setattr(fusion, "gaze_probability", spy)
    frames = [downscale(f, 320) for f in video_frames("bbb_audio.mp4", 2)]
    model = DefaultModel(gaze_interval=1)
    for f in frames:
        model(f)
    assert sides == [(320, True), (256, False)]
    sides.clear()
    DefaultModel(gaze_interval=1)(cv2.resize(frames[0], (640, 360)))
    assert sides == [(512, True)]
    sides.clear()
    DefaultModel(first_gaze_sides=(512, 768))(cv2.resize(frames[0], (640, 360)))
    DefaultModel(first_gaze_sides=(512, 768), first_gaze_mirror=False)(frames[0])
    assert sides == [((512, 640), True), (320, False)]
