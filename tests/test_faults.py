"""Faults (issue 10): a run killed outright leaves one recognisable temporary file,
which the next run for the same output removes (its own kind only); the output
folder vanishing mid-run is one line."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from salcodec.cli import main
from salcodec.safeio import atomic_output, remove_stale_partials

from .media import CARPHONE, DATA

pytestmark = pytest.mark.filterwarnings("ignore::salcodec.errors.SalcodecWarning")

PARTIAL = re.compile(r"\.out\.mkv\.salcodec-(\d+)-.*\.partial\.mkv")


def start_slow_encode(out, preset="veryslow"):
    """An encode that runs a few seconds (640x480), to be disturbed before it ends."""
    cmd = [sys.executable, "-m", "salcodec", "encode", str(DATA / "asl_again.mkv"), str(out),
           "--model", "lc", "--preset", preset]
    return subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)


def wait_for_partial(folder, proc, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        names = [p.name for p in folder.iterdir() if PARTIAL.fullmatch(p.name)]
        if names:
            return names
        time.sleep(0.02)
    pytest.fail("the encode ended before a partial file appeared")


def test_sigkill_leaves_one_recognisable_file_that_the_next_run_removes(tmp_path):
    out = tmp_path / "out.mkv"
    proc = start_slow_encode(out)
    partial = wait_for_partial(tmp_path, proc)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert [p.name for p in tmp_path.iterdir()] == partial  # nothing else, no output
    assert PARTIAL.fullmatch(partial[0]).group(1) == str(proc.pid)
    # Files that are not a dead run's partial of this output are never touched.
    keep = [
        tmp_path / "notes.txt",
        tmp_path / ".other.mkv.salcodec-1-abc.partial.mkv",  # another output's
        tmp_path / f".out.mkv.salcodec-{os.getpid()}-live.partial.mkv",  # a live process's
        tmp_path / ".out.mkv.x1y2.partial.mkv",  # not salcodec's naming
    ]
    for p in keep:
        p.write_bytes(b"x")
    assert main(["encode", str(CARPHONE), str(out), "--model", "lc", "--preset",
                 "ultrafast"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [out.name, *(p.name for p in keep)])


def test_stale_partials_need_a_dead_process(tmp_path):
    out = tmp_path / "o.mp4"
    with atomic_output(out) as tmp:
        tmp.write_bytes(b"in progress")
        # Our own run is alive: another run for the same output leaves its file alone.
        assert remove_stale_partials(out) == []
        assert tmp.exists()
    assert out.read_bytes() == b"in progress"


def test_output_folder_removed_mid_run_is_one_line(tmp_path):
    folder = tmp_path / "gone"
    folder.mkdir()
    proc = start_slow_encode(folder / "out.mkv", "fast")
    wait_for_partial(folder, proc)
    shutil.rmtree(folder)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("salcodec: error: "), err
    assert "gone" in err
    assert not folder.exists()
