"""Bytes and gaze-weighted quality at the same CRF, on videos with human gaze.

The question of the ``attended`` budget: at the same CRF as plain libx264, is
the file smaller while the quality where people looked (EW-PSNR, weighted by
Gaussians at the viewers' gaze points of each frame) stays within 0.5 dB?
Each arm encodes the whole clip at several CRFs through :func:`salcodec.encode`;
every output is decoded and scored against the lossless clip. Unweighted PSNR
is reported beside, and the BD-rate at equal EW-PSNR and at equal PSNR
(pchip) over the CRFs.

    python -m benchmarks.gaze_budget ../shared/data/gaze-video \\
        --arm default: --arm zero-mean:budget=zero-mean --crf 22,27,32

An arm is ``NAME:FIELD=VALUE,...`` of :class:`salcodec.settings.EncodeSettings`
fields (numbers parsed); ``plain`` (no saliency) is always run.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import tempfile
import warnings
from collections import defaultdict
from pathlib import Path

import av
import numpy as np

from salcodec.bitstream import video_payload_bytes

#: EW-PSNR Gaussian: one degree when the frame spans 30 degrees (as quality's ``fixations:``).
FRAME_DEGREES = 30.0


def read_gaze(csv_path: Path) -> dict[int, np.ndarray]:
    """Frame index -> (N, 2) gaze points, one per recording (the mean of its in-frame samples)."""
    samples: dict[tuple[int, int], list[tuple[float, float]]] = defaultdict(list)
    with open(csv_path, newline="") as fh:
        for row in csv.DictReader(fh):
            if row.get("in_frame", "1") != "1":
                continue
            key = (int(row["clip_frame_0based"]), int(row["recording_id"]))
            samples[key].append((float(row["x_px"]), float(row["y_px"])))
    frames: dict[int, list] = defaultdict(list)
    for (frame, _), pts in samples.items():
        frames[frame].append(np.mean(pts, axis=0))
    return {k: np.asarray(v) for k, v in frames.items()}


def luma_frames(path: Path, limit: int | None = None):
    """The luma plane of each frame, as float64 (streamed)."""
    with av.open(str(path)) as c:
        for i, frame in enumerate(c.decode(video=0)):
            if limit is not None and i >= limit:
                return
            yield frame.reformat(format="yuv420p").to_ndarray()[: frame.height].astype(np.float64)


def gaze_weights(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    from salcodec.quality.weights import fixation_map

    return fixation_map(points, shape, shape[1] / FRAME_DEGREES)


def score(ref_clip: Path, dist: Path, gaze: dict[int, np.ndarray], limit: int | None) -> dict:
    """Mean per-frame PSNR and EW-PSNR (frames with gaze) of ``dist`` against ``ref_clip``."""
    psnr, ew = [], []
    for k, (r, d) in enumerate(zip(luma_frames(ref_clip, limit), luma_frames(dist, limit),
                                   strict=True)):
        err = (r - d) ** 2
        psnr.append(10 * math.log10(255**2 / max(err.mean(), 1e-10)))
        if k in gaze:
            w = gaze_weights(gaze[k], r.shape)
            ew.append(10 * math.log10(255**2 / max((w * err).sum() / w.sum(), 1e-10)))
    return {"psnr": float(np.mean(psnr)), "ewpsnr": float(np.mean(ew)), "frames": len(psnr)}


def parse_arm(text: str) -> tuple[str, dict]:
    name, _, rest = text.partition(":")
    fields = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        try:
            fields[key] = float(value)
        except ValueError:
            fields[key] = value
    return name, fields


def bd(base: list[dict], test: list[dict], metric: str) -> float:
    from salcodec.bdrate import BDOverlapWarning, bd_rate

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BDOverlapWarning)
        try:
            r = bd_rate([p["bytes"] for p in base], [p[metric] for p in base],
                        [p["bytes"] for p in test], [p[metric] for p in test], method="pchip")
        except Exception:  # too few points or no overlap
            return math.nan
    return float(r.value)


def run_clip(folder: Path, arms: dict[str, dict], crfs: list[float], preset: str,
             limit: int | None, work: Path, log) -> dict:
    import salcodec

    clip = folder / "clip.mkv"
    gaze = read_gaze(folder / "gaze.csv")
    points: dict[str, list[dict]] = {}
    for name, fields in {"plain": {"saliency": False}, **arms}.items():
        points[name] = []
        for crf in crfs:
            out = work / f"{folder.name}-{name}-{crf:g}.mkv"
            r = salcodec.encode(clip, out, overwrite=True, progress=False, crf=crf,
                                preset=preset, **fields)
            p = {"crf": crf, "bytes": video_payload_bytes(out), "frames": r.frames_out,
                 **score(clip, out, gaze, limit)}
            points[name].append(p)
            log(f"{folder.name} {name} crf {crf:g}: {p['bytes']} B, PSNR {p['psnr']:.2f}, "
                f"EW-PSNR {p['ewpsnr']:.2f}")
    summary = {}
    base = points["plain"]
    for name in arms:
        test = points[name]
        summary[name] = {
            "bytes_ratio": [t["bytes"] / b["bytes"] for b, t in zip(base, test, strict=True)],
            "ewpsnr_delta": [t["ewpsnr"] - b["ewpsnr"] for b, t in zip(base, test, strict=True)],
            "psnr_delta": [t["psnr"] - b["psnr"] for b, t in zip(base, test, strict=True)],
            "bd_ewpsnr": bd(base, test, "ewpsnr"),
            "bd_psnr": bd(base, test, "psnr"),
        }
    return {"points": points, "summary": summary}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path, help="a gaze-video folder or a folder of them")
    ap.add_argument("--arm", action="append", default=[], help="NAME:FIELD=VALUE,...")
    ap.add_argument("--crf", default="22,27,32")
    ap.add_argument("--preset", default="medium")
    ap.add_argument("--limit", type=int, default=None, help="score the first N frames only")
    ap.add_argument("--json", type=Path, help="write every point here")
    args = ap.parse_args(argv)
    folders = ([args.data] if (args.data / "gaze.csv").exists()
               else sorted(p for p in args.data.iterdir() if (p / "gaze.csv").exists()))
    arms = dict(parse_arm(a) for a in (args.arm or ["default:"]))
    crfs = [float(c) for c in args.crf.split(",")]

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    results = {}
    with tempfile.TemporaryDirectory(prefix="salcodec-gaze-") as tmp:
        for folder in folders:
            results[folder.name] = run_clip(folder, arms, crfs, args.preset, args.limit,
                                            Path(tmp), log)
    print(f"{'clip':16} {'arm':22} {'bytes vs plain (per CRF)':28} {'dEW-PSNR':20} "
          f"{'dPSNR':20} BD(EW) BD(PSNR)")
    for clip, res in results.items():
        for name, s in res["summary"].items():
            pct = " ".join(f"{100 * (r - 1):+.1f}%" for r in s["bytes_ratio"])
            dew = " ".join(f"{d:+.2f}" for d in s["ewpsnr_delta"])
            dps = " ".join(f"{d:+.2f}" for d in s["psnr_delta"])
            print(f"{clip:16} {name:22} {pct:28} {dew:20} {dps:20} "
                  f"{s['bd_ewpsnr']:+.1f}% {s['bd_psnr']:+.1f}%")
    if args.json:
        args.json.write_text(json.dumps({"crfs": crfs, "arms": arms, "clips": results},
                                        indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
