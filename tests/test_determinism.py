"""Same input and settings, same bytes: in fresh processes, under CPU load, whatever
the saliency worker's timing (issue 10)."""

import hashlib
import random
import subprocess
import sys
import time

import pytest

import salcodec
from salcodec import mapper

from .media import CARPHONE, write_clip

pytestmark = pytest.mark.filterwarnings("ignore::salcodec.errors.SalcodecWarning")


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The issue's case: a 64x48 clip (30 frames, so the cadence and scene cuts run)."""
    path = tmp_path_factory.mktemp("det") / "tiny.mp4"
    write_clip(path, CARPHONE, size=(64, 48), limit=30)
    return path


@pytest.fixture(scope="module")
def odd(tmp_path_factory):
    path = tmp_path_factory.mktemp("det") / "odd.mp4"
    write_clip(path, CARPHONE, size=(99, 75), pix_fmt="yuv444p", limit=20)
    return path


def cli_encode(src, out, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "salcodec", "encode", str(src), str(out), "-y",
                           *args], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("ext", ["mkv", "mp4", "ts"])
def test_every_container_gives_the_same_bytes_twice(tiny, tmp_path, ext):
    # Matroska wrote random segment/track UIDs and the date before (issue 10).
    a, b = tmp_path / f"a.{ext}", tmp_path / f"b.{ext}"
    salcodec.encode(tiny, a, preset="veryfast")
    salcodec.encode(tiny, b, preset="veryfast")
    assert digest(a) == digest(b)


@pytest.mark.parametrize("preset", ["ultrafast", "slow"])
def test_odd_size_gives_the_same_bytes_at_both_ends_of_the_presets(odd, tmp_path, preset):
    outs = [tmp_path / f"{i}.mkv" for i in range(2)]
    for out in outs:
        salcodec.encode(odd, out, preset=preset)
    assert digest(outs[0]) == digest(outs[1])


def test_worker_timing_never_reaches_the_bitstream(tiny, tmp_path, monkeypatch):
    """The saliency worker stalls at random: the encoder waits, the bytes stay the same."""
    calm = tmp_path / "calm.mkv"
    salcodec.encode(tiny, calm)
    job = mapper.OffsetMapper.job
    rng = random.Random(3)

    def jittery(self, frame):
        time.sleep(rng.choice([0, 0, 0.001, 0.02]))
        return job(self, frame)

    monkeypatch.setattr(mapper.OffsetMapper, "job", jittery)
    shaken = tmp_path / "shaken.mkv"
    salcodec.encode(tiny, shaken)
    assert digest(shaken) == digest(calm)


def test_fresh_processes_under_cpu_load_give_one_hash(tiny, tmp_path):
    """Three CLI runs with a busy loop on the CPU beside them; the issue saw 3 hashes in 9."""
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        hashes = set()
        for i in range(3):
            out = tmp_path / f"run{i}.mkv"
            proc = cli_encode(tiny, out)
            assert proc.returncode == 0, proc.stderr
            hashes.add(digest(out))
    finally:
        busy.kill()
        busy.wait()
    assert len(hashes) == 1
    # And the same bytes as in this process, where the model was already warm.
    here = tmp_path / "here.mkv"
    salcodec.encode(tiny, here)
    assert hashes == {digest(here)}
