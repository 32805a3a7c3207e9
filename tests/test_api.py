"""The Python API for pipelines: ``encode_frames`` and the README's own code, run as written."""

import re
import shutil
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

import salcodec
from salcodec import SalcodecError, encode_frames

from .media import CARPHONE, DATA, audio_payloads, frames, video_pts_seconds

README = Path(__file__).resolve().parents[1] / "README.md"
BBB = DATA / "bbb_audio.mp4"  # 320x180, 50 frames, AAC audio

pytestmark = pytest.mark.filterwarnings("ignore::salcodec.errors.SalcodecWarning")


def readme_python_blocks() -> list[str]:
    """The ```python blocks of README's "Python API" section, in order."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Python API\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_readme_pipeline_examples_run_as_written(tmp_path, monkeypatch, capsys):
    blocks = readme_python_blocks()
    assert any("encode_frames" in b and "av.filter.Graph" in b and "copy_from" in b
               for b in blocks), "the README lost its filter-graph pipeline example"
    shutil.copy(BBB, tmp_path / "in.mp4")
    monkeypatch.chdir(tmp_path)
    for block in blocks:
        exec(compile(block, str(README), "exec"), {"__name__": "readme"})  # noqa: S102
    # The pipeline block: scaled by the filter graph, saliency-encoded, audio muxed.
    out = tmp_path / "scaled.mp4"
    with av.open(str(out)) as c:
        v = c.streams.video[0]
        assert (v.codec_context.name, v.codec_context.width, v.codec_context.height) == (
            "h264", 160, 90)
        assert [s.type for s in c.streams] == ["video", "audio"]
    assert len(list(frames(out))) == 50
    assert audio_payloads(out) == audio_payloads(BBB)  # copied packet for packet
    assert video_pts_seconds(out) == pytest.approx(video_pts_seconds(BBB))
    assert capsys.readouterr().out.splitlines()[-1] == "50 160 90 1"


def carphone_arrays(n):
    return [f.to_ndarray(format="rgb24") for f in frames(CARPHONE, n)]


def test_ndarray_frames_into_a_container_you_own(tmp_path):
    """Frames without pts or time base are timed at ``rate``; the container stays yours."""
    path = tmp_path / "own.mkv"
    with av.open(str(path), "w") as out:
        gen = (av.VideoFrame.from_ndarray(a, format="rgb24") for a in carphone_arrays(12))
        r = encode_frames(gen, out, rate=24, model="lc", preset="veryfast")
        assert r.frames_in == r.frames_out == 12 and r.copied_streams == 0
        assert (r.width, r.height) == (176, 144) and r.mean_abs_qp_offset > 0
        assert r.output == str(path) and r.input == "<frames>"
        # No read-back, so no estimate of plain x264's size: said, not left empty.
        assert r.plain_estimate["bytes"] is None and "encode_frames" in r.plain_estimate["reason"]
    pts = video_pts_seconds(path)
    assert np.allclose(np.diff(pts), 1 / 24, atol=1e-3) and len(pts) == 12


def test_a_container_you_own_that_cannot_hold_the_codec_is_one_error(tmp_path):
    with av.open(str(tmp_path / "own.webm"), "w") as out:
        gen = (av.VideoFrame.from_ndarray(a, format="rgb24") for a in carphone_arrays(2))
        with pytest.raises(salcodec.SalcodecError, match="webm cannot hold H.264"):
            encode_frames(gen, out, rate=24, model="lc")


def test_decoded_frames_keep_their_timestamps_and_rate(tmp_path):
    out = tmp_path / "o.mp4"
    with av.open(str(CARPHONE)) as c:
        r = encode_frames(c.decode(video=0), out, model="lc", preset="ultrafast",
                          rate=Fraction(30000, 1001))
    assert r.frames_out == 120 == len(video_pts_seconds(out))
    assert video_pts_seconds(out) == pytest.approx(video_pts_seconds(CARPHONE))


@pytest.mark.parametrize("case, message", [
    ("exists", "already exists"),
    ("empty", "no frames to encode"),
    ("not-a-frame", "expected an av.VideoFrame, got ndarray"),
    ("backwards", "does not increase"),
    ("size-budget", "budget 'size'"),
])
def test_mistakes_are_one_error_and_leave_nothing(tmp_path, case, message):
    out = tmp_path / "o.mp4"
    arrays = carphone_arrays(4)
    items = [av.VideoFrame.from_ndarray(a, format="rgb24") for a in arrays]
    kwargs = {}
    if case == "exists":
        out.write_bytes(b"keep")
    elif case == "empty":
        items = []
    elif case == "not-a-frame":
        items = [items[0], arrays[1]]
    elif case == "backwards":
        for f, pts in zip(items, [0, 2, 1, 3], strict=True):
            f.pts, f.time_base = pts, Fraction(1, 25)
    else:
        kwargs["budget"] = "size"
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(SalcodecError, match=message):
        encode_frames(iter(items), out, model="lc", preset="ultrafast", **kwargs)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no partial file
    if case == "exists":
        assert out.read_bytes() == b"keep"


def test_copy_from_a_container_and_chosen_streams(tmp_path):
    """A container passed as ``copy_from`` is demuxed for its audio; ``streams`` narrows it."""
    with av.open(str(BBB)) as src, av.open(str(BBB)) as pictures:
        r = encode_frames(pictures.decode(video=0), tmp_path / "a.mkv", copy_from=src,
                          model="lc", preset="ultrafast")
    assert r.copied_streams == 1
    assert audio_payloads(tmp_path / "a.mkv") == audio_payloads(BBB)
    with av.open(str(BBB)) as src, av.open(str(BBB)) as pictures:
        r = encode_frames(pictures.decode(video=0), tmp_path / "v.mkv", copy_from=src,
                          streams=[], model="lc", preset="ultrafast")
    assert r.copied_streams == 0
    with av.open(str(tmp_path / "v.mkv")) as c:
        assert [s.type for s in c.streams] == ["video"]


def test_exported_from_the_package():
    assert salcodec.encode_frames is encode_frames and "encode_frames" in salcodec.__all__


def test_frames_before_zero_are_moved_to_zero_with_their_audio(tmp_path):
    """Frames (and a copy source) starting at a negative time start at 0 in the output."""
    out = tmp_path / "neg.mp4"
    with av.open(str(BBB)) as c:
        shifted = []
        for f in c.decode(video=0):
            f.pts -= 2 * 12800  # -2 s, in the stream's 1/12800
            shifted.append(f)
    r = encode_frames(iter(shifted), out, model="lc", preset="ultrafast", copy_from=BBB)
    got, want = video_pts_seconds(out), video_pts_seconds(BBB)
    assert r.frames_out == 50 and got[0] == pytest.approx(0.0, abs=1e-3)
    assert got == pytest.approx(want, abs=1e-3)  # the source started at 0: -2 s + 2 s
    assert audio_payloads(out) == audio_payloads(BBB)


def test_sample_aspect_ratio_is_written(tmp_path):
    out = tmp_path / "anamorphic.mkv"
    with av.open(str(CARPHONE)) as c:
        encode_frames(c.decode(video=0), out, model="lc", preset="ultrafast",
                      sample_aspect_ratio=Fraction(12, 11))
    with av.open(str(out)) as c:
        assert c.streams.video[0].sample_aspect_ratio == Fraction(12, 11)
