"""The half-size proxy behind crf-search's size prediction (salcodec.sizeproxy)."""

from __future__ import annotations

import numpy as np
import pytest

from salcodec.bitstream import video_payload_bytes
from salcodec.crfsearch import SampleScorer
from salcodec.sampling import make_sample
from salcodec.settings import EncodeSettings
from salcodec.sizeproxy import MIN_WIDTH, FrameSizes, SizeProxy, proxy_size
from salcodec.transcode import encode

from .media import CARPHONE

PLAIN = EncodeSettings(preset="veryfast", saliency=False, crf=28)


def sizes(values, keys) -> FrameSizes:
    return FrameSizes(np.array(values, dtype=np.float64), np.array(keys, dtype=bool))


def test_proxy_size_is_even_half_and_never_too_narrow():
    assert proxy_size(1280, 720) == (640, 360)
    assert proxy_size(1918, 1080) == (960, 540)
    for w, h in ((176, 144), (100, 50), (33, 17), (2, 2), (7681, 4321)):
        pw, ph = proxy_size(w, h)
        assert pw % 2 == 0 and ph % 2 == 0
        assert pw >= min(MIN_WIDTH, w + (w & 1)) and pw <= max(w + 1, MIN_WIDTH)


def test_prediction_scales_each_picture_kind():
    full = sizes([900, 100, 100, 100, 800, 100, 100, 100], [1, 0, 0, 0, 1, 0, 0, 0])
    win = sizes([400, 50, 50], [1, 0, 0])
    proxy = SizeProxy(full, win, (8, 8))
    # A trial equal to the window proxy predicts the full proxy itself.
    assert proxy.predict(win) == pytest.approx(full.bytes.sum())
    # Key frames twice as dear at full size, the rest three times.
    trial = sizes([800, 150, 150], [1, 0, 0])
    assert proxy.predict(trial) == pytest.approx(1700 * 2 + 600 * 3)
    # Linear in the trial's bytes.
    doubled = sizes(trial.bytes * 2, trial.keys)
    assert proxy.predict(doubled) == pytest.approx(2 * proxy.predict(trial))


def test_a_kind_the_trial_lacks_borrows_the_all_frames_ratio():
    full = sizes([900, 100, 100, 800], [1, 0, 0, 1])
    win = sizes([400, 50], [1, 0])
    trial = sizes([300, 300], [0, 0])  # the encoder chose no key frame in the trial
    ratio = trial.bytes.mean() / win.bytes.mean()  # 300 / 225, for the key frames
    expected = 1700 * ratio + 200 * 300 / 50
    assert SizeProxy(full, win, (8, 8)).predict(trial) == pytest.approx(expected)


def test_real_proxy_predicts_a_real_full_encode(tmp_path):
    sample = make_sample(CARPHONE, tmp_path / "s.mkv", count=3, seconds=0.3, proxy=PLAIN)
    proxy = sample.proxy
    assert proxy is not None
    assert len(proxy.full.bytes) == sample.source_frames and proxy.full.keys[0]
    assert len(proxy.windows.bytes) == sample.frames
    assert proxy.size == (88, 72)  # half of 176x144
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.mkv"]  # the proxies are gone
    trial = tmp_path / "t.mkv"
    encode(sample.path, trial, PLAIN, overwrite=True, progress=False)
    scorer = SampleScorer(sample, "psnr")
    _, predicted = scorer.predict(*scorer.score(trial))
    assert predicted == pytest.approx(proxy.predict(FrameSizes.of_file(trial)))
    full = tmp_path / "full.mp4"
    encode(CARPHONE, full, PLAIN, overwrite=True, progress=False)
    real = video_payload_bytes(full)
    assert abs(real / predicted - 1) < 0.06, (real, predicted)


def test_whole_video_sample_needs_no_proxy(tmp_path):
    sample = make_sample(CARPHONE, tmp_path / "s.mkv", count=1, seconds=60, proxy=PLAIN)
    assert sample.windows == ((0, sample.source_frames),) and sample.proxy is None
