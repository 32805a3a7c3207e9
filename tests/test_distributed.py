"""salcodec encode --distributed: chunks on a real Dask scheduler and workers (loopback only).

The clip: carphone with a scene cut into Big Buck Bunny and back (130 frames,
176x144, a keyframe every 10 frames) and Big Buck Bunny's AAC track, cut
into 1 s chunks (4 chunks), so chunks start inside shots and on a cut.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import av
import pytest

from salcodec.errors import SalcodecError
from salcodec.settings import EncodeSettings
from salcodec.transcode import encode

from .media import CARPHONE, DATA, audio_payloads, clip, frames, video_pts_seconds, write_clip
from .test_cli import assert_one_line_error, default_sigint, salcodec

ROOT = Path(__file__).resolve().parents[1]
TB = Fraction(1, 15360)


def make_cut_clip(path: Path, gop: int = 10) -> Path:
    """carphone 0-49, bbb 0-39 (resized), carphone 50-89 at 30 fps, with bbb's audio."""
    car = list(frames(CARPHONE, 90))
    bbb = list(frames(clip("bbb_audio.mp4"), 40))
    with av.open(str(clip("bbb_audio.mp4"))) as a, av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = 176, 144, "yuv420p"
        s.time_base = s.codec_context.time_base = TB
        s.options = {"g": str(gop), "keyint_min": str(gop), "preset": "veryfast"}
        ain = a.streams.audio[0]
        aout = out.add_stream_from_template(ain)
        for i, f in enumerate(car[:50] + bbb + car[50:90]):
            g = f.reformat(width=176, height=144, format="yuv420p")
            g.pts, g.time_base = i * 512, TB
            out.mux(s.encode(g))
        out.mux(s.encode(None))
        for p in a.demux(ain):
            if p.dts is not None:
                p.stream = aout
                out.mux(p)
    return path


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("distributed")


@pytest.fixture(scope="module")
def cut_clip(work):
    return make_cut_clip(work / "cut.mp4")


@pytest.fixture(scope="module")
def single(work, cut_clip):
    """The single-process encode and its map sidecar: what chunking must reproduce."""
    out, side = work / "single.mp4", work / "single.map.jsonl"
    encode(cut_clip, out, progress=False, export_map=side)
    return out, side


