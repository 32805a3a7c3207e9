"""Shared pieces: machine description, measured child processes, cuts and real frames."""

from __future__ import annotations

import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: Environment that pins every thread pool we know of to one thread.
ONE_THREAD = {
    "NUMBA_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
}


def default_data_dir() -> Path:
    """``../shared/data`` relative to the repository root."""
    return REPO.parent / "shared" / "data"


def median(values: Sequence[float]) -> float:
    """Median of a non-empty sequence (NaN when empty, so tables show a gap)."""
    return float(statistics.median(values)) if values else float("nan")


# --------------------------------------------------------------------------- machine


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gib() -> float | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        return None


def machine_info() -> dict:
    """CPU model, cores (total and usable by this process), RAM, OS and load."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    ram = _ram_gib()
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": usable,
        "ram_gib": round(ram, 1) if ram else None,
        "os": platform.platform(),
        # A busy machine shows here: timings taken under load are noisy.
        "load_average_at_start": [round(x, 2) for x in load] if load else None,
    }


def git_commit() -> dict:
    """salcodec's git commit and whether the working tree differs from it (read-only git)."""
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                                 timeout=20, check=True)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip()

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def versions() -> dict:
    """Versions of Python, PyAV and its FFmpeg libraries, numpy, numba, OpenCV, salcodec."""
    import av
    import cv2
    import llvmlite
    import numba
    import numpy
    import scipy

    import salcodec

    libs = {k: ".".join(map(str, v)) for k, v in av.library_versions.items()}
    return {
        "python": platform.python_version(),
        "av": av.__version__,
        "ffmpeg": av.ffmpeg_version_info,
        "ffmpeg_libs": libs,
        "numpy": numpy.__version__,
        "numba": numba.__version__,
        "llvmlite": llvmlite.__version__,
        "opencv": cv2.__version__,
        "scipy": scipy.__version__,
        "salcodec": salcodec.__version__,
        "salcodec_git": git_commit(),
    }


def command_line(argv: Sequence[str]) -> str:
    """The exact command, as a shell line run from the repository root."""
    return " ".join(shlex.quote(a) for a in ["python", "-m", "benchmarks.run", *argv])


# --------------------------------------------------------------------------- children


@dataclass
class ChildRun:
    """One child process: wall time, peak RSS, CPU time (user + system), exit, JSON output."""

    args: list[str]
    wall_s: float
    max_rss_mib: float
    cpu_s: float
    returncode: int
    output: dict | None
    stderr_tail: str

    def as_dict(self) -> dict:
        d = asdict(self)
        d["args"] = " ".join(shlex.quote(a) for a in self.args)
        return d


class ChildError(RuntimeError):
    """A measured child process failed."""


#: A minimal launcher process between the benchmark and each measured child.
#: Linux carries a process's peak RSS across exec (it records the replaced
#: address space's high-water mark), and a child forked or vforked from this
#: benchmark process starts from the benchmark's memory: its ru_maxrss would be
#: at least ours. A fresh, small Python forks the real child instead, so the
#: child's peak starts from a few MiB. It reports wall time and the child's
#: rusage (wait4: that child alone) in a file named by its first argument.
_LAUNCHER = """
import json, os, sys, time
report, argv = sys.argv[1], sys.argv[2:]
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execv(argv[0], argv)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
with open(report, "w") as fh:
    json.dump({"wall_s": wall, "maxrss_kib": usage.ru_maxrss,
               "cpu_s": usage.ru_utime + usage.ru_stime,
               "returncode": os.waitstatus_to_exitcode(status)}, fh)
"""


