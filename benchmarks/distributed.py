"""Chunked (``--distributed``) against single-process encodes: size, quality, maps, wall time.

    python -m benchmarks.distributed ../shared/data --seconds 60 --append

Two inputs from the data folder (its README):

- ``video/intel/one-by-one-person-detection.mp4`` cut to ``--seconds`` (a
  keyframe every second, so chunks are exactly ``--chunk-seconds``): the cost
  of chunking in bytes and PSNR at the same CRF, and wall time with 1 and 2
  worker processes of an embedded LocalCluster (one libx264 thread each).
  Arms: ``single`` (salcodec.encode, libx264's own threads), ``one-chunk``
  (the distributed path with one chunk and one thread: isolates chunking
  from threading), ``chunked-1w`` and ``chunked-2w`` (``--chunk-seconds``
  chunks on 1 or 2 workers; same bytes, the tasks are deterministic).
- ``gaze-video/partyscene`` (4 s with 1 s chunks, the worst case): bytes, PSNR
  and EW-PSNR (viewers' gaze, as benchmarks/gaze_budget.py) chunked vs single.

Each arm also exports its maps; the share of frames whose offsets equal the
single-process ones is reported (the warm-up's job, see
salcodec/distributed/worker.py). Times include starting the cluster.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import cut_video, default_data_dir, machine_info, video_info
from benchmarks.gaze_budget import GazeWeights, luma_frames, score

RESULTS = Path(__file__).with_name("RESULTS.md")


def video_bytes(path: Path) -> int:
    """All video packet bytes (SEI included: each chunk adds x264's settings SEI)."""
    import av

    with av.open(str(path)) as c:
        return sum(p.size for p in c.demux(c.streams.video[0]) if p.size)


def psnr(ref: Path, dist: Path) -> float:
    values = []
    for r, d in zip(luma_frames(ref), luma_frames(dist), strict=True):
        values.append(10 * math.log10(255**2 / max(((r - d) ** 2).mean(), 1e-10)))
    return float(np.mean(values))


def same_maps(a: Path, b: Path) -> float:
    """Share of frames whose offsets are identical in two map sidecars."""
    ra = [json.loads(x)["offsets"] for x in a.read_text().splitlines()[1:]]
    rb = [json.loads(x)["offsets"] for x in b.read_text().splitlines()[1:]]
    assert len(ra) == len(rb)
    return sum(x == y for x, y in zip(ra, rb, strict=True)) / len(ra)


def run_arm(name: str, src: Path, tmp: Path, crf: float, preset: str, **dist) -> dict:
    from salcodec import encode
    from salcodec.distributed import encode_distributed

    out, side = tmp / f"{name}.mp4", tmp / f"{name}.map.jsonl"
    t = time.monotonic()
    if dist:
        r = encode_distributed(src, out, crf=crf, preset=preset, overwrite=True,
                               progress=False, export_map=side, **dist)
    else:
        r = encode(src, out, crf=crf, preset=preset, overwrite=True, progress=False,
                   export_map=side)
    wall = time.monotonic() - t
    timing = {k: r.budget[k] for k in ("plan_s", "chunks_s", "join_s", "chunk_task_s")
              if k in r.budget}
    return {"arm": name, "wall_s": round(wall, 2), "frames": r.frames_out,
            "chunks": r.budget.get("chunks", 1), "video_bytes": video_bytes(out),
            "file_bytes": r.bytes, **timing, "out": out, "map": side}


def chunk_costs(src: Path, chunk_seconds: float = 10, warm_seconds: float = 3) -> dict:
    """CPU seconds (this process, all threads) of one chunk's parts, robust to load.

    The third chunk of ``src`` is encoded without and with its warm-up (one
    libx264 thread), and scanned for cuts: the warm-up's CPU per warm frame
    and the scan's CPU, each relative to encoding.
    """
    from dataclasses import replace

    from salcodec.distributed.chunks import (
        align_warm_up,
        plan_chunks,
        schedule_period,
        warm_frames,
    )
    from salcodec.distributed.worker import encode_chunk, scan_cuts
    from salcodec.settings import EncodeSettings

    plan = plan_chunks(src, chunk_seconds, warm_seconds)
    settings = EncodeSettings()
    encode_chunk(str(src), plan.chunks[0], settings, x264_threads=1)  # first-call costs
    period = schedule_period(settings)
    chunk = align_warm_up(plan, [], period, warm_frames(plan, warm_seconds, period)).chunks[2]
    out = {}
    for name, c in (("no-warm", replace(chunk, warm_from=chunk.start, seek=chunk.start)),
                    ("warm", chunk)):
        t = time.process_time()
        r = encode_chunk(str(src), c, settings, x264_threads=1)
        out[name] = {"cpu_s": round(time.process_time() - t, 3), "frames": r.frames,
                     "warm_frames": r.warm_frames}
    t = time.process_time()
    scan_cuts(str(src), chunk)
    out["scan_cpu_s"] = round(time.process_time() - t, 3)
    per_frame = out["no-warm"]["cpu_s"] / out["no-warm"]["frames"]
    warm = (out["warm"]["cpu_s"] - out["no-warm"]["cpu_s"]) / out["warm"]["warm_frames"]
    out["warm_cpu_per_frame_vs_encoded"] = round(warm / per_frame, 3)
    out["scan_cpu_vs_encode"] = round(out["scan_cpu_s"] / out["no-warm"]["cpu_s"], 3)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="?", default=str(default_data_dir()))
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--chunk-seconds", type=float, default=10)
    ap.add_argument("--crf", type=float, default=23)
    ap.add_argument("--preset", default="medium")
    ap.add_argument("--append", action="store_true", help="append a section to RESULTS.md")
    ap.add_argument("--cost", default=None, metavar="CLIP",
                    help="only measure one chunk's CPU: encode, warm-up, scan (chunk_costs)")
    args = ap.parse_args(argv)
    if args.cost:
        print(json.dumps(chunk_costs(Path(args.cost), args.chunk_seconds)))
        return 0
    data = Path(args.data)
    machine = machine_info()
    rows, gaze_rows = [], []
    with tempfile.TemporaryDirectory(prefix="salcodec-bench-dist-") as d:
        tmp = Path(d)
        src = tmp / "person.mp4"
        cut_video(data / "video/intel/one-by-one-person-detection.mp4", src, args.seconds)
        info = video_info(src)
        print(f"input: {info}", file=sys.stderr)
        arms = [("single", {}),
                ("one-chunk", {"chunk_seconds": 1e6, "n_workers": 1, "x264_threads": 1}),
                ("chunked-1w", {"chunk_seconds": args.chunk_seconds, "n_workers": 1,
                                "x264_threads": 1}),
                ("chunked-2w", {"chunk_seconds": args.chunk_seconds, "n_workers": 2,
                                "x264_threads": 1})]
        for name, dist in arms:
            row = run_arm(name, src, tmp, args.crf, args.preset, **dist)
            row["psnr"] = round(psnr(src, row["out"]), 3)
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if k not in ("out", "map")}),
                  file=sys.stderr)
        for row in rows:
            row["maps_equal"] = round(same_maps(rows[0]["map"], row["map"]), 4)
        gaze = data / "gaze-video/partyscene"
        if gaze.is_dir():
            weights = GazeWeights(gaze / "gaze.csv")
            for name, dist in (("single", {}),
                               ("chunked-1s", {"chunk_seconds": 1.0, "n_workers": 2,
                                               "x264_threads": 1})):
                row = run_arm(f"gaze-{name}", gaze / "clip.mkv", tmp, args.crf, args.preset,
                              **dist)
                row.update(score(gaze / "clip.mkv", row["out"], weights, None))
                gaze_rows.append(row)
            for row in gaze_rows:
                row["maps_equal"] = round(same_maps(gaze_rows[0]["map"], row["map"]), 4)
    for r in rows + gaze_rows:
        r.pop("out"), r.pop("map")
    given = sys.argv[1:] if argv is None else argv
    result = {"command": " ".join(["python -m benchmarks.distributed",
                                   *(shlex.quote(a) for a in given)]),
              "machine": machine, "input": info, "rows": rows, "gaze": gaze_rows}
    print(json.dumps(result, indent=2))
    if args.append:
        with open(RESULTS, "a", encoding="utf-8") as fh:
            fh.write("\n" + markdown(result, args) + "\n")
    return 0


