"""Extremes (issue 10): odd sizes in every verb, one frame, still images, an animated
GIF, 16x16 frames, huge timestamps, an AVI on a 1/1000 time base. Each works or
says what is wrong in one line."""

import json
import subprocess
import sys
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


def test_odd_encode_says_that_it_pads(odd, tmp_path):
    # ffmpeg refuses odd 4:2:0 sizes; salcodec pads, and must say so.
    proc = subprocess.run([sys.executable, "-m", "salcodec", "encode", str(odd),
                           str(tmp_path / "o.mp4"), "--model", "lc", "--no-progress"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    warned = [ln for ln in proc.stderr.splitlines() if ln.startswith("salcodec: warning: ")]
    assert len(warned) == 1 and "99x75" in warned[0] and "100x76" in warned[0], proc.stderr


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


def test_8k_frames_encode(tmp_path):
    src = tmp_path / "8k.mkv"
    write_clip(src, CARPHONE, size=(7680, 4320), limit=2, options={"preset": "ultrafast"})
    out = tmp_path / "out.mkv"
    assert main(["encode", str(src), str(out), "--preset", "ultrafast", "--model", "lc"]) == 0
    assert size_of(out) == (7680, 4320) and len(video_pts_seconds(out)) == 2


def test_ten_thousand_tiny_frames_stay_quick(tmp_path):
    import time

    import numpy as np

    src = tmp_path / "tiny.mkv"
    small = [f.reformat(width=16, height=16, format="yuv420p").to_ndarray()
             for f in frames(CARPHONE, 40)]
    with av.open(str(src), "w") as c:
        s = c.add_stream("libx264", rate=30)
        s.width = s.height = 16
        s.options = {"preset": "ultrafast"}
        for i in range(10_000):
            f = av.VideoFrame.from_ndarray(np.ascontiguousarray(small[i % 40]), format="yuv420p")
            f.pts = i
            c.mux(s.encode(f))
        c.mux(s.encode(None))
    out = tmp_path / "out.mkv"
    started = time.monotonic()
    assert main(["encode", str(src), str(out), "--preset", "ultrafast", "--model", "lc"]) == 0
    seconds = time.monotonic() - started
    print(f"10,000 16x16 frames encoded in {seconds:.1f} s")
    assert len(video_pts_seconds(out)) == 10_000
    assert seconds < 40, f"{seconds:.1f} s for 10,000 16x16 frames (target about 20 s)"


def test_interlaced_input_is_coded_progressive_with_its_offsets(tmp_path):
    # FFmpeg's libx264 wrapper skips ROI side data on frames flagged interlaced: before
    # the fix, an interlaced input gave the same bytes with and without saliency.
    src = tmp_path / "tff.mkv"
    write_clip(src, CARPHONE, limit=10, options={"x264-params": "interlaced=1:tff=1"})
    assert all(f.interlaced_frame for f in frames(src))
    outs = {}
    for arm in ("sal", "plain"):
        outs[arm] = tmp_path / f"{arm}.mkv"
        args = [sys.executable, "-m", "salcodec", "encode", str(src), str(outs[arm]),
                "--preset", "veryfast", "--model", "lc"]
        proc = subprocess.run(args + (["--no-saliency"] if arm == "plain" else []),
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert "salcodec: warning: " in proc.stderr
        assert "interlaced video is coded as progressive frames" in proc.stderr
    assert outs["sal"].read_bytes() != outs["plain"].read_bytes()  # the offsets arrived
    assert not any(f.interlaced_frame for f in frames(outs["sal"]))
    assert video_pts_seconds(outs["sal"]) == pytest.approx(video_pts_seconds(src))


def write_negative_start(path, start_ms=-400, count=6):
    """Frames from ``start_ms`` (negative), written without the muxer's shift to zero."""
    with av.open(str(path), "w", options={"avoid_negative_ts": "disabled"}) as out:
        s = out.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 176, 144, "yuv420p"
        s.time_base = s.codec_context.time_base = Fraction(1, 1000)
        for i, f in enumerate(frames(CARPHONE, count)):
            g = f.reformat(format="yuv420p")
            g.pts, g.time_base = start_ms + 40 * i, Fraction(1, 1000)
            out.mux(s.encode(g))
        out.mux(s.encode(None))


def test_negative_start_timestamps(tmp_path):
    # MPEG-TS holds negative timestamps; the output muxer shifts every stream alike to
    # start at zero (FFmpeg's avoid_negative_ts), so spacing and sync are kept.
    src = tmp_path / "neg.ts"
    write_negative_start(src)
    assert video_pts_seconds(src)[0] == pytest.approx(-0.4)
    for ext in ("ts", "mkv", "mp4"):
        out = tmp_path / f"out.{ext}"
        assert main(["encode", str(src), str(out), "--preset", "ultrafast", "--model", "lc"]) == 0
        got, want = video_pts_seconds(out), video_pts_seconds(src)
        assert got[0] >= 0 and len(got) == 6
        assert [t - got[0] for t in got] == pytest.approx([t - want[0] for t in want], abs=2e-3)


def test_negative_timestamps_in_matroska_are_recovered(tmp_path):
    # Matroska cannot store them: FFmpeg reads such a file's pts back as missing; the
    # frames are then timed one frame duration apart, like FFmpeg's best effort.
    src = tmp_path / "neg.mkv"
    write_negative_start(src)
    out = tmp_path / "out.mkv"
    assert main(["encode", str(src), str(out), "--preset", "ultrafast", "--model", "lc"]) == 0
    assert video_pts_seconds(out) == pytest.approx([0.04 * i for i in range(6)], abs=2e-3)


def test_a_stale_length_tag_outside_matroska_is_not_called_truncated(tmp_path):
    # `ffmpeg -i long.mkv -t 3 -c copy short.nut` copies the stream's DURATION tag:
    # NUT keeps it as given, so only Matroska's own tag may say a file was cut short.
    src = tmp_path / "short.nut"
    with av.open(str(CARPHONE)) as c, av.open(str(src), "w") as d:
        vs = c.streams.video[0]
        v = d.add_stream_from_template(vs)
        v.metadata["DURATION"] = "00:00:09.000000000"
        for p in c.demux(vs):
            if p.size and p.pts * vs.time_base < 2:
                p.stream = v
                d.mux(p)
    with av.open(str(src)) as c:
        assert c.streams.video[0].metadata.get("DURATION") == "00:00:09.000000000"
    assert main(["encode", str(src), str(tmp_path / "o.mp4"), "--model", "lc",
                 "--preset", "veryfast", "--no-progress"]) == 0