def run_child(args: Sequence[str], env: dict[str, str] | None = None,
              timeout: float = 1800.0) -> ChildRun:
    """Run ``python ARGS`` in a fresh process and measure its wall time and peak RSS.

    The child is started through a small launcher process (see ``_LAUNCHER``)
    and reaped with ``os.wait4``, whose rusage is that child's alone: peak RSS
    is per run, not a running maximum over all children as
    ``getrusage(RUSAGE_CHILDREN)`` would give, and not inflated by this
    process's own memory. The child's last stdout line, when it is JSON, is
    returned as ``output``.

    Raises
    ------
    ChildError
        Non-zero exit status (or a timeout), with the tail of its stderr.
    """
    cmd = [sys.executable, *args]
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO), full_env.get("PYTHONPATH")) if p)
    with tempfile.TemporaryDirectory(prefix="salcodec-bench-child-") as tmp:
        report = Path(tmp) / "rusage.json"
        with open(Path(tmp) / "stderr", "w+b") as err:
            proc = subprocess.Popen([sys.executable, "-S", "-c", _LAUNCHER, str(report), *cmd],
                                    stdout=subprocess.PIPE, stderr=err, env=full_env, cwd=REPO)
            try:
                out, _ = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()  # the launcher; its child then fails on a closed pipe
                proc.communicate()
                raise ChildError(f"timed out after {timeout:.0f} s: {' '.join(cmd)}") from None
            err.seek(0)
            stderr = err.read().decode("utf-8", "replace")[-2000:]
        if proc.returncode != 0 or not report.is_file():
            raise ChildError(f"launcher failed ({proc.returncode}): {' '.join(cmd)}\n{stderr}")
        usage = json.loads(report.read_text())
    lines = out.decode("utf-8", "replace").strip().splitlines()
    parsed = None
    if lines:
        try:
            parsed = json.loads(lines[-1])
        except json.JSONDecodeError:
            parsed = None
    run = ChildRun(list(args), usage["wall_s"], usage["maxrss_kib"] / 1024.0, usage["cpu_s"],
                   usage["returncode"], parsed, stderr)
    if run.returncode != 0:
        raise ChildError(f"exit status {run.returncode}: {' '.join(cmd)}\n{stderr}")
    return run


# --------------------------------------------------------------------------- media


def cut_video(src: str | os.PathLike, dst: str | os.PathLike, seconds: float) -> dict:
    """Copy the first ``seconds`` of every video/audio stream to ``dst`` (no re-encode).

    Video packets are kept while their decode timestamp is below the cut, so
    the result is a decode-order prefix: every kept frame's references are
    kept too, and it decodes without error.

    Returns
    -------
    dict
        ``video_packets`` and ``seconds`` actually kept.
    """
    import av

    kept = 0
    last = 0.0
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        streams = [s for s in inp.streams if s.type in ("video", "audio")]
        vin = inp.streams.video[0]
        mapping = {s.index: out.add_stream_from_template(s) for s in streams}
        for packet in inp.demux(streams):
            if packet.dts is None:
                continue
            t = float(packet.dts * packet.time_base)
            if t >= seconds:
                if packet.stream is vin:
                    break  # video in decode order: everything after is later
                continue
            if packet.stream is vin:
                kept += 1
                last = max(last, float((packet.pts or packet.dts) * packet.time_base))
            packet.stream = mapping[packet.stream.index]
            out.mux(packet)
    return {"video_packets": kept, "seconds": round(last, 3)}


def video_info(path: str | os.PathLike) -> dict:
    """Width, height, frames (counted by demuxing), duration and audio presence."""
    import av

    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = sum(1 for p in c.demux(v) if p.size)
        rate = v.average_rate or v.guessed_rate or Fraction(25)
        return {"width": v.codec_context.width, "height": v.codec_context.height,
                "frames": frames, "fps": float(rate), "seconds": round(frames / float(rate), 2),
                "audio": bool(c.streams.audio)}


def real_frames(path: str | os.PathLike, count: int, size: tuple[int, int] | None,
                consecutive: bool = False) -> list:
    """``count`` RGB uint8 frames of a clip, resized to ``size`` = (W, H) unless None.

    Spread evenly over the clip, or its first ``count`` with ``consecutive``.
    """
    import av
    import cv2

    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(v)]
    if not frames:
        raise ValueError(f"{path}: no frames")
    step = 1 if consecutive else max(1, len(frames) // count)
    picked = frames[::step][:count]
    if size is None:
        return picked
    out = []
    for f in picked:
        shrink = f.shape[1] > size[0]
        interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
        out.append(cv2.resize(f, size, interpolation=interp))
    return out