def markdown(result: dict, args) -> str:
    rows, base = result["rows"], result["rows"][0]
    ref = rows[1]  # one-chunk: same threads, no chunking
    lines = ["## Distributed: chunked vs single-process (issue 13)", "",
             f"`{result['command']}`; input: the first {result['input']['seconds']} s of "
             f"one-by-one-person-detection.mp4 ({result['input']['width']}x"
             f"{result['input']['height']}, {result['input']['frames']} frames, a keyframe "
             f"each second), CRF {args.crf:g}, preset {args.preset}; load average at start "
             f"{result['machine']['load_average_at_start']} on "
             f"{result['machine']['cores_usable']} cores (other jobs ran beside it: wall "
             "times are indicative, bytes and PSNR are not affected). Wall time includes "
             "starting the LocalCluster.", "",
             "| arm | chunks | wall s | video bytes | vs one-chunk | vs single | PSNR dB | "
             "maps equal to single |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['arm']} | {r['chunks']} | {r['wall_s']:.1f} | "
                     f"{r['video_bytes']:,} | {r['video_bytes'] / ref['video_bytes'] - 1:+.2%} | "
                     f"{r['video_bytes'] / base['video_bytes'] - 1:+.2%} | {r['psnr']:.3f} | "
                     f"{r['maps_equal']:.2%} |")
    if result["gaze"]:
        g0 = result["gaze"][0]
        lines += ["", "partyscene (832x480, 4 s, viewers' gaze), 1 s chunks on 2 workers "
                  "(the worst case: a chunk start every second):", "",
                  "| arm | chunks | video bytes | vs single | PSNR dB | EW-PSNR dB | "
                  "maps equal |", "|---|---:|---:|---:|---:|---:|---:|"]
        for r in result["gaze"]:
            lines.append(f"| {r['arm']} | {r['chunks']} | {r['video_bytes']:,} | "
                         f"{r['video_bytes'] / g0['video_bytes'] - 1:+.2%} | {r['psnr']:.3f} | "
                         f"{r['ewpsnr']:.3f} | {r['maps_equal']:.2%} |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
