"""The command line as a user meets it: bad input, refusals, JSON, Ctrl-C."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .media import CARPHONE, DATA, audio_payloads, video_pts_seconds, write_clip

README = Path(__file__).resolve().parents[1] / "README.md"

BBB = DATA / "bbb_audio.mp4"


def salcodec(*args, timeout=120, cwd=None):
    return subprocess.run([sys.executable, "-m", "salcodec", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, cwd=cwd)


def assert_one_line_error(proc, *needles):
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("salcodec: error: ")
    for n in needles:
        assert str(n) in lines[0], lines[0]


def default_sigint() -> None:
    """For a child that is sent Ctrl-C: a suite started in the background (``scripts/test &``)
    ignores SIGINT, the children inherit that, and Python then never raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if "partial" in p.name)


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    raw = CARPHONE.read_bytes()
    (d / "empty.mp4").write_bytes(b"")
    (d / "text.mp4").write_text("this is not a video\n" * 50)
    (d / "truncated.mp4").write_bytes(raw[: len(raw) // 3])
    corrupt = bytearray(raw)
    corrupt[2000:200000] = os.urandom(198000)
    (d / "corrupt.mp4").write_bytes(bytes(corrupt))
    (d / "folder.mp4").mkdir()
    import av

    def cut_remux(name, **options):
        """CARPHONE's video remuxed into ``name``, then cut in half as ``cut_<name>``."""
        with av.open(str(CARPHONE)) as src, av.open(str(d / name), "w", **options) as dst:
            v = dst.add_stream_from_template(src.streams.video[0])
            for p in src.demux(video=0):
                if p.dts is not None:
                    p.stream = v
                    dst.mux(p)
        whole = (d / name).read_bytes()
        (d / f"cut_{name}").write_bytes(whole[: len(whole) // 2])

    # moov first (faststart), then cut: the index promises frames the file lacks.
    cut_remux("faststart.mp4", options={"movflags": "faststart"})
    # Matroska lists no frame count, but states each track's length (DURATION).
    cut_remux("whole.mkv")
    with av.open(str(BBB)) as src, av.open(str(d / "audio_only.m4a"), "w") as dst:
        a = dst.add_stream_from_template(src.streams.audio[0])
        for p in src.demux(src.streams.audio[0]):
            if p.dts is not None:
                p.stream = a
                dst.mux(p)
    return d


@pytest.mark.parametrize("name, cause", [
    ("missing.mp4", "no such file"),
    ("empty.mp4", "empty file"),
    ("text.mp4", "not a readable media file"),
    ("truncated.mp4", "truncated or incomplete MP4/MOV"),
    ("corrupt.mp4", "corrupt"),
    ("cut_faststart.mp4", "truncated"),
    ("cut_whole.mkv", "header states"),
    ("folder.mp4", "directory"),
    ("audio_only.m4a", "no video stream"),
])
def test_bad_input_gives_one_line_and_no_output(bad_inputs, tmp_path, name, cause):
    out = tmp_path / "out.mp4"
    proc = salcodec("encode", bad_inputs / name, out, "--model", "lc", timeout=120)
    assert_one_line_error(proc, name, cause)
    assert not out.exists() and leftovers(tmp_path) == []


def test_inspect_rejects_non_media(bad_inputs, tmp_path):
    proc = salcodec("inspect", bad_inputs / "text.mp4")
    assert_one_line_error(proc, "text.mp4")


def test_output_must_not_be_the_input(tmp_path):
    src = tmp_path / "in.mp4"
    src.write_bytes(CARPHONE.read_bytes())
    before = src.read_bytes()
    assert_one_line_error(salcodec("encode", src, src, "-y"), "is the input")
    link = tmp_path / "link.mp4"
    os.link(src, link)
    assert_one_line_error(salcodec("encode", src, link, "-y"), "is the input")
    sym = tmp_path / "sym.mp4"
    sym.symlink_to(src)
    assert_one_line_error(salcodec("encode", src, sym, "-y"), "is the input")
    assert src.read_bytes() == before


def test_existing_output_needs_y(tmp_path):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"keep me")
    assert_one_line_error(salcodec("encode", CARPHONE, out, "--model", "lc"), "already exists")
    assert_one_line_error(salcodec("encode", CARPHONE, out, "-n", "--model", "lc"), "-y")
    assert out.read_bytes() == b"keep me"
    proc = salcodec("encode", CARPHONE, out, "-y", "--model", "lc", "--preset", "ultrafast",
                    "--json")
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes()[4:8] == b"ftyp"


def test_bad_options_are_one_line_errors(tmp_path):
    out = tmp_path / "o.mp4"
    assert_one_line_error(salcodec("encode", CARPHONE, tmp_path / "o.avi"), "extension")
    assert_one_line_error(salcodec("encode", CARPHONE, tmp_path / "no/dir/o.mp4"), "directory")
    assert_one_line_error(salcodec("encode", CARPHONE, out, "--x264-params", "aq-mode=0"),
                          "aq-mode=0")
    assert_one_line_error(salcodec("encode", CARPHONE, out, "--preset", "warp"), "preset")
    assert_one_line_error(salcodec("encode", CARPHONE, out, "--x264-params", "foo=1"),
                          "unknown x264 parameter 'foo'")
    assert_one_line_error(salcodec("encode", CARPHONE, out, "--x264-params", "crf=40"),
                          "crf=40 conflicts", "--crf")
    assert_one_line_error(salcodec("encode", CARPHONE, tmp_path / "o", "--model", "lc"),
                          "no extension", "-f")
    assert not out.exists()


def test_encode_json_and_inspect(tmp_path):
    out = tmp_path / "o.mkv"
    proc = salcodec("encode", CARPHONE, out, "--model", "lc", "--preset", "veryfast", "--json")
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    for key in ("input", "output", "frames_in", "frames_out", "bytes", "seconds",
                "mean_abs_qp_offset"):
        assert key in r
    assert r["frames_in"] == r["frames_out"] == 120 and r["bytes"] == out.stat().st_size
    png = tmp_path / "qp.png"
    proc = salcodec("inspect", out, "--json", "--png", png, "--frame", 3)
    assert proc.returncode == 0, proc.stderr
    stats = json.loads(proc.stdout)
    assert stats["frames"] == 120 and set(stats["by_type"]) <= {"I", "P", "B"}
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_ctrl_c_leaves_no_partial_output(tmp_path):
    out = tmp_path / "o.mp4"
    cmd = [sys.executable, "-m", "salcodec", "encode", str(DATA / "asl_again.mkv"), str(out),
           "--model", "lc", "--preset", "veryslow"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint)
    deadline = time.monotonic() + 60
    while not leftovers(tmp_path) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, "encode finished before it could be interrupted"
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output_folder_is_a_one_line_error(tmp_path, monkeypatch):
    import salcodec
    from salcodec.io import safeio

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(safeio.tempfile, "mkstemp", refuse)
    with pytest.raises(salcodec.SalcodecError, match="cannot write in .*Permission denied"):
        salcodec.encode(CARPHONE, tmp_path / "o.mp4", model="lc")
    assert list(tmp_path.iterdir()) == []


def test_disk_full_is_a_one_line_error_and_leaves_nothing(tmp_path):
    tiny = tmp_path / "tiny"
    tiny.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8k", "tmpfs", str(tiny)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        proc = salcodec("encode", CARPHONE, tiny / "o.mp4", "--model", "lc")
        assert_one_line_error(proc, "o.mp4", "No space left")
        proc = salcodec("saliency", CARPHONE, tiny / "s.mp4", "--model", "lc")
        assert proc.returncode == 1 and "Traceback" not in proc.stderr
        assert proc.stderr.splitlines()[-1].startswith("salcodec: error: ")
        assert list(tiny.iterdir()) == []
    finally:
        subprocess.run(["umount", str(tiny)], check=False)


# Every verb that writes a file: its arguments ({out} = a fresh folder) and the file
# it writes there. Each refuses an existing one without -y, and replaces it with -y.
WRITERS = {
    "encode": (["{clip}", "{out}/o.mkv", "--model", "lc", "--preset", "ultrafast"], "o.mkv"),
    "saliency": (["{clip}", "{out}/s.mkv", "--model", "lc"], "s.mkv"),
    "quality": (["{clip}", "{clip}", "--metrics", "psnr", "-o", "{out}/q.json"], "q.json"),
    "inspect": (["{clip}", "--png", "{out}/qp.png"], "qp.png"),
    "compare": (["{clip}", "--out", "{out}", "--crf", "26,34", "--preset", "ultrafast",
                 "--metrics", "psnr,ssim", "--model", "lc"], "report.json"),
    "crf-search": (["{clip}", "--target", "psnr=30", "--preset", "ultrafast", "--samples", "1",
                    "--model", "lc", "--max-trials", "2", "--encode", "{out}/c.mkv"], "c.mkv"),
    "demo": (["{clip}", "--out", "{out}", "--preset", "ultrafast", "--model", "lc"],
             "short.x264.mp4"),
    "eval-saliency": (["{gaze}", "--model", "centre", "--limit", "2", "--per-frame",
                       "{out}/f.csv"], "f.csv"),
}


@pytest.fixture(scope="module")
def writer_inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("writers")
    write_clip(d / "short.mp4", CARPHONE, limit=10)
    gaze = d / "gaze" / "signer"
    gaze.mkdir(parents=True)
    (gaze / "clip.mkv").write_bytes((DATA / "asl_again.mkv").read_bytes())
    (gaze / "gaze.csv").write_text("clip_frame_0based,recording_id,x_px,y_px\n"
                                   "0,a,320,240\n1,a,330,250\n")
    return {"clip": d / "short.mp4", "gaze": gaze.parent}


def test_every_verb_has_y_n_and_progress():
    from salcodec.cli import COMMANDS, build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    for verb in COMMANDS:
        options = {s for a in sub.choices[verb]._actions for s in a.option_strings}
        assert {"-y", "-n", "--progress", "--no-progress"} <= options, verb
    assert set(WRITERS) == set(COMMANDS)


@pytest.mark.parametrize("verb", list(WRITERS))
def test_every_writing_verb_refuses_an_existing_output_without_y(verb, writer_inputs,
                                                                  tmp_path, capsys):
    from salcodec.cli import main

    args, name = WRITERS[verb]
    argv = [verb, *(a.format(out=tmp_path, **writer_inputs) for a in args)]
    target = tmp_path / name
    target.write_bytes(b"keep me")
    for refused in (argv, [*argv, "-n"]):
        assert main(refused) == 1, verb
        err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
        assert len(err) == 1 and err[0].startswith("salcodec: error: "), err
        assert "already exists (use -y to overwrite" in err[0] and name in err[0]
        assert target.read_bytes() == b"keep me"
    assert main([*argv, "-y"]) == 0, capsys.readouterr().err
    assert target.read_bytes() != b"keep me" and target.stat().st_size > 0
    assert leftovers(tmp_path) == []


def test_saliency_overlay_keeps_the_audio(tmp_path):
    out = tmp_path / "overlay.mp4"
    proc = salcodec("saliency", BBB, out, "--model", "lc")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert audio_payloads(out) == audio_payloads(BBB)
    assert video_pts_seconds(out) == pytest.approx(video_pts_seconds(BBB))


def documented_keys(start: str, end: str) -> set[str]:
    """Key names README lists in backticks between ``start`` and the next ``end``."""
    text = " ".join(README.read_text(encoding="utf-8").split())
    span = text.split(start, 1)[1].split(end, 1)[0]
    return {k.strip() for group in re.findall(r"`([^`]+)`", span) for k in group.split(",")}


def test_json_keys_are_exactly_the_documented_ones(writer_inputs, tmp_path):
    keys = documented_keys("`--json` of `encode` has ", ": the mean QP")
    assert {"input", "bytes", "settings", "qp"} <= keys  # the README sentence was found
    proc = salcodec("encode", writer_inputs["clip"], tmp_path / "o.mkv", "--model", "lc",
                    "--preset", "ultrafast", "--json")
    assert proc.returncode == 0, proc.stderr
    assert set(json.loads(proc.stdout)) == keys
    batch = documented_keys("one JSON line per file to stdout with `--json` (", ");")
    assert {"input", "status", "seconds"} <= batch
    proc = salcodec("encode", writer_inputs["clip"], "--out-dir", tmp_path / "b", "--model",
                    "lc", "--preset", "ultrafast", "--json")
    assert proc.returncode == 0, proc.stderr
    assert set(json.loads(proc.stdout.splitlines()[0])) == batch


# What each verb's progress looks like on stderr (a line or the start of one).
PROGRESS = {"encode": "encode: frames", "saliency": "encode: frames",
            "quality": "quality: frames", "inspect": "inspect: frames", "compare": "CRF 26",
            "crf-search": "sample: ", "demo": "encoding short.mp4", "eval-saliency": "signer: "}


@pytest.mark.parametrize("verb", list(WRITERS))
def test_progress_on_every_verb_only_when_asked(verb, writer_inputs, tmp_path, capsys):
    from salcodec.cli import main

    assert set(PROGRESS) == set(WRITERS)
    args, _ = WRITERS[verb]
    argv = [verb, *(a.format(out=tmp_path, **writer_inputs) for a in args), "-y"]
    if verb == "eval-saliency":  # it reports every 25 frames
        argv[argv.index("--limit") + 1] = "25"
    assert main(argv) == 0  # stderr is not a terminal here: no progress
    assert PROGRESS[verb] not in capsys.readouterr().err
    assert main([*argv, "--progress"]) == 0
    assert PROGRESS[verb] in capsys.readouterr().err


def test_demo_reads_plain_x264s_qp_in_salcodecs_salient_blocks(writer_inputs, capsys):
    # "Where the bytes went" compares like with like: plain x264's realised QP in the
    # very blocks salcodec called salient, beside salcodec's own.
    from salcodec.cli import main

    assert main(["demo", str(writer_inputs["clip"]), "--preset", "ultrafast", "--model", "lc",
                 "--json", "--no-progress"]) == 0
    arms = json.loads(capsys.readouterr().out)
    assert list(arms) == ["x264", "salcodec"]
    plain, sal = arms["x264"]["encode"]["qp"], arms["salcodec"]["encode"]["qp"]
    assert plain["frames"] == sal["frames"] == 10
    assert plain["attended_share"] == sal["attended_share"]
    assert 0 < plain["inside"] < 52 and 0 < plain["outside"] < 52
    assert sal["outside"] > plain["outside"]  # the rest of the frame pays
    # Where the attended budget anchors (its weights, and the map's peak), read in both.
    for arm in (plain, sal):
        assert 0 < arm["weighted"] < 52 and 0 < arm["peak"] < 52
    assert sal["peak"] < sal["outside"]
    # The printed headline is in the JSON; the temporary encodes are named as gone.
    saving = 1 - arms["salcodec"]["encode"]["bytes"] / arms["x264"]["encode"]["bytes"]
    assert arms["salcodec"]["smaller_than_plain"] == pytest.approx(saving, abs=1e-4)
    assert arms["x264"]["encode"]["output"] is arms["salcodec"]["encode"]["output"] is None


def test_realised_qp_is_weighted_as_the_anchor_weighs(writer_inputs, tmp_path):
    # Recomputed here from the decoded QP and the sidecar's importance.
    import numpy as np

    from salcodec import encode
    from salcodec.mapfile import MapReader
    from salcodec.qpinspect import iter_qp_maps
    from salcodec.qpreport import realised_in_map_blocks

    out, side = tmp_path / "o.mp4", tmp_path / "m.jsonl"
    encode(writer_inputs["clip"], out, model="lc", preset="veryfast", export_map=side,
           progress=False)
    got = realised_in_map_blocks(out, side)
    reader = MapReader(side, 176, 144)
    num = den = top_sum = top_n = 0.0
    for q, rec in zip(iter_qp_maps(out), reader, strict=False):
        imp = rec.importance
        w = (imp - imp.min()) / (imp.max() - imp.min())
        num, den = num + (w * q.qp).sum(), den + w.sum()
        k = max(1, round(0.02 * imp.size))
        top = q.qp.ravel()[np.argsort(imp.ravel(), kind="stable")[-k:]]
        top_sum, top_n = top_sum + top.sum(), top_n + top.size
    reader.close()
    assert got["weighted"] == pytest.approx(num / den)
    assert got["peak"] == pytest.approx(top_sum / top_n)


def test_demo_with_a_flat_map_says_so(tmp_path):
    # The text model finds no writing on a black clip: every block gets the same
    # offset, so there is no "elsewhere", which the demo reports instead of failing.
    import av
    import numpy as np

    src = tmp_path / "black.mp4"
    with av.open(str(src), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 176, 144, "yuv420p"
        for i in range(6):
            f = av.VideoFrame.from_ndarray(np.zeros((144, 176, 3), np.uint8), format="rgb24")
            f.pts = i
            c.mux(s.encode(f))
        c.mux(s.encode(None))
    proc = salcodec("demo", src, "--model", "text", "--preset", "ultrafast", "--no-progress")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "elsewhere: n/a / n/a" in proc.stdout, proc.stdout


def test_an_leaves_the_audio_out_like_ffmpeg(tmp_path):
    out = tmp_path / "o.mp4"
    proc = salcodec("encode", BBB, out, "-an", "--model", "lc", "--preset", "veryfast")
    assert proc.returncode == 0, proc.stderr
    import av

    with av.open(str(out)) as c:
        assert [s.type for s in c.streams] == ["video"]


def test_demo_and_compare_encode_the_video_only(tmp_path):
    # PCM audio cannot go into their .mp4 encodes; they measure the video, so they
    # leave the other streams out instead of stopping.
    from .test_metadata import phone_clip

    src = phone_clip(tmp_path / "pcm.mkv", rotation=0, audio_codec="pcm_s16le")
    proc = salcodec("demo", src, "--model", "lc", "--preset", "ultrafast", "--no-progress")
    assert proc.returncode == 0 and "smaller at the same CRF" in proc.stdout, proc.stderr
    proc = salcodec("compare", src, "--crf", "26,32", "--model", "lc", "--preset", "ultrafast",
                    "--out", tmp_path / "cmp", "--no-progress")
    assert proc.returncode == 0, proc.stderr


def test_drop_none_and_a_webm_hint(tmp_path):
    from salcodec import SalcodecError, encode

    out = tmp_path / "o.mkv"
    assert encode(CARPHONE, out, model="lc", preset="veryfast", drop=None,
                  progress=False).frames_out == 120
    with pytest.raises(SalcodecError, match="or --codec libvpx-vp9"):
        encode(CARPHONE, tmp_path / "o.webm", model="lc", progress=False)