def check_output(out: Path, src: Path) -> None:
    """A valid file: every frame decodes, timestamps and audio exactly the source's."""
    with av.open(str(out)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 130
    if out.suffix == ".mkv":  # Matroska counts milliseconds
        assert video_pts_seconds(out) == pytest.approx(video_pts_seconds(src), abs=5e-4)
    else:
        assert video_pts_seconds(out) == video_pts_seconds(src)
    assert audio_payloads(out) == audio_payloads(src)


def map_frames(path: Path) -> list[str]:
    return Path(path).read_text().splitlines()


# --- no cluster needed -------------------------------------------------------------------


def test_plan_cuts_at_keyframes(cut_clip):
    from salcodec.distributed.chunks import plan_chunks

    plan = plan_chunks(cut_clip, 1.0, 1.0)
    # The 10 frames after 120 (under half a chunk) join the last chunk.
    assert [c.start // 512 for c in plan.chunks] == [0, 30, 60, 90]
    assert [c.frames for c in plan.chunks] == [30, 30, 30, 40]
    assert [c.seek // 512 for c in plan.chunks] == [0, 0, 30, 60]  # keyframe 1 s before
    assert plan.frames == 130


def test_warm_up_is_what_makes_boundary_maps_equal(cut_clip, single):
    """Chunk 1 starts mid-shot at frame 30: with its warm-up (from frame 0) its maps are
    the single-process ones; without (the control) they differ, so the check can fail."""
    import zlib

    from salcodec.distributed.chunks import plan_chunks
    from salcodec.distributed.worker import encode_chunk

    ref = map_frames(single[1])
    for warm, equal in ((1.0, True), (0.0, False)):
        chunk = plan_chunks(cut_clip, 1.0, warm).chunks[1]
        r = encode_chunk(str(cut_clip), chunk, EncodeSettings(), x264_threads=1,
                         export_map=True)
        got = zlib.decompress(r.map_lines).decode().splitlines()[1:]
        assert r.frames == 30 and r.warm_frames == (30 if warm else 0)
        strip = [json.loads(x) for x in got]
        want = [json.loads(x) for x in ref[31:61]]
        same = [(a["pts"], a["offsets"], a["importance"]) == (b["pts"], b["offsets"],
                                                             b["importance"])
                for a, b in zip(strip, want, strict=True)]
        assert all(same) if equal else not all(same)


def test_scan_finds_the_cuts_the_encoder_sees(cut_clip):
    from salcodec.distributed.chunks import plan_chunks
    from salcodec.distributed.worker import scan_cuts

    plan = plan_chunks(cut_clip, 1.0, 1.0)
    assert [p // 512 for c in plan.chunks for p in scan_cuts(str(cut_clip), c)] == [50, 90]


def test_warm_up_in_step_with_the_schedule_inside_a_long_shot(work):
    """A chunk 180 frames into one shot: its warm-up starts at frame 90, a whole number
    of schedule periods (90 frames: faces every 30, text every 90 from frame 45, the
    learned map every 18) after the shot's start and >= 90 frames before the chunk, and
    its maps equal the single-process ones; started off the schedule (frame 125), they
    do not."""
    import zlib
    from dataclasses import replace

    from salcodec.distributed.chunks import (
        align_warm_up,
        plan_chunks,
        schedule_period,
        warm_frames,
    )
    from salcodec.distributed.worker import encode_chunk

    src = work / "pingpong.mp4"
    car = list(frames(CARPHONE, 120))
    with av.open(str(src), "w") as out:  # carphone forth, back and forth: one 12 s shot
        s = out.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = 176, 144, "yuv420p"
        s.time_base = s.codec_context.time_base = TB
        s.options = {"g": "30", "keyint_min": "30", "preset": "veryfast"}
        for i, f in enumerate(car + car[::-1] + car):
            g = f.reformat(format="yuv420p")
            g.pts, g.time_base = i * 512, TB
            out.mux(s.encode(g))
        out.mux(s.encode(None))
    side = work / "pingpong.map.jsonl"
    encode(src, work / "pingpong-single.mkv", progress=False, export_map=side)
    ref = [json.loads(x)["offsets"] for x in map_frames(side)[1:]]
    settings = EncodeSettings()
    plan = plan_chunks(src, 6.0)
    period = schedule_period(settings)
    assert period == 90 and warm_frames(plan, 3.0, period) == 90
    chunk = align_warm_up(plan, [], period, 90).chunks[1]
    assert (chunk.start // 512, chunk.warm_from // 512) == (180, 90)
    for warm_from, equal in ((chunk.warm_from, True), (125 * 512, False)):
        r = encode_chunk(str(src), replace(chunk, warm_from=warm_from), settings,
                         x264_threads=1, export_map=True)
        got = [json.loads(x)["offsets"]
               for x in zlib.decompress(r.map_lines).decode().splitlines()[1:]]
        assert (got == ref[180:]) is equal


def test_schedule_period_counts_every_network():
    """The text detector's interval (90) is in the period, not only faces' and the
    learned map's (30, 15); intervals round up to the cadence (3)."""
    from salcodec.distributed.chunks import schedule_period

    assert schedule_period(EncodeSettings()) == 90
    assert schedule_period(EncodeSettings(model="lc")) == 3  # no networks: the cadence


def test_resume_reuses_verified_chunks_without_a_cluster(work, cut_clip, single):
    """All chunks already in the work dir: the join runs, no scheduler is contacted
    (the address is a closed port); a corrupted chunk is not reused."""
    from salcodec.distributed import encode_distributed
    from salcodec.distributed.chunks import plan_chunks
    from salcodec.distributed.resume import WorkDir
    from salcodec.distributed.worker import encode_chunk

    settings = EncodeSettings()
    plan = plan_chunks(os.path.abspath(cut_clip), 1.0)
    fp = plan.fingerprint(settings.as_dict(), {"export_map": True})
    wd = work / "resume"
    store = WorkDir(wd, fp)
    for c in plan.chunks:
        store.save(encode_chunk(plan.input, c, settings, x264_threads=1, export_map=True))
    bad = wd / "chunk-00002.bin"
    good = bad.read_bytes()
    bad.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    assert store.load(2) is None and store.load(1) is not None
    bad.write_bytes(good)
    with pytest.raises(SalcodecError, match="another job"):
        WorkDir(wd, "0" * 64)
    out, side = work / "resumed.mp4", work / "resumed.map.jsonl"
    result = encode_distributed(cut_clip, out, settings, address="tcp://127.0.0.1:9",
                                chunk_seconds=1.0, resume=wd, progress=False,
                                export_map=side)
    assert result.frames_out == 130 and result.budget["chunks"] == 4
    check_output(out, cut_clip)
    assert map_frames(side) == map_frames(single[1])  # the whole sidecar, byte for byte
    assert not wd.exists()  # chunks removed once the output is complete


def test_cli_refusals(work, cut_clip):
    assert_one_line_error(salcodec("encode", cut_clip, "-", "-f", "matroska", "--distributed"),
                          "writes a file, not a pipe")
    assert_one_line_error(salcodec("encode", "-", work / "x.mkv", "--distributed"),
                          "--distributed")
    assert_one_line_error(salcodec("encode", cut_clip, work / "x.mkv", "--resume", work),
                          "--resume goes with --distributed")
    assert_one_line_error(salcodec("encode", cut_clip, work / "x.mkv", "--distributed",
                                   "tcp://127.0.0.1:9", "--tls-cert", "c.pem"), "tls://")
    # Options of --distributed without it, --jobs with it: refused, not ignored.
    for opt in (["--chunk-seconds", "2"], ["--warm-seconds", "1"], ["--tls-ca-file", "a.pem"],
                ["--tls-cert", "c.pem"], ["--tls-key", "k.pem"]):
        assert_one_line_error(salcodec("encode", cut_clip, work / "x.mkv", *opt),
                              opt[0], "goes with --distributed")
    assert_one_line_error(salcodec("encode", cut_clip, work / "x.mkv", "--distributed",
                                   "tcp://127.0.0.1:9", "--jobs", "2"), "--jobs")
    # A container the codec cannot go into: one line before any chunk is planned.
    started = time.monotonic()
    assert_one_line_error(salcodec("encode", cut_clip, work / "x.webm", "--distributed",
                                   "tcp://127.0.0.1:9"), "x.webm: webm cannot hold")
    assert time.monotonic() - started < 60
    assert not (work / "x.mkv").exists() and not (work / "x.webm").exists()


def test_map_has_one_header_and_follows_the_video(work, cut_clip, monkeypatch):
    """_write_map: one header even when the first chunk has no frame lines; the map is
    written only once the video is in place, and an old one is removed on failure."""
    import zlib

    import salcodec.distributed as dist
    import salcodec.distributed.join as join
    from salcodec.distributed.worker import ChunkResult

    def result(i, lines):
        return ChunkResult(i, len(lines) - 1, 0, 0, "1/30", b"", b"", {},
                           zlib.compress("".join(x + "\n" for x in lines).encode()))

    head = json.dumps({"version": 1})
    frame = json.dumps({"frame": 0, "pts": 0})
    side = work / "header.map.jsonl"
    dist._write_map(side, [result(0, [head]), result(1, [head, frame, frame])])
    lines = map_frames(side)
    assert lines[0] == head and len(lines) == 3
    assert [json.loads(x)["frame"] for x in lines[1:]] == [0, 1]

    def failing_join(*args):
        raise SalcodecError("join failed")

    monkeypatch.setattr(dist, "_run_chunks",
                        lambda *a, **k: [result(0, [head, frame])])
    monkeypatch.setattr(join, "join_chunks", failing_join)
    side.write_text("old map\n")
    with pytest.raises(SalcodecError, match="join failed"):
        dist.encode_distributed(cut_clip, work / "failed.mkv", EncodeSettings(),
                                chunk_seconds=1.0, overwrite=True, progress=False,
                                export_map=side)
    assert not side.exists() and not (work / "failed.mkv").exists()


def join_saved_chunks(src, out, settings, wd, **kw):
    """Encode ``src``'s 1 s chunks here into work dir ``wd``, then join them with
    encode_distributed, which then needs no cluster (its address is a closed port)."""
    from salcodec.distributed import encode_distributed
    from salcodec.distributed.chunks import plan_chunks
    from salcodec.distributed.resume import WorkDir
    from salcodec.distributed.worker import encode_chunk

    plan = plan_chunks(os.path.abspath(src), 1.0)
    store = WorkDir(wd, plan.fingerprint(settings.as_dict(), {"export_map": False}))
    for c in plan.chunks:
        store.save(encode_chunk(plan.input, c, settings, x264_threads=1))
    return encode_distributed(src, out, settings, address="tcp://127.0.0.1:9",
                              chunk_seconds=1.0, resume=wd, progress=False, **kw)


def test_negative_start_is_moved_to_zero_as_in_one_process(work):
    """An input starting before 0 (MPEG-TS): the chunks' video starts at 0, as a
    single-process encode's does (transcode.start_shift), with the same spacing."""
    from .test_extremes import write_negative_start

    src = work / "neg.ts"
    write_negative_start(src, count=12)
    settings = EncodeSettings(saliency=False, preset="ultrafast")
    one = work / "neg-single.mp4"
    encode(src, one, settings, progress=False)
    out = work / "neg-dist.mp4"
    join_saved_chunks(src, out, settings, work / "neg-chunks")
    got, want = video_pts_seconds(out), video_pts_seconds(one)
    assert got[0] >= 0 and got == pytest.approx(want, abs=2e-3)


def test_plain_encode_does_not_import_dask():
    code = ("import sys; from salcodec.cli import main; import salcodec.transcode, "
            "salcodec.commands.encode; "
            "assert not {'dask', 'distributed'} & set(sys.modules), 'dask imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


# --- a real scheduler and two workers on 127.0.0.1 ----------------------------------------

distributed = pytest.importorskip("distributed", reason="dask[distributed] is not installed")


def _dask(*args) -> list[str]:
    exe = Path(sys.executable).with_name("dask")
    return [str(exe), *args] if exe.exists() else [sys.executable, "-m", "dask", *args]


@contextmanager
def dask_processes(folder: Path, scheme: str, workers: int, flags=(), env=None):
    """``dask scheduler`` on 127.0.0.1 and ``workers`` ``dask worker`` processes (no nanny,
    one thread each) with ``flags``; yields (address, processes), all stopped after."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    sfile = folder / "scheduler.json"
    logs = open(folder / "dask.log", "w")  # noqa: SIM115 (closed below)
    protocol = ["--protocol", scheme] if scheme != "tcp" else []
    procs = [subprocess.Popen(_dask("scheduler", *protocol, "--host", "127.0.0.1", "--port",
                                    "0", "--no-dashboard", "--scheduler-file", str(sfile),
                                    *flags),
                              env=env, stdout=logs, stderr=logs, cwd=folder)]
    try:
        deadline = time.monotonic() + 60
        address = None
        while address is None and time.monotonic() < deadline:
            try:  # the scheduler writes the file in place: it may be empty or partial
                address = json.loads(sfile.read_text())["address"]
            except (OSError, ValueError, KeyError):
                time.sleep(0.2)
        assert address, "dask scheduler did not start"
        assert address.startswith(f"{scheme}://127.0.0.1:")
        for _ in range(workers):
            procs.append(subprocess.Popen(
                _dask("worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                      "--host", "127.0.0.1", *flags), env=env, stdout=logs, stderr=logs,
                cwd=folder))
        yield address, procs
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        logs.close()


@pytest.fixture(scope="module")
def cluster(work):
    """``dask scheduler`` and two ``dask worker`` processes (no nanny, one thread each)."""
    with dask_processes(work, "tcp", 2,
                        env={"DASK_DISTRIBUTED__WORKER__DAEMON": "False"}) as (address, procs):
        with distributed.Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        yield address, procs


def test_join_leaves_out_the_streams_asked_to(work):
    """-an with --distributed: the chunks are video only anyway; the join drops the
    audio instead of copying it (run from resumed chunks, no cluster needed)."""
    src = work / "with-audio.mp4"
    shutil.copy(DATA / "bbb_audio.mp4", src)
    out = work / "no-audio.mp4"
    result = join_saved_chunks(src, out, EncodeSettings(model="lc", preset="veryfast"),
                               work / "resume-drop", drop=("audio",))
    assert result.copied_streams == 0 and result.frames_out == 50
    with av.open(str(out)) as c:
        assert [s.type for s in c.streams] == ["video"]


def test_batch_whole_files_over_the_scheduler(work, cluster):
    inputs = work / "batch-in"
    inputs.mkdir()
    for name in ("a.mp4", "b.mp4"):
        write_clip(inputs / name, CARPHONE, limit=12)
    shutil.copy(DATA / "bbb_audio.mp4", inputs / "c.mp4")
    proc = salcodec("encode", inputs, "--out-dir", work / "batch-out", "--distributed",
                    cluster[0], "--json", timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert sorted(r["status"] for r in rows) == ["done"] * 3
    assert audio_payloads(work / "batch-out" / "c.mp4") == audio_payloads(inputs / "c.mp4")


def start_until_a_chunk(cmd: list[str], wd: Path) -> subprocess.Popen:
    """Start a --distributed --resume command; return once its work dir holds a chunk."""
    job = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           cwd=ROOT, preexec_fn=default_sigint)
    deadline = time.monotonic() + 240
    while not list(wd.glob("chunk-*.json")) and time.monotonic() < deadline:
        assert job.poll() is None, job.communicate()
        time.sleep(0.05)
    return job


def test_worker_killed_mid_run_the_job_completes(work, cut_clip, single, cluster):
    """SIGKILL one worker once chunks are in flight: Dask reschedules its chunk on the
    other, and the output is whole (frames, timestamps, bit-exact audio, same maps)."""
    address, procs = cluster
    victim = procs[2]
    wd, out, side = work / "kill-wd", work / "kill.mp4", work / "kill.map.jsonl"
    cmd = [sys.executable, "-m", "salcodec", "encode", str(cut_clip), str(out),
           "--distributed", address, "--chunk-seconds", "1", "--resume", str(wd),
           "--export-map", str(side), "--json"]
    job = start_until_a_chunk(cmd, wd)
    assert job.poll() is None  # killed mid-run, not after
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    stdout, stderr = job.communicate(timeout=300)
    assert job.returncode == 0, stderr
    result = json.loads(stdout)
    assert result["frames_in"] == result["frames_out"] == 130
    check_output(out, cut_clip)
    assert map_frames(side) == map_frames(single[1])
    assert not any("partial" in p.name for p in work.iterdir())


def test_ctrl_c_then_resume_reuses_the_finished_chunks(work, cut_clip, cluster):
    """Ctrl-C once a chunk is stored: exit 130, no output, the work dir kept; the same
    command with --resume then encodes only the chunks that were missing."""
    wd, out = work / "ctrl-c-wd", work / "ctrl-c.mp4"
    cmd = [sys.executable, "-m", "salcodec", "encode", str(cut_clip), str(out),
           "--distributed", cluster[0], "--chunk-seconds", "1", "--resume", str(wd), "--json"]
    job = start_until_a_chunk(cmd, wd)
    job.send_signal(signal.SIGINT)
    _, stderr = job.communicate(timeout=120)
    assert job.returncode == 130, stderr
    assert not out.exists() and not any("partial" in p.name for p in work.iterdir())
    stored = len(list(wd.glob("chunk-*.json")))
    assert stored >= 1 and (wd / "cuts.json").exists()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["budget"]["reused_chunks"] >= stored
    check_output(out, cut_clip)


def test_local_cluster(work, cut_clip, monkeypatch):
    """The embedded LocalCluster: loopback only, no dashboard; one chunked encode."""
    import urllib.error
    import urllib.request

    import salcodec.distributed as dist

    seen = {}
    real = dist.connect

    @contextmanager
    def spy(*args, **kwargs):  # look at the cluster encode_distributed starts
        with real(*args, **kwargs) as (client, local):
            info = client.scheduler_info()
            seen["local"] = local
            seen["addresses"] = [info["address"], *info["workers"]]
            # Dask's scheduler always serves HTTP (health, metrics): on loopback, and
            # without the dashboard.
            http = client.cluster.scheduler.http_server
            seen["http"] = http.address
            with pytest.raises(urllib.error.HTTPError) as err:
                urllib.request.urlopen(f"http://127.0.0.1:{http.port}/status", timeout=10)
            seen["status"] = err.value.code
            yield client, local

    monkeypatch.setattr(dist, "connect", spy)
    out = work / "local.mkv"
    result = dist.encode_distributed(cut_clip, out, chunk_seconds=2.0, n_workers=2,
                                     progress=False)
    assert seen["local"] and seen["http"] == "127.0.0.1" and seen["status"] == 404
    assert len(seen["addresses"]) == 3
    assert all(a.startswith("tcp://127.0.0.1:") for a in seen["addresses"])
    assert result.frames_out == 130 and result.budget["chunks"] == 2
    check_output(out, cut_clip)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_tls_scheduler_with_certificates_from_flags(work, cut_clip):
    """A scheduler and a worker that speak only TLS (mutual, a throwaway self-signed
    certificate for 127.0.0.1): the encode goes through with --tls-* flags."""
    tls = work / "tls"
    tls.mkdir()
    cert, key = tls / "cert.pem", tls / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True,
                   capture_output=True)
    flags = ["--tls-ca-file", str(cert), "--tls-cert", str(cert), "--tls-key", str(key)]
    with dask_processes(tls, "tls", 1, flags) as (address, _):
        out = tls / "tls.mp4"
        proc = salcodec("encode", cut_clip, out, "--distributed", address, "--chunk-seconds",
                        "2", *flags, timeout=300)
        assert proc.returncode == 0, proc.stderr
        check_output(out, cut_clip)
