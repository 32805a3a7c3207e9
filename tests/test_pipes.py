"""Pipes like FFmpeg's: stdin, stdout and FIFOs through a real subprocess."""

import os
import subprocess
import sys
import threading

import av
import pytest

import salcodec
from salcodec.transcode import count_video_packets

from .media import DATA, audio_payloads, video_pts_seconds

BBB = DATA / "bbb_audio.mp4"  # 50 frames + AAC, index (moov) at the end
FAST = ["--model", "lc", "--preset", "ultrafast"]

pytestmark = pytest.mark.filterwarnings("ignore::salcodec.errors.SalcodecWarning")


def run(*args, stdin=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "salcodec", *map(str, args)], input=stdin,
                          capture_output=True, timeout=timeout)


def one_line_error(proc, *needles):
    err = proc.stderr.decode() if isinstance(proc.stderr, bytes) else proc.stderr
    lines = [ln for ln in err.splitlines() if ln.strip() and "warning" not in ln]
    assert proc.returncode == 1, err
    assert len(lines) == 1 and lines[0].startswith("salcodec: error: "), err
    for n in needles:
        assert n in lines[0], lines[0]


@pytest.fixture(scope="module")
def mkv_stream(tmp_path_factory):
    """bbb (video + AAC) as Matroska bytes: a format that streams."""
    path = tmp_path_factory.mktemp("pipes") / "bbb.mkv"
    with av.open(str(BBB)) as src, av.open(str(path), "w") as dst:
        streams = {s.index: dst.add_stream_from_template(s) for s in src.streams}
        for p in src.demux():
            if p.dts is not None:
                p.stream = streams[p.stream.index]
                dst.mux(p)
    return path


@pytest.mark.parametrize("fmt", ["matroska", "mp4", "mpegts", "nut"])
def test_stdin_to_stdout_keeps_every_frame_and_the_audio(mkv_stream, tmp_path, fmt):
    proc = run("encode", "-", "-", "-f", fmt, *FAST, stdin=mkv_stream.read_bytes())
    assert proc.returncode == 0, proc.stderr.decode()
    out = tmp_path / f"out.{fmt}"
    out.write_bytes(proc.stdout)
    assert count_video_packets(out) == 50
    with av.open(str(out)) as c:
        assert c.format.name.split(",")[0] in (fmt, "mov")  # mp4 reads back as mov,mp4,...
        assert len(c.streams.audio) == 1
        assert sum(1 for _ in c.decode(video=0)) == 50
    if fmt != "mpegts":  # MPEG-TS repacketises AAC into ADTS
        assert audio_payloads(out) == audio_payloads(BBB)
    if fmt == "mp4":  # to a pipe MP4 is fragmented: the index is not at the end
        assert b"moof" in proc.stdout and proc.stdout.index(b"moov") < proc.stdout.index(b"mdat")
    assert video_pts_seconds(out)[:5] == pytest.approx(video_pts_seconds(BBB)[:5], abs=2e-3)
    assert b"frames" in proc.stderr  # the summary went to stderr, not into the video


def audio_pts_seconds(path) -> list[float]:
    with av.open(str(path)) as c:
        s = c.streams.audio[0]
        return [float(p.pts * s.time_base) for p in c.demux(s) if p.size]


def test_mp4_to_a_pipe_keeps_timestamps_with_b_frames(mkv_stream, tmp_path):
    # B-frames delay the first frame's decoding: a fragmented MP4 whose index
    # came first (empty_moov) had no edit list to undo that, so the video
    # started 2 frames late and the audio lost its priming offset (A/V sync).
    proc = run("encode", "-", "-", "-f", "mp4", "--model", "lc", "--preset", "veryfast",
               stdin=mkv_stream.read_bytes())
    assert proc.returncode == 0, proc.stderr.decode()
    out = tmp_path / "out.mp4"
    out.write_bytes(proc.stdout)
    assert video_pts_seconds(out) == pytest.approx(video_pts_seconds(mkv_stream), abs=2e-3)
    assert audio_pts_seconds(out)[:3] == pytest.approx(audio_pts_seconds(mkv_stream)[:3],
                                                      abs=2e-3)


def test_pipe_names_like_ffmpeg(mkv_stream, tmp_path):
    out = tmp_path / "o.mkv"
    proc = run("encode", "pipe:0", out, *FAST, "--json", stdin=mkv_stream.read_bytes())
    assert proc.returncode == 0, proc.stderr.decode()
    assert count_video_packets(out) == 50
    proc = run("encode", mkv_stream, "pipe:1", "-f", "mkv", *FAST)
    assert proc.returncode == 0 and proc.stdout[:4] == b"\x1a\x45\xdf\xa3"  # EBML magic


def test_fifo_in_and_fifo_out(mkv_stream, tmp_path):
    fin, fout = tmp_path / "in.fifo", tmp_path / "out.fifo"
    os.mkfifo(fin)
    os.mkfifo(fout)
    got = bytearray()

    def feed():
        with open(fin, "wb") as f:
            f.write(mkv_stream.read_bytes())

    def drain():
        with open(fout, "rb") as f:
            got.extend(f.read())

    threads = [threading.Thread(target=feed), threading.Thread(target=drain)]
    for t in threads:
        t.start()
    proc = run("encode", fin, fout, "-f", "matroska", *FAST, "--json")
    for t in threads:
        t.join(timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    out = tmp_path / "got.mkv"
    out.write_bytes(bytes(got))
    assert count_video_packets(out) == 50
    assert b'"frames_out": 50' in proc.stdout  # JSON is fine: the video went to the FIFO


def test_pipe_refusals_are_one_line(mkv_stream, tmp_path):
    data = mkv_stream.read_bytes()
    one_line_error(run("encode", mkv_stream, "-", *FAST), "-f")
    one_line_error(run("encode", mkv_stream, "-", "-f", "matroska", "--json", *FAST), "--json")
    one_line_error(run("encode", mkv_stream, "-", "-f", "webm", *FAST), "webm cannot hold H.264")
    one_line_error(run("encode", mkv_stream, "-", "-f", "flv", *FAST), "unknown output format")
    # An MP4 with its index at the end cannot be read through a pipe.
    one_line_error(run("encode", "-", tmp_path / "o.mkv", *FAST, stdin=BBB.read_bytes()),
                   "faststart")
    # Sampling needs to seek: refused before reading anything.
    one_line_error(run("encode", "-", tmp_path / "o.mkv", "--budget", "size", *FAST, stdin=data),
                   "cannot seek")
    one_line_error(run("quality", "-", mkv_stream, stdin=data), "cannot seek")
    one_line_error(run("inspect", "-", stdin=data), "cannot seek")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_reader_gone_is_a_nonzero_exit_with_a_message(mkv_stream):
    proc = subprocess.Popen([sys.executable, "-m", "salcodec", "encode", str(mkv_stream), "-",
                             "-f", "matroska", *FAST], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.read(2000)
    proc.stdout.close()  # the consumer dies after the first bytes
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) != 0
    assert "Traceback" not in err and "salcodec: error: -: cannot write to stdout" in err, err


def test_api_reads_a_fifo_and_counts_frames(mkv_stream, tmp_path):
    fin = tmp_path / "in.fifo"
    os.mkfifo(fin)
    t = threading.Thread(target=lambda: open(fin, "wb").write(mkv_stream.read_bytes()))
    t.start()
    r = salcodec.encode(fin, tmp_path / "o.mp4", model="lc", preset="ultrafast")
    t.join(timeout=60)
    assert r.frames_in == r.frames_out == 50 and r.copied_streams == 1
