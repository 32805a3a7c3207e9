"""Choose the default model's fusion weights on stills AND gaze videos, leave-one-out.

Step 1 caches every cue of the ``default`` fusion per frame at the analysis
size (long side 128), for each development set: the gaze videos (one point
per viewer per frame) and the fixation still sets (fixation points). Step 2
fuses the cached cues with a grid of weights and scores NSS and AUC-Judd at
the fixation points; the weights are chosen on all sets but one and scored
on the one left out, in turn, so the reported held-out scores say how well
the choice generalises rather than how well it fits.

    python -m benchmarks.tune_video ../shared/data --cache /tmp/cues --limit 40

Scores here are at the analysis size (points mapped onto the 128-px grid);
the README's tables come from ``salcodec eval-saliency`` at full size.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

SIDE = 128
CUES = ("bms", "faces", "text", "motion", "gaze")


def _small(rgb: np.ndarray) -> np.ndarray:
    from salcodec.saliency.base import downscale

    return downscale(rgb, SIDE)


class CueExtractor:
    """The fusion's cues for one frame at the analysis size (raw, each peak <= 1)."""

    def __init__(self) -> None:
        from salcodec.saliency.blazeface import BlazeFace
        from salcodec.saliency.text import TextDetector

        self.faces = BlazeFace()
        self.text = TextDetector()
        try:
            from salcodec.saliency.gaze import gaze_probability
        except ImportError:
            gaze_probability = None
        self.gaze = gaze_probability

    def __call__(self, rgb: np.ndarray, prev_gray: np.ndarray | None, detect: bool,
                 last: dict | None) -> dict:
        from salcodec.saliency.bms import bms_saliency
        from salcodec.saliency.motion import motion_saliency
        from salcodec.saliency.priors import face_map, relative_faces
        from salcodec.saliency.text import text_map

        small = np.ascontiguousarray(_small(rgb))
        h, w = small.shape[:2]
        out = {}
        b = bms_saliency(small)
        out["bms"] = b / max(float(b.max()), 1e-9)
        if detect or last is None:
            boxes = relative_faces(self.faces, rgb)
            out["faces"] = face_map((h, w), boxes * np.array([w, h, w, h]))
            out["text"] = text_map(self.text.probability(rgb), (h, w))
            if self.gaze is not None:
                g = cv2.resize(self.gaze(rgb), (w, h), interpolation=cv2.INTER_AREA)
                out["gaze"] = g / max(float(g.max()), 1e-9)
            else:
                out["gaze"] = np.zeros((h, w), np.float32)
        else:
            for k in ("faces", "text", "gaze"):
                out[k] = last[k]
        gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        out["motion"] = (motion_saliency(prev_gray, gray) if prev_gray is not None
                         else np.zeros((h, w), np.float32))
        out["_gray"] = gray
        return out


def cache_video(folder: Path, limit: int | None, every: int) -> dict:
    import av

    from salcodec.saliency.gazetable import read_gaze_table

    gaze = read_gaze_table(folder / "gaze.csv")
    ext = CueExtractor()
    stacks = {k: [] for k in CUES}
    points, prev, last = [], None, None
    with av.open(str(folder / "clip.mkv")) as c:
        for k, frame in enumerate(c.decode(video=0)):
            if limit is not None and k >= limit:
                break
            rgb = frame.to_ndarray(format="rgb24")
            cues = ext(rgb, prev, k % every == 0, last)
            prev, last = cues.pop("_gray"), cues
            for name in CUES:
                stacks[name].append(cues[name].astype(np.float16))
            h, w = cues["bms"].shape
            pts = gaze.fixations(k)
            points.append(pts * np.array([w / rgb.shape[1], h / rgb.shape[0]]))
    return {"kind": "video", "cues": {k: np.stack(v) for k, v in stacks.items()},
            "points": points}


def cache_stills(folder: Path, limit: int | None) -> dict:
    from salcodec.saliency.datasets import iter_dataset

    ext = CueExtractor()
    items = []
    for _, rgb, fixations, _ in iter_dataset(folder, limit):
        cues = ext(rgb, None, True, None)
        cues.pop("_gray")
        ys, xs = np.nonzero(fixations)
        h, w = cues["bms"].shape
        pts = np.column_stack([(xs + 0.5) * w / rgb.shape[1] - 0.5,
                               (ys + 0.5) * h / rgb.shape[0] - 0.5])
        items.append({"cues": {k: v.astype(np.float16) for k, v in cues.items()},
                      "points": pts})
    return {"kind": "stills", "items": items}


# --------------------------------------------------------------------------- fusion


def fuse(cues: dict, p: dict, centre: np.ndarray, video: bool = False) -> np.ndarray:
    """One frame's fused map from cached cues (the formula of salcodec.saliency.fusion).

    ``video``: a shot's second frame or later, where the learned map weighs ``video_gaze``.
    """
    bms = cues["bms"].astype(np.float32)
    g = p["video_gaze"] if video and p.get("video_gaze") is not None else p["gaze"]
    static = centre * (p["offset"] + p["bms"] * bms + g * cues["gaze"])
    static = static / max(float(static.max()), 1e-9)
    fused = static ** p["gamma"]
    fused = fused + p["faces"] * cues["faces"] + p["text"] * cues["text"]
    if p["motion"] > 0:
        m = 1.0 - np.exp(-cues["motion"].astype(np.float32) / p["motion_scale"])
        fused = fused + p["motion"] * m * (p["motion_centre"] * centre + 1 - p["motion_centre"])
    return fused / max(float(fused.max()), 1e-9)


def _centre(shape, sigma):
    from salcodec.saliency.priors import centre_prior

    return centre_prior(shape, sigma)


