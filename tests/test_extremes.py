"""Extremes (issue 10): odd sizes in every verb, one frame, still images, an animated
GIF, 16x16 frames, huge timestamps, an AVI on a 1/1000 time base. Each works or
says what is wrong in one line."""

import json
from fractions import Fraction

import av
import pytest

from salcodec.cli import main

from .media import CARPHONE, frames, video_pts_seconds, write_clip

pytestmark = pytest.mark.filterwarnings("ignore::salcodec.errors.SalcodecWarning")


@pytest.fixture(scope="module")
def odd(tmp_path_factory):
    """99x75, the issue's size: 4:4:4 H.264 holds odd sizes, 4:2:0 does not."""
    path = tmp_path_factory.mktemp("odd") / "odd.mp4"
    write_clip(path, CARPHONE, size=(99, 75), pix_fmt="yuv444p", limit=8)
    return path


@pytest.fixture(scope="module")
def odd_encoded(odd):
    out = odd.parent / "odd-enc.mp4"
    assert main(["encode", str(odd), str(out), "--preset", "veryfast", "-y"]) == 0
    return out


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("salcodec: error: "), err
    return err[0]


def size_of(path):
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return s.codec_context.width, s.codec_context.height


def test_odd_encode_pads_by_one_pixel(odd_encoded):
    assert size_of(odd_encoded) == (100, 76)


def test_odd_quality_compares_the_picture_not_the_padding(odd, odd_encoded, capsys):
    assert main(["quality", str(odd), str(odd_encoded), "--metrics", "psnr"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["frames_compared"] == 8
    assert any("padded to even" in n for n in report["alignment"]["notes"])
    assert 30 < report["summary"]["psnr"]["mean"] < 60
    # The other way round is a real size mismatch: one line, naming both files.
    assert main(["quality", str(odd_encoded), str(odd)]) == 1
    assert "differs from reference" in one_error_line(capsys)


def test_odd_compare_writes_its_report(odd, tmp_path):
    # Failed before with "<tmp>/arm0_crf18.mp4: frame size 100x76 differs" (issue 10).
    out = tmp_path / "cmp"
    assert main(["compare", str(odd), "--out", str(out), "--crf", "26,34", "--preset",
                 "ultrafast", "--metrics", "psnr,ssim"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report  # the arms were measured against the 99x75 input


def test_odd_crf_search_inspect_saliency_demo(odd, odd_encoded, tmp_path, capsys):
    assert main(["crf-search", str(odd), "--target", "psnr=32", "--preset", "ultrafast",
                 "--samples", "1"]) == 0
    assert main(["inspect", str(odd_encoded), "--png", str(tmp_path / "qp.png")]) == 0
    assert (tmp_path / "qp.png").stat().st_size > 0
    assert main(["saliency", str(odd), str(tmp_path / "sal.mp4")]) == 0
    assert len(list(frames(tmp_path / "sal.mp4"))) == 8
    assert main(["demo", str(odd), "--preset", "ultrafast"]) == 0


@pytest.mark.parametrize("kind", ["one-frame", "png", "jpg", "gif", "16x16"])
def test_tiny_and_still_inputs_encode(kind, tmp_path):
    src = tmp_path / {"one-frame": "one.mp4", "png": "still.png", "jpg": "still.jpg",
                      "gif": "anim.gif", "16x16": "s16.mp4"}[kind]
    expected = {"gif": 5, "16x16": 6}.get(kind, 1)
    if kind == "one-frame":
        write_clip(src, CARPHONE, limit=1)
    elif kind == "16x16":
        write_clip(src, CARPHONE, size=(16, 16), limit=6)
    elif kind == "gif":
        images = [f.to_image().convert("P") for f in frames(CARPHONE, 5)]
        images[0].save(src, save_all=True, append_images=images[1:], duration=100, loop=0)
    else:
        next(frames(CARPHONE)).to_image().save(src)
    out = tmp_path / "out.mkv"
    assert main(["encode", str(src), str(out)]) == 0
    assert len(list(frames(out))) == expected


def test_huge_timestamps_are_kept(tmp_path):
    src = tmp_path / "late.mkv"
    start = 2**40  # ms: about 35 years in
    write_clip(src, CARPHONE, limit=6, pts=[start + 40 * i for i in range(6)])
    for ext in ("mkv", "mp4"):
        out = tmp_path / f"out.{ext}"
        assert main(["encode", str(src), str(out), "--preset", "ultrafast"]) == 0
        assert video_pts_seconds(out) == pytest.approx(video_pts_seconds(src))


def test_avi_on_a_millisecond_time_base_is_not_called_truncated(tmp_path):
    # FFmpeg's AVI muxer writes an index entry per tick (1/1000 s): the stream
    # lists 33x more "frames" than it holds, which encode took for truncation.
    src = tmp_path / "ms.avi"
    write_clip(src, CARPHONE, codec="mpeg4", limit=6, time_base=Fraction(1, 1000))
    with av.open(str(src)) as c:
        assert c.streams.video[0].frames > 6 * 30
    out = tmp_path / "out.mkv"
    assert main(["encode", str(src), str(out), "--preset", "ultrafast"]) == 0
    assert len(list(frames(out))) == 6
