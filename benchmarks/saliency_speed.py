"""Frames per CPU-second of each saliency model (fps per core), one thread, numba warm.

Usage::

    .venv/bin/python benchmarks/saliency_speed.py [--models lc,default] [--seconds 2]
        [--sizes 640x360,1280x720,1920x1080] [--clip PATH] [--json]
    .venv/bin/python -m benchmarks.saliency_speed --encoder [--cadences 3,1]
        [--sizes 1280x720] [--seconds 10] [--clip PATH] [--json]

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

``--encoder`` measures the default model as the encoder runs it instead
(issue 12's bar): ``salcodec.mapper.OffsetMapper.job`` on yuv420p frames of
each size, at each cadence, in one thread (scene-cut test on every frame,
the analysis thumbnail, the model with its network schedule, pooling,
offsets and ROI records on analysed frames). It reports frames per
CPU-second over all frames, and the CPU per frame of each kind: frames that
reuse the last analysis, analysed frames without a network run, and
analysed frames on which each network ran.
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


def yuv_frames(source: list[np.ndarray], size: tuple[int, int]) -> list[av.VideoFrame]:
    """``source`` (RGB) scaled to ``size`` as yuv420p frames, as the encoder receives them."""
    out = []
    for rgb in source:
        f = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        out.append(f.reformat(width=size[0], height=size[1], format="yuv420p"))
    return out


#: The default model's network results, each replaced by a new object when
#: its network runs (how :func:`encoder_fps` tells which ran on a frame).
NETWORK_STATE = {"faces": "_faces", "text": "_text", "gaze": "_gaze"}


def encoder_fps(frames: list[av.VideoFrame], cadence: int, seconds: float) -> dict:
    """CPU per frame of ``OffsetMapper.job`` with the default model, one thread.

    The frames are fed in order, looping (the clip plays forward then back:
    no cut), for at least ``seconds`` of CPU time after one warm-up pass
    (networks loaded, buffers allocated).

    Returns
    -------
    dict
        ``fps``: frames per CPU-second over all frames; ``ms_per_frame``;
        ``kinds``: for each kind of frame (``carried``: offsets reused;
        ``analysed``: the model ran, no network; ``analysed+NET``: the model
        ran and so did network NET), its ``frames`` and mean ``ms``;
        ``fps_analysed``: analyses per CPU-second of analysed frames alone
        (every network run included).
    """
    from salcodec.mapper import OffsetMapper

    w, h = frames[0].width, frames[0].height
    mapper = OffsetMapper(w, h, cadence=cadence)
    for f in frames:
        mapper.job(f)
    model = mapper.model
    kinds: dict[str, list[float]] = {}
    n, total = 0, 0.0
    while total < seconds or n < len(frames):
        before = {k: getattr(model, a, None) for k, a in NETWORK_STATE.items()}
        c0 = time.thread_time()
        r = mapper.job(frames[n % len(frames)])
        dt = time.thread_time() - c0
        total += dt
        n += 1
        ran = [k for k, a in NETWORK_STATE.items() if getattr(model, a, None) is not before[k]]
        kind = "carried" if not r.analysed else "+".join(["analysed", *ran])
        kinds.setdefault(kind, []).append(dt)
    analysed = [t for k, v in kinds.items() if k != "carried" for t in v]
    return {"cadence": cadence, "frames": n, "fps": n / total, "ms_per_frame": 1000 * total / n,
            "fps_analysed": len(analysed) / sum(analysed),
            "kinds": {k: {"frames": len(v), "ms": 1000 * sum(v) / len(v)}
                      for k, v in sorted(kinds.items())}}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default=",".join(available_models()))
    p.add_argument("--sizes", default="320x180,640x360,1280x720,1920x1080")
    p.add_argument("--seconds", type=float, default=2.0, help="timing per model and size")
    p.add_argument("--clip", type=Path, default=DEFAULT_CLIP)
    p.add_argument("--json", action="store_true")
    p.add_argument("--encoder", action="store_true",
                   help="the default model as the encoder runs it (OffsetMapper.job)")
    p.add_argument("--cadences", default="3,1", help="with --encoder: the mapper's cadences")
    args = p.parse_args(argv)
    cv2.setNumThreads(1)
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    source = load_frames(args.clip)
    if args.encoder:
        return encoder_main(args, sizes, source)
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


def encoder_main(args, sizes: list[tuple[int, int]], source: list[np.ndarray]) -> int:
    """``--encoder``: one table row per size and cadence (see :func:`encoder_fps`)."""
    rows = {}
    for w, h in sizes:
        frames = yuv_frames(source, (w, h))
        for cadence in (int(c) for c in args.cadences.split(",")):
            row = rows[f"{w}x{h} cadence {cadence}"] = encoder_fps(frames, cadence, args.seconds)
            if args.json:
                continue
            kinds = ", ".join(f"{k} {v['ms']:.2f} ms x{v['frames']}"
                              for k, v in row["kinds"].items())
            print(f"{w}x{h} cadence {cadence}: {row['fps']:6.1f} fps per core "
                  f"({row['ms_per_frame']:.2f} ms/frame, {row['frames']} frames); "
                  f"per analysed frame {row['fps_analysed']:.1f} fps; {kinds}; "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
