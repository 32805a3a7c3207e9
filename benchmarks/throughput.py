"""Saliency-model throughput on one thread, numba compile time and cold start.

Every model runs in fresh child processes with every thread pool pinned to
one thread (``NUMBA_NUM_THREADS``, ``OMP``/``OPENBLAS``/``MKL`` and
``cv2.setNumThreads(1)``), on real frames decoded from a clip and resized to
each resolution. Each model gets two children sharing one
``NUMBA_CACHE_DIR``: the first starts with it empty (numba compiles, and
writes the cache), the second finds it populated (what every later
``salcodec`` process sees). The difference of their first passes over the
frames is the compile time the cache saves.

``python -m benchmarks.throughput --child ...`` is the child entry point.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from .common import ONE_THREAD, run_child

RESOLUTIONS = ((640, 360), (1280, 720), (1920, 1080))


def _write_frames(source: Path, dest: Path, resolutions, count: int) -> None:
    """Save the first ``count`` frames of ``source``, resized to each resolution, as .npz.

    Consecutive frames, as a video feeds a temporal model.
    """
    import cv2
    import numpy as np

    from .common import real_frames

    # Not saliency_speed.load_frames (the same first frames): importing that
    # module here would set NUMBA_NUM_THREADS/OMP_NUM_THREADS in this process's
    # environment, which every later child (the encode arms) would inherit.
    frames = real_frames(source, count, None, consecutive=True)
    arrays = {}
    for w, h in resolutions:
        arrays[f"{w}x{h}"] = np.stack([
            cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA if f.shape[1] > w
                       else cv2.INTER_LINEAR) for f in frames])
    np.savez(dest, **arrays)


def saliency_throughput(source: Path, count: int = 24, min_seconds: float = 2.0,
                        models: list[str] | None = None, resolutions=RESOLUTIONS,
                        log=print) -> dict:
    """Frames/s of every registered model at each resolution; cold and cached start.

    Parameters
    ----------
    source : Path
        Clip whose first ``count`` frames are used (resized to each resolution).
    count : int
        Frames per resolution (also the length of the timed first pass).
    min_seconds : float
        Timed seconds per model, resolution and size (full frame, analysis size).
    models : list of str, optional
        Default: ``salcodec.saliency.available_models()``.
    resolutions : sequence of (W, H)

    Returns
    -------
    dict
        ``rows`` (one per model) and how the numbers were taken.
    """
    from salcodec.saliency import DEFAULT_MODEL, available_models

    models = models or available_models()
    rows = []
    with tempfile.TemporaryDirectory(prefix="salcodec-bench-sal-") as tmp:
        frames = Path(tmp) / "frames.npz"
        _write_frames(source, frames, resolutions, count)
        for name in models:
            cache = Path(tmp) / f"numba-cache-{name}"
            cache.mkdir()
            env = {**ONE_THREAD, "NUMBA_CACHE_DIR": str(cache)}
            args = ["-m", "benchmarks.throughput", "--child", "--model", name,
                    "--frames", str(frames), "--min-seconds", str(min_seconds)]
            log(f"saliency throughput: {name} (empty numba cache) ...")
            cold = run_child([*args, "--start-only"], env=env)
            cached_files = sum(1 for _ in cache.rglob("*.nbi"))
            log(f"saliency throughput: {name} (populated numba cache) ...")
            warm = run_child(args, env=env)
            rows.append(_row(name, name == DEFAULT_MODEL, cold, warm, cached_files))
        encode_start = _encode_start(Path(tmp), log)
    return {
        "encode_start": encode_start,
        "frames_from": str(source),
        "frames_per_resolution": count,
        "min_timed_seconds": min_seconds,
        "threads": "1 (NUMBA_NUM_THREADS, OMP/OPENBLAS/MKL = 1, cv2.setNumThreads(1))",
        "resolutions": [f"{w}x{h}" for w, h in resolutions],
        "rows": rows,
    }


def _encode_start(tmp: Path, log) -> dict:
    """``salcodec.encode`` of the embedded 120-frame clip: empty, then populated numba cache.

    On so short a clip start-up dominates, so this is the whole tool's cold
    start (every numba kernel it calls: models, pooling, ROI rectangles).
    """
    from .common import REPO

    clip = REPO / "salcodec" / "data" / "carphone.mp4"
    cache = tmp / "numba-cache-encode"
    cache.mkdir()
    env = {"NUMBA_CACHE_DIR": str(cache)}
    runs = {}
    for label in ("empty_cache", "cached"):
        log(f"saliency throughput: salcodec encode start-up ({label}) ...")
        run = run_child(["-m", "benchmarks.arm", "salcodec", str(clip), str(tmp / "enc.mp4"),
                         "--preset", "veryfast"], env=env)
        runs[label] = {"wall_s": run.wall_s, "import_s": run.output["import_s"],
                       "encode_s": run.output["encode_s"], "peak_rss_mib": run.max_rss_mib}
    return {"clip": str(clip), "frames": 120, "preset": "veryfast", **runs}


def _row(name: str, is_default: bool, cold, warm, cached_files: int) -> dict:
    c, w = cold.output, warm.output
    first = c["per_resolution"][0]["resolution"]
    fc = {r["resolution"]: r for r in c["per_resolution"]}
    fw = {r["resolution"]: r for r in w["per_resolution"]}
    return {
        "model": name,
        "default": is_default,
        # Warm throughput from the second (cached) child; the first only starts.
        "fps": {res: fw[res]["fps"] for res in fw},
        "fps_from": w["fps_from"],
        "fps_analysis_size": {res: fw[res]["analysis_fps"] for res in fw},
        "analysis_size": {res: fw[res]["analysis_size"] for res in fw},
        # First pass over the frames at the first resolution, in each child:
        # with an empty cache it includes numba's compile, with a populated
        # cache only loading it; the difference is what the cache saves.
        "first_pass_s_empty_cache": fc[first]["first_pass_s"],
        "first_pass_s_cached": fw[first]["first_pass_s"],
        "first_pass_calls": fc[first]["first_pass_calls"],
        "compile_s_estimate": max(0.0, fc[first]["first_pass_s"] - fw[first]["first_pass_s"]),
        "import_s_empty_cache": c["import_s"],
        "import_s_cached": w["import_s"],
        # Start-up: import + first pass, the time to the first maps of a new process.
        "start_s_empty_cache": c["import_s"] + fc[first]["first_pass_s"],
        "start_s_cached": w["import_s"] + fw[first]["first_pass_s"],
        "peak_rss_mib": warm.max_rss_mib,
        "numba_cache_index_files": cached_files,
    }


def _speed_fps():
    """``fps`` of benchmarks/saliency_speed.py when it offers it (child process only).

    That module (kept by another engineer) times warm frames/s in-process; it
    has no way to start from an empty or a populated numba cache, so the
    cold-start part stays here. Returns (fps function or None, its name).
    """
    try:
        from benchmarks import saliency_speed as speed
    except Exception:  # absent or broken: fall back to this module's own loop
        return None, "benchmarks.throughput"
    fps = getattr(speed, "fps", None)
    if not callable(fps):
        return None, "benchmarks.throughput"
    return fps, "benchmarks.saliency_speed.fps"


def _child(model_name: str, frames_path: str, min_seconds: float,
           start_only: bool = False) -> dict:
    """Runs in the measured process: import, first pass, warm frames/s per resolution."""
    t0 = time.perf_counter()
    import cv2
    import numpy as np

    from salcodec.saliency import get_model

    cv2.setNumThreads(1)
    model = get_model(model_name)
    import_s = time.perf_counter() - t0
    from salcodec.mapper import analysis_size

    speed_fps, fps_from = _speed_fps()

    def rate(frames: list) -> float:
        if speed_fps is not None:
            return float(speed_fps(model_name, frames, min_seconds))
        return _rate(get_model(model_name), frames, min_seconds)

    data = np.load(frames_path)
    out = []
    for order, key in enumerate(data.files):
        frames = list(data[key])
        model.reset()
        # The first pass, not the first call: a temporal model may compile
        # only when it first has a previous frame.
        t = time.perf_counter()
        for f in frames:
            model(f)
        first = time.perf_counter() - t
        entry = {"resolution": key, "order": order, "first_pass_s": first,
                 "first_pass_calls": len(frames)}
        out.append(entry)
        if start_only:
            break
        h, w = frames[0].shape[:2]
        aw, ah = analysis_size(w, h)
        small = [cv2.resize(f, (aw, ah), interpolation=cv2.INTER_AREA) for f in frames]
        entry.update({"fps": rate(frames), "analysis_size": f"{aw}x{ah}",
                      "analysis_fps": rate(small)})
    return {"model": model_name, "import_s": import_s, "fps_from": fps_from,
            "per_resolution": out}


def _rate(model, frames: list, min_seconds: float) -> float:
    """Calls per second over at least ``min_seconds`` and two passes over ``frames``."""
    for f in frames[:3]:  # warm-up, as saliency_speed.fps does
        model(f)
    calls = 0
    start = time.perf_counter()
    while True:
        for f in frames:
            model(f)
        calls += len(frames)
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds and calls >= 2 * len(frames):
            return calls / elapsed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.throughput")
    p.add_argument("--child", action="store_true", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--frames", required=True)
    p.add_argument("--min-seconds", type=float, default=2.0)
    p.add_argument("--start-only", action="store_true",
                   help="only import and the first pass at the first resolution")
    a = p.parse_args(argv)
    if os.environ.get("NUMBA_NUM_THREADS") != "1":
        print("warning: NUMBA_NUM_THREADS is not 1", file=sys.stderr)
    print(json.dumps(_child(a.model, a.frames, a.min_seconds, a.start_only)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
