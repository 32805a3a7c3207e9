"""Where salcodec's extra time and memory go: run in a fresh child process.

``python -m benchmarks.profile_encode INPUT OUTPUT [--preset P] [--crf N]``
prints one JSON line with (``--components``: only :func:`worker_components`)

* ``import_stages``: RSS and seconds after importing PyAV, numpy, OpenCV
  and salcodec in turn, building the default model and running it once (the
  memory a process pays before any frame); ``numba_loaded`` says whether
  that pulled in numba (llvmlite);
* ``encode``: the encode's wall and process CPU seconds, the peak RSS;
* ``worker``: the saliency worker thread's calls, wall and CPU seconds
  (``OffsetMapper.job`` is wrapped here, in this child, to time it; salcodec
  itself is not changed);
* ``main_thread_top``: cProfile of the main thread, top functions by total
  time (the worker thread is not seen by cProfile, hence the wrapper): time
  in ``Future.result`` is the main thread waiting for saliency, time in
  ``VideoStream.encode`` is libx264.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def rss_mib() -> tuple[float, float]:
    """Current and peak RSS of this process from /proc (MiB)."""
    cur = peak = float("nan")
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    cur = int(line.split()[1]) / 1024
                elif line.startswith("VmHWM:"):
                    peak = int(line.split()[1]) / 1024
    except OSError:
        pass
    return cur, peak


def worker_components(src: str, frames: int = 150, cadences=(1, 3), calls: int = 5) -> dict:
    """The saliency worker's CPU per frame, in this thread, and what its parts cost.

    ``per_frame_ms``: ``OffsetMapper.job`` over ``frames`` consecutive frames of
    ``src`` (after one warm-up frame) at each cadence. ``per_call_ms``: the
    default model's networks and the other per-frame steps, each timed alone on
    the first frame (``calls`` calls each). CPU time of this thread only.
    """
    import av

    from salcodec.io.conform import conform_frame, frame_planes
    from salcodec.mapper import OffsetMapper
    from salcodec.regions import roi_payload
    from salcodec.scenecut import SceneCutDetector, yuv_thumbnail

    with av.open(src) as c:
        fr = [f for _, f in zip(range(frames + 1), c.decode(video=0), strict=False)]
    w, h = fr[0].width + fr[0].width % 2, fr[0].height + fr[0].height % 2
    fr = [conform_frame(f, w, h) for f in fr]
    out: dict = {"input": src, "frames": len(fr) - 1, "per_frame_ms": {}, "per_call_ms": {}}
    for cadence in cadences:
        m = OffsetMapper(w, h, cadence=cadence)
        m.job(fr[0])
        c0 = time.thread_time()
        for f in fr[1:]:
            m.job(f)
        out["per_frame_ms"][f"cadence {cadence}"] = 1000 * (time.thread_time() - c0) / (len(fr) - 1)
    m = OffsetMapper(w, h)
    model, rgb = m.model, m.analysis_rgb(fr[0])
    offsets = m.offsets(rgb)[0]
    det = SceneCutDetector()
    parts = {
        "scene-cut thumbnail and test (every frame)":
            lambda: det.update(yuv_thumbnail(*frame_planes(fr[0]))),
        "analysis_rgb (analysed frames)": lambda: m.analysis_rgb(fr[0]),
        "roi_payload (analysed frames)": lambda: roi_payload(offsets, w, h),
    }
    if hasattr(model, "_face_detector") and model._face_detector is not None:
        from salcodec.saliency.priors import relative_faces

        parts["faces network"] = lambda: relative_faces(model._face_detector, rgb)
    if getattr(model, "_text_detector", None) is not None:
        parts["text network"] = lambda: model._text_detector.probability(rgb)
    if hasattr(model, "gaze_side"):
        from salcodec.saliency.gaze import gaze_probability

        parts["learned gaze network"] = lambda: gaze_probability(
            rgb, rgb.shape[:2], model.gaze_side)
    for name, fn in parts.items():
        fn()
        c0 = time.thread_time()
        for _ in range(calls):
            fn()
        out["per_call_ms"][name] = 1000 * (time.thread_time() - c0) / calls
    for attr in ("gaze_interval", "detect_interval", "text_interval"):
        if hasattr(model, attr):
            out[attr] = getattr(model, attr)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.profile_encode")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--preset", default="medium")
    p.add_argument("--crf", type=float, default=23)
    p.add_argument("--top", type=int, default=14)
    p.add_argument("--components", action="store_true",
                   help="only time the saliency worker and its parts (no encode)")
    a = p.parse_args(argv)
    if a.components:
        print(json.dumps(worker_components(a.input)))
        return 0

    stages = []
    t0 = time.perf_counter()

    def stage(name: str) -> None:
        cur, peak = rss_mib()
        stages.append({"stage": name, "rss_mib": cur, "peak_mib": peak,
                       "seconds": time.perf_counter() - t0})

    stage("python")
    import av

    stage("+ av (PyAV, FFmpeg)")
    import numpy  # noqa: F401

    stage("+ numpy")
    import cv2  # noqa: F401

    stage("+ cv2")
    import salcodec
    from salcodec import encoder as enc

    stage("+ salcodec")
    # The default model built and run once on a real frame, with its ROI payload:
    # any numba it uses loads its cached machine code (LLVM) here.
    with av.open(a.input) as c:
        first = next(c.decode(video=0))
    mapper = enc.OffsetMapper(first.width + first.width % 2, first.height + first.height % 2)
    stage("+ default model built")
    mapper.job(enc.conform_frame(first, mapper.width, mapper.height))
    del mapper, first
    numba_loaded = "numba" in sys.modules
    stage("+ first saliency map and ROI" + (" (numba loaded)" if numba_loaded else ""))

    worker = {"calls": 0, "wall_s": 0.0, "cpu_s": 0.0}
    original = enc.OffsetMapper.job

    def timed_job(self, frame):
        w, c = time.perf_counter(), time.thread_time()
        try:
            return original(self, frame)
        finally:
            worker["calls"] += 1
            worker["wall_s"] += time.perf_counter() - w
            worker["cpu_s"] += time.thread_time() - c

    enc.OffsetMapper.job = timed_job

    import cProfile
    import pstats

    prof = cProfile.Profile()
    cpu0, w0 = time.process_time(), time.perf_counter()
    prof.enable()
    r = salcodec.encode(a.input, a.output, crf=a.crf, preset=a.preset, overwrite=True,
                        progress=False)
    prof.disable()
    wall, cpu = time.perf_counter() - w0, time.process_time() - cpu0
    stage("after encode")
    stats = pstats.Stats(prof)
    rows = []
    for (file, line, func), (_, ncalls, tottime, cumtime, _) in stats.stats.items():
        where = func if file == "~" else f"{file.rsplit('/', 2)[-1]}:{line}({func})"
        rows.append({"function": where, "calls": ncalls, "tottime_s": tottime,
                     "cumtime_s": cumtime})
    rows.sort(key=lambda x: x["tottime_s"], reverse=True)
    print(json.dumps({
        "input": a.input, "preset": a.preset, "crf": a.crf, "frames": r.frames_out,
        "import_stages": stages, "numba_loaded": numba_loaded,
        "encode": {"wall_s": wall, "cpu_s": cpu, "cores_busy": cpu / wall if wall else None},
        "worker": {**worker, "cpu_ms_per_frame": 1000 * worker["cpu_s"] / max(1, worker["calls"])},
        "main_thread_top": rows[:a.top],
    }))
    return 0



def encode_profile(src, preset: str = "medium", crf: float = 23) -> dict:
    """Run this module on ``src`` in a fresh measured process; its JSON plus peak RSS."""
    import tempfile
    from pathlib import Path

    from .common import run_child

    with tempfile.TemporaryDirectory(prefix="salcodec-bench-prof-") as tmp:
        run = run_child(["-m", "benchmarks.profile_encode", str(src),
                         str(Path(tmp) / "out.mp4"), "--preset", preset, "--crf", f"{crf:g}"])
    return {**run.output, "process_peak_rss_mib": run.max_rss_mib, "process_wall_s": run.wall_s}


if __name__ == "__main__":
    raise SystemExit(main())