def _scores(sal: np.ndarray, pts: np.ndarray) -> tuple[float, float]:
    """NSS and AUC-Judd at fixation points (with multiplicity), bilinear-free (nearest)."""
    if len(pts) == 0:
        return np.nan, np.nan
    h, w = sal.shape
    xi = np.clip(np.rint(pts[:, 0]).astype(int), 0, w - 1)
    yi = np.clip(np.rint(pts[:, 1]).astype(int), 0, h - 1)
    std = sal.std()
    if std < 1e-9:
        return 0.0, 0.5
    at = sal[yi, xi]
    nss = float(((at - sal.mean()) / std).mean())
    flat = np.sort(sal.ravel())
    # AUC-Judd: thresholds at the fixated values; FPR from all pixels (as in metrics.auc_judd).
    thr = np.sort(at)[::-1]
    tp = np.arange(1, len(thr) + 1) / len(thr)
    fp = (flat.size - np.searchsorted(flat, thr, side="left")) / flat.size
    tp = np.concatenate([[0], tp, [1]])
    fp = np.concatenate([[0], fp, [1]])
    return nss, float(np.trapezoid(tp, fp))


def score_set(data: dict, p: dict) -> tuple[float, float]:
    if data["kind"] == "stills":
        res = []
        for it in data["items"]:
            c = it["cues"]
            centre = _centre(c["bms"].shape, p["sigma"])
            cues = {**c, "motion": np.zeros_like(c["bms"])}
            res.append(_scores(fuse(cues, p, centre), it["points"]))
        arr = np.array(res)
        return float(np.nanmean(arr[:, 0])), float(np.nanmean(arr[:, 1]))
    cues = data["cues"]
    n = len(data["points"])
    centre = _centre(cues["bms"].shape[1:], p["sigma"])
    prev = prev2 = None
    res = []
    for k in range(n):
        m = fuse({name: cues[name][k] for name in CUES}, p, centre, video=k > 0)
        if prev is not None and p["smoothing"] > 0:
            m = (1 - p["smoothing"]) * m + p["smoothing"] * prev
        prev = m
        # The encoder smooths the offsets again (OffsetMapper): a second EMA in series.
        if prev2 is not None and p["encoder_smoothing"] > 0:
            m = (1 - p["encoder_smoothing"]) * m + p["encoder_smoothing"] * prev2
        prev2 = m
        res.append(_scores(m, data["points"][k]))
    arr = np.array(res)
    return float(np.nanmean(arr[:, 0])), float(np.nanmean(arr[:, 1]))


BASE = {"sigma": 0.25, "offset": 0.3, "bms": 1.0, "gaze": 0.0, "video_gaze": None,
        "gamma": 1.5, "faces": 1.0,
        "text": 1.0, "motion": 0.5, "motion_scale": 1.0, "motion_centre": 0.0,
        "smoothing": 0.5, "encoder_smoothing": 0.6}


def grid(spec: dict[str, list[float]]) -> list[dict]:
    keys = list(spec)
    return [{**BASE, **dict(zip(keys, vals, strict=True))}
            for vals in itertools.product(*(spec[k] for k in keys))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path, help="../shared/data")
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--limit", type=int, default=40, help="stills per set / frames per clip")
    ap.add_argument("--every", type=int, default=10, help="detectors every N video frames")
    ap.add_argument("--grid", type=Path, help="JSON {param: [values]} to search")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--sets", default=None, help="comma-separated subset of the sets to use")
    args = ap.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    sets = {}
    sources = [("gv-" + p.name, p) for p in sorted((args.data / "gaze-video").iterdir())
               if (p / "gaze.csv").exists()]
    sources += [(name, args.data / "fixations" / name) for name in ("mit1003-100", "etocvd",
                                                                    "etto")]
    if args.sets:
        sources = [s for s in sources if s[0] in args.sets.split(",")]
    for name, path in sources:
        f = args.cache / f"{name}.npy"
        if f.exists():
            sets[name] = np.load(f, allow_pickle=True).item()
            continue
        t0 = time.time()
        sets[name] = (cache_video(path, None, args.every) if name.startswith("gv-")
                      else cache_stills(path, args.limit))
        np.save(f, np.array(sets[name], dtype=object), allow_pickle=True)
        print(f"cached {name} in {time.time() - t0:.0f} s", file=sys.stderr)
    if not args.grid:
        return 0
    spec = json.loads(args.grid.read_text())
    cands = grid(spec)
    table = []
    for p in cands:
        row = {name: score_set(d, p) for name, d in sets.items()}
        table.append((p, row))
    names = list(sets)
    # Objective: the mean over sets of NSS relative to the centre prior's, so that a set
    # with large NSS values (etto) does not outweigh the others.
    centre_only = {**BASE, "offset": 1.0, "bms": 0.0, "gamma": 1.0, "faces": 0.0,
                   "text": 0.0, "motion": 0.0, "smoothing": 0.0, "encoder_smoothing": 0.0}
    ref = {name: score_set(d, centre_only) for name, d in sets.items()}

    def objective(row, use):
        return float(np.mean([row[n][0] / ref[n][0] for n in use]))

    best_all = max(table, key=lambda t: objective(t[1], names))
    loo = {}
    for held in names:
        train = [n for n in names if n != held]
        p, row = max(table, key=lambda t: objective(t[1], train))
        loo[held] = {"params": {k: p[k] for k in spec}, "held_out_nss": row[held][0],
                     "held_out_auc": row[held][1], "centre_nss": ref[held][0]}
    result = {"grid": spec, "centre": ref,
              "best": {"params": {k: best_all[0][k] for k in spec}, "scores": best_all[1]},
              "leave_one_out": loo}
    print(json.dumps(result, indent=1))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
