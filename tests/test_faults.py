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
from salcodec.io.safeio import atomic_output, remove_stale_partials

from .media import CARPHONE, DATA

pytestmark = pytest.mark.filterwarnings("ignore::salcodec.errors.SalcodecWarning")

PARTIAL = re.compile(r"\.out\.mkv\.salcodec-(\d+)-.*\.partial\.mkv")


def start_slow_encode(out, preset="veryslow", src=DATA / "asl_again.mkv"):
    """An encode that runs a few seconds (640x480), to be disturbed before it ends."""
    cmd = [sys.executable, "-m", "salcodec", "encode", str(src), str(out),
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


def freeze_folder(folder):
    """Make ``folder`` refuse new names, renames and removals; return how to undo it.

    chmod does not stop root, so as root the folder is made immutable (chattr +i,
    which stops root too); skipped where neither works.
    """
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return lambda: folder.chmod(0o755)
    if shutil.which("chattr") is None:
        pytest.skip("running as root without chattr: cannot make a folder read-only")
    done = subprocess.run(["chattr", "+i", str(folder)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"chattr +i refused here ({done.stderr.decode().strip()})")
    return lambda: subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_output_folder_made_read_only_mid_run_is_one_line(tmp_path):
    folder = tmp_path / "frozen"
    folder.mkdir()
    proc = start_slow_encode(folder / "out.mkv", "fast")
    wait_for_partial(folder, proc)
    thaw = freeze_folder(folder)
    try:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 1, err
        assert "Traceback" not in err
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("salcodec: error: "), err
        print(lines[0])
        assert "out.mkv: cannot put the finished file in" in lines[0]
        # The temporary file cannot be removed from a frozen folder: it is emptied.
        names = [p for p in folder.iterdir()]
        assert not (folder / "out.mkv").exists()
        assert all(PARTIAL.fullmatch(p.name) and p.stat().st_size == 0 for p in names)
    finally:
        thaw()
    # Once the folder is writable again, the next run removes the leftover.
    assert main(["encode", str(CARPHONE), str(folder / "out.mkv"), "--model", "lc",
                 "--preset", "ultrafast"]) == 0
    assert [p.name for p in folder.iterdir()] == ["out.mkv"]


@pytest.mark.parametrize("change", ["truncated", "grown"])
def test_input_changed_while_read_is_one_line_and_no_output(tmp_path, change):
    src = tmp_path / "in.mkv"
    whole = (DATA / "asl_again.mkv").read_bytes()
    src.write_bytes(whole if change == "truncated" else whole[: len(whole) * 2 // 5])
    out = tmp_path / "out.mkv"
    proc = start_slow_encode(out, src=src)
    wait_for_partial(tmp_path, proc)
    if change == "truncated":
        os.truncate(src, len(whole) * 2 // 5)
    else:
        with open(src, "ab") as fh:
            fh.write(whole[len(whole) * 2 // 5:])
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("salcodec: error: "), err
    print(lines[0])
    assert "in.mkv" in lines[0] and "Traceback" not in err
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["in.mkv"]
