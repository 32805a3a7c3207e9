"""Frames per CPU-second of each saliency model (fps per core), one thread, numba warm.

Usage::

    .venv/bin/python benchmarks/saliency_speed.py [--models lc,default] [--seconds 2]
        [--sizes 640x360,1280x720,1920x1080] [--clip PATH] [--json]

Frames come from a real clip (default: tests/data/bbb_audio.mp4, scaled to
each size) and are fed in order to one model instance per size, as a video
would be, so temporal models and face-detection reuse behave as in use; the
clip plays forward then backward, so looping it makes no scene cut (a cut
would rerun every network of the default model). Speed is frames per
process CPU-second (one thread, so: per core), steadier than wall time on a
shared machine; 320x180 is what the encoder feeds the model for 720p
(``salcodec.mapper.analysis_size``).
First-call time (numba cache load, network load) is measured in a fresh
subprocess per model so that it is not hidden by an earlier model, once with
the usual numba cache and once with an empty one (full compile).
OpenCV and numba are limited to one thread.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import av  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from salcodec.saliency import available_models, get_model  # noqa: E402

DEFAULT_CLIP = ROOT / "tests" / "data" / "bbb_audio.mp4"


def load_frames(path: Path, limit: int = 50) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        decoded = zip(range(limit), c.decode(video=0), strict=False)
        frames = [f.to_ndarray(format="rgb24") for _, f in decoded]
    return frames + frames[-2:0:-1]  # forward, then back: no cut when looped


def first_call_seconds(model: str, cold: bool = False) -> float:
    """Seconds of the first two calls of ``model`` in a fresh interpreter.

    With ``cold`` numba gets an empty cache folder, so this includes compiling
    every kernel; otherwise it loads them from the on-disk cache.
    """
    code = (
        "import time, numpy as np, cv2; cv2.setNumThreads(1);"
        "from salcodec.saliency import get_model;"
        f"m = get_model({model!r}); f = np.zeros((180, 320, 3), np.uint8);"
        "t = time.perf_counter(); m(f); m(f); print(time.perf_counter() - t)"
    )
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as cache:
        if cold:
            env["NUMBA_CACHE_DIR"] = cache
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                             text=True, check=True, env=env)
    return float(out.stdout.strip())


def fps(model_name: str, frames: list[np.ndarray], seconds: float) -> float:
    """Frames per process CPU-second of a fresh ``model_name`` over ``seconds`` of wall time.

    Equal to frames per wall-second on an idle core when OpenCV and numba
    use one thread (as this module sets them).
    """
    model = get_model(model_name)
    for f in frames[:3]:  # warm: compile, allocate, first face detection
        model(f)
    n = 0
    t0, c0 = time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds:
        model(frames[(n + 3) % len(frames)])
        n += 1
    return n / (time.process_time() - c0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default=",".join(available_models()))
    p.add_argument("--sizes", default="320x180,640x360,1280x720,1920x1080")
    p.add_argument("--seconds", type=float, default=2.0, help="timing per model and size")
    p.add_argument("--clip", type=Path, default=DEFAULT_CLIP)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    cv2.setNumThreads(1)
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    source = load_frames(args.clip)
    rows = {}
    for name in args.models.split(","):
        row = {"first_call_s": first_call_seconds(name),
               "compile_s": first_call_seconds(name, cold=True)}
        for w, h in sizes:
            frames = [cv2.resize(f, (w, h), interpolation=cv2.INTER_LINEAR) for f in source]
            row[f"{w}x{h}"] = fps(name, frames, args.seconds)
        rows[name] = row
        if not args.json:
            cells = "  ".join(f"{k}={v:7.1f}" for k, v in row.items() if "x" in k)
            print(f"{name:9s} {cells} fps  first call {row['first_call_s']:.2f} s "
                  f"(cold numba cache {row['compile_s']:.2f} s)", flush=True)
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
