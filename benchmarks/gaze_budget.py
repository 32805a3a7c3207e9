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
    python -m benchmarks.gaze_budget ../shared/data/fixations/etto --images 20

The second form runs the same on a fixation still set: each image becomes a
3-frame lossless still clip (as in benchmarks/compression.py), EW-PSNR is
weighted by the human fixation density, and the figures are means over images.

An arm is ``NAME:FIELD=VALUE,...`` of :class:`salcodec.settings.EncodeSettings`
fields (numbers parsed); ``plain`` (no saliency) is always run.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import warnings
from pathlib import Path

import av
import numpy as np

from salcodec.bitstream import video_payload_bytes

#: EW-PSNR Gaussian: one degree when the frame spans 30 degrees (as quality's ``fixations:``).
FRAME_DEGREES = 30.0


def luma_frames(path: Path, limit: int | None = None):
    """The luma plane of each frame, as float64 (streamed)."""
    with av.open(str(path)) as c:
        for i, frame in enumerate(c.decode(video=0)):
            if limit is not None and i >= limit:
                return
            yield frame.reformat(format="yuv420p").to_ndarray()[: frame.height].astype(np.float64)


class GazeWeights:
    """EW-PSNR weights of each frame of a gaze video, made once: every arm scores the same frames.

    The points are :func:`salcodec.saliency.gazetable.read_gaze_table`'s: one per
    recording per frame (the mean of its in-frame samples).
    """

    def __init__(self, csv_path: Path) -> None:
        from salcodec.saliency.gazetable import read_gaze_table

        self.table = read_gaze_table(csv_path)
        self._maps: dict[int, np.ndarray] = {}

    def __call__(self, k: int, shape: tuple[int, int]) -> np.ndarray | None:
        """Frame ``k``'s weights at ``shape``, or None when nobody's gaze is on it."""
        from salcodec.quality.weights import fixation_map

        if k not in self._maps:
            points = self.table.fixations(k)
            self._maps[k] = (fixation_map(points, shape, shape[1] / FRAME_DEGREES)
                             if len(points) else None)
        return self._maps[k]


def score(ref_clip: Path, dist: Path, weights: GazeWeights, limit: int | None) -> dict:
    """Mean per-frame PSNR and EW-PSNR (frames with gaze) of ``dist`` against ``ref_clip``."""
    psnr, ew = [], []
    for k, (r, d) in enumerate(zip(luma_frames(ref_clip, limit), luma_frames(dist, limit),
                                   strict=True)):
        err = (r - d) ** 2
        psnr.append(10 * math.log10(255**2 / max(err.mean(), 1e-10)))
        w = weights(k, r.shape)
        if w is not None:
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
    gaze = GazeWeights(folder / "gaze.csv")
    points: dict[str, list[dict]] = {}
    for name, fields in {"plain": {"saliency": False}, **arms}.items():
        points[name] = []
        for crf in crfs:
            out = work / f"{folder.name}-{name}-{crf:g}.mkv"
            r = salcodec.encode(clip, out, overwrite=True, progress=False, crf=crf,
                                preset=preset, **fields)
            p = {"crf": crf, "bytes": video_payload_bytes(out), "frames": r.frames_out,
                 "mean_qp_offset": r.offsets.get("mean_qp_offset"),
                 **score(clip, out, gaze, limit)}
            points[name].append(p)
            log(f"{folder.name} {name} crf {crf:g}: {p['bytes']} B, PSNR {p['psnr']:.2f}, "
                f"EW-PSNR {p['ewpsnr']:.2f}")
    summary = {name: summarise(points["plain"], points[name]) for name in arms}
    return {"points": points, "summary": summary}


def summarise(base: list[dict], test: list[dict]) -> dict:
    """Per-CRF bytes ratio and quality deltas of ``test`` against ``base``, and BD-rates."""
    pairs = list(zip(base, test, strict=True))
    return {
        "bytes_ratio": [t["bytes"] / b["bytes"] for b, t in pairs],
        "ewpsnr_delta": [t["ewpsnr"] - b["ewpsnr"] for b, t in pairs],
        "psnr_delta": [t["psnr"] - b["psnr"] for b, t in pairs],
        "bd_ewpsnr": bd(base, test, "ewpsnr"),
        "bd_psnr": bd(base, test, "psnr"),
    }


def run_stills(root: Path, arms: dict[str, dict], crfs: list[float], preset: str,
               images: int | None, work: Path, log) -> dict:
    """Mean per-CRF deltas and BD-rates over the images of a fixation set."""
    from salcodec.saliency.datasets import find_samples, load_ground_truth, read_rgb

    from .compression import _rd_point, prepare_still

    per_image = []
    for k, sample in enumerate(find_samples(root)[:images]):
        folder = work / f"{root.name}-{k}"
        folder.mkdir()
        rgb = read_rgb(sample.stimulus)
        _, density = load_ground_truth(sample, rgb.shape[:2])
        src, map_path, _ = prepare_still(rgb, density, folder, 640, 3)
        curves = {name: [_rd_point(src, folder / f"{name}-{c:g}.mp4", map_path, crf=c,
                                   preset=preset, **fields) for c in crfs]
                  for name, fields in {"plain": {"saliency": False}, **arms}.items()}
        per_image.append({name: summarise(curves["plain"], curves[name]) for name in arms})
        log(f"{root.name} {k + 1}: " + ", ".join(
            f"{n} {100 * (np.mean(v['bytes_ratio']) - 1):+.1f}% "
            f"dEW {np.mean(v['ewpsnr_delta']):+.2f}" for n, v in per_image[-1].items()))
    summary = {}
    for name in arms:
        rows = [im[name] for im in per_image]
        summary[name] = {
            key: (np.mean([r[key] for r in rows], axis=0).tolist() if key.endswith(
                ("ratio", "delta")) else float(np.nanmean([r[key] for r in rows])))
            for key in rows[0]
        }
    return {"images": len(per_image), "summary": summary}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path, help="a gaze-video folder or a folder of them")
    ap.add_argument("--arm", action="append", default=[], help="NAME:FIELD=VALUE,...")
    ap.add_argument("--crf", default="22,27,32")
    ap.add_argument("--preset", default="medium")
    ap.add_argument("--limit", type=int, default=None, help="score the first N frames only")
    ap.add_argument("--images", type=int, default=None, help="fixation sets: first N images")
    ap.add_argument("--json", type=Path, help="write every point here")
    args = ap.parse_args(argv)
    stills = (args.data / "stimuli").is_dir()
    folders = ([args.data] if stills or (args.data / "gaze.csv").exists()
               else sorted(p for p in args.data.iterdir() if (p / "gaze.csv").exists()))
    arms = dict(parse_arm(a) for a in (args.arm or ["default:"]))
    crfs = [float(c) for c in args.crf.split(",")]

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    results = {}
    with tempfile.TemporaryDirectory(prefix="salcodec-gaze-") as tmp:
        for folder in folders:
            if stills:
                results[folder.name] = run_stills(folder, arms, crfs, args.preset, args.images,
                                                  Path(tmp), log)
            else:
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
