"""Choose the default model's still-image branch, leave-one-set-out, scored at full size.

The ``default`` model treats a still (and a shot's first frame) apart from
video: its own weights and a larger input for the learned map. This search
varies only that branch. Step 1 caches, per image of each development still
set, what the fusion sees at the analysis size (long side 128): BMS, the
face and text maps, and FastGaze's raw grid at several input sides, on the
image and on its horizontal mirror. Step 2 fuses them as
:meth:`salcodec.saliency.fusion.DefaultModel.compute` does, upsamples the
map to the image's size as the model does, and scores NSS and AUC-Judd
against the full-size fixation points (the numbers ``salcodec eval-saliency``
prints, up to float rounding). Each candidate is chosen on all sets but one
and scored on the one left out, in turn; mit1003-100's even and odd halves
are also scored against each other (chosen on one half with etocvd and etto).
Two choice rules: the mean over the training sets of NSS relative to a
centre prior's (``CENTRE``, as ``benchmarks/tune_video.py``), and the same
among candidates that score no worse than the branch before it (:data:`BASE`) on
any training set.

    python -m benchmarks.tune_stills ../shared/data/fixations --cache /tmp/stills-cues \\
        --grid GRID.json [--out result.json]

GRID.json maps a parameter of :data:`BASE` to the values to try, e.g.
``{"sides": [[512], [384, 512]], "mirror": [false, true], "gaze": [0.75, 1]}``.
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
SETS = ("mit1003-100", "etocvd", "etto")
#: Input sides FastGaze is cached at (each capped, as the model caps it, at the
#: image's own long side rounded down to the stride).
GAZE_SIDES = (384, 512, 640, 768)

#: The centre prior NSS is measured against (the fusion's own width; only a scale).
CENTRE = 0.25
#: The still branch before this search (fusion as of the fifth session): its reference
#: and the floor of the "no worse on any training set" rule.
BASE = {"sigma": 0.25, "offset": 0.3, "gaze": 0.75, "faces": 1.0, "text": 1.0,
        "gamma": 1.5, "sides": [512], "mirror": False, "temperature": 1.0}


def cache_set(folder: Path) -> list[dict]:
    """The fusion's inputs for every image of a fixation set (see the module docstring)."""
    from salcodec.saliency.base import downscale
    from salcodec.saliency.blazeface import BlazeFace
    from salcodec.saliency.bms import bms_saliency
    from salcodec.saliency.datasets import iter_dataset
    from salcodec.saliency.gaze import STRIDE, gaze_grid
    from salcodec.saliency.priors import face_map, relative_faces
    from salcodec.saliency.text import TextDetector, text_map

    faces, text = BlazeFace(), TextDetector()
    items = []
    for name, rgb, fixations, _ in iter_dataset(folder):
        small = np.ascontiguousarray(downscale(rgb, SIDE))
        h, w = small.shape[:2]
        bms = bms_saliency(downscale(small, SIDE), 6)
        if bms.shape != (h, w):
            bms = cv2.resize(bms, (w, h), interpolation=cv2.INTER_LINEAR)
        bms = bms / max(float(bms.max()), 1e-12)
        boxes = relative_faces(faces, rgb) * np.array([w, h, w, h])
        mirrored = np.ascontiguousarray(rgb[:, ::-1])
        top = max(rgb.shape[:2]) // STRIDE * STRIDE
        grids = {}
        for side in GAZE_SIDES:
            side = min(side, top)
            if side not in grids:
                grids[side] = (gaze_grid(rgb, side), gaze_grid(mirrored, side))
        ys, xs = np.nonzero(fixations)
        items.append({"name": name, "shape": rgb.shape[:2], "bms": bms,
                      "faces": face_map((h, w), boxes),
                      "text": text_map(text.probability(rgb), (h, w)),
                      "grids": grids, "ys": ys.astype(np.int32), "xs": xs.astype(np.int32)})
    return items


def gaze_cue(item: dict, p: dict) -> np.ndarray:
    """The learned map at the analysis size, in [0, 1], for parameters ``p``.

    Each side's grid (with ``mirror``: averaged with the mirrored image's
    grid, flipped back) is resampled as a log-density; the sides' log
    densities are averaged, scaled by ``temperature`` and exponentiated.
    """
    from salcodec.saliency.base import normalize_map

    h, w = item["bms"].shape
    top = max(item["grids"])
    logs = []
    for side in p["sides"]:
        grid, flipped = item["grids"][min(side, top)]
        if p["mirror"]:
            grid = 0.5 * (grid + flipped[:, ::-1])
        logs.append(cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC))
    log_density = np.mean(logs, axis=0) * p["temperature"]
    return normalize_map(np.exp(log_density - float(log_density.max())))


def fuse(item: dict, p: dict, centre: np.ndarray) -> np.ndarray:
    """The still branch of DefaultModel.compute, from cached cues (analysis size)."""
    cues = p["offset"] + item["bms"]
    if p["gaze"] > 0:
        cues = cues + p["gaze"] * gaze_cue(item, p)
    fused = centre * cues
    fused = (fused / float(fused.max())) ** p["gamma"]
    fused = fused + p["faces"] * item["faces"] + p["text"] * item["text"]
    return fused / float(fused.max())


def scores(sal: np.ndarray, item: dict) -> tuple[float, float]:
    """NSS and AUC-Judd of a map upsampled to the image (salcodec.saliency.metrics, exact)."""
    from salcodec.saliency.base import normalize_map, upscale

    full = upscale(normalize_map(sal), item["shape"]).astype(np.float64)
    at = full[item["ys"], item["xs"]]
    std = full.std(ddof=1)
    nss = float(((at - full.mean()) / std).mean()) if std > 0 else 0.0
    # AUC-Judd as metrics.auc_judd, counting pixels at or above each fixated
    # value with one pass (bincount over the thresholds) instead of a full sort.
    thr = np.unique(at)  # ascending
    n_fix, n_pix = at.size, full.size
    below_all = np.bincount(np.searchsorted(thr, full.ravel(), side="right"),
                            minlength=thr.size + 1)
    above_all = n_pix - np.cumsum(below_all)[:-1]  # pixels >= thr[k]
    below_fix = np.bincount(np.searchsorted(thr, at, side="right"), minlength=thr.size + 1)
    above_fix = n_fix - np.cumsum(below_fix)[:-1]
    tp = np.concatenate(([0.0], above_fix[::-1] / n_fix, [1.0]))
    fp = np.concatenate(([0.0], (above_all[::-1] - above_fix[::-1]) / (n_pix - n_fix), [1.0]))
    return nss, float(np.sum((fp[1:] - fp[:-1]) * (tp[1:] + tp[:-1]) / 2.0))


def score_items(items: list[dict], p: dict) -> np.ndarray:
    """Per-image (NSS, AUC-Judd), shape (n, 2)."""
    from salcodec.saliency.priors import centre_prior

    centres: dict = {}
    out = []
    for it in items:
        shape = it["bms"].shape
        if shape not in centres:
            centres[shape] = centre_prior(shape, p["sigma"])
        out.append(scores(fuse(it, p, centres[shape]), it))
    return np.array(out)


def grid(spec: dict[str, list]) -> list[dict]:
    keys = list(spec)
    return [{**BASE, **dict(zip(keys, vals, strict=True))}
            for vals in itertools.product(*(spec[k] for k in keys))]


def choose(table: list, names: list[str], ref: dict, floor: dict | None = None) -> int:
    """Index of the candidate with the best mean NSS relative to the centre prior over ``names``.

    With ``floor`` ({set: (nss, auc_judd)}), only candidates scoring at
    least that on each of ``names`` count (there is always one when the
    floor is the score of a candidate, e.g. today's branch).
    """
    def ok(row: dict) -> bool:
        return floor is None or all(row[n][0] >= floor[n][0] - 1e-9
                                    and row[n][1] >= floor[n][1] - 1e-9 for n in names)

    gains = [np.mean([row[n][0] / ref[n] for n in names]) if ok(row) else -np.inf
             for _, row in table]
    return int(np.argmax(gains))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path, help="../shared/data/fixations")
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--grid", type=Path, help="JSON {param: [values]} to search")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    data = {}
    for name in SETS:
        f = args.cache / f"{name}.npy"
        if not f.exists():
            t0 = time.time()
            np.save(f, np.array(cache_set(args.data / name), dtype=object), allow_pickle=True)
            print(f"cached {name} in {time.time() - t0:.0f} s", file=sys.stderr)
        data[name] = list(np.load(f, allow_pickle=True))
    if not args.grid:
        return 0
    spec = json.loads(args.grid.read_text())
    cands = grid(spec)
    centre_only = {**BASE, "offset": 1.0, "gaze": 0.0, "faces": 0.0, "text": 0.0,
                   "gamma": 1.0, "sigma": CENTRE}

    def means(p: dict) -> dict[str, tuple[float, float]]:
        per = {n: score_items(data[n], p) for n in SETS}
        per["mit-even"], per["mit-odd"] = per["mit1003-100"][0::2], per["mit1003-100"][1::2]
        return {n: tuple(float(v) for v in s.mean(axis=0)) for n, s in per.items()}

    ref = {n: nss for n, (nss, _) in means(centre_only).items()}
    table = []
    for k, p in enumerate(cands):
        row = means(p)
        table.append((p, row))
        print(f"{k + 1}/{len(cands)} " + json.dumps({key: p[key] for key in spec}) + " "
              + " ".join(f"{n} {row[n][1]:.3f}/{row[n][0]:.3f}" for n in SETS), file=sys.stderr)

    def summary(i: int) -> dict:
        p, row = table[i]
        return {"params": {key: p[key] for key in spec},
                "scores": {n: {"nss": row[n][0], "auc_judd": row[n][1]} for n in row}}

    # Two rules: the mean relative NSS alone (as benchmarks/tune_video.py), and
    # the same among candidates no worse than today's branch on any training set
    # (NSS and AUC-Judd; the still sets do not agree on how sharp a map should be).
    today = means(BASE)
    held_out = {}
    for rule, floor in (("mean", None), ("mean, no set worse", today)):
        loo = held_out[rule] = {}
        splits = [(held, [n for n in SETS if n != held]) for held in SETS]
        # mit1003-100's halves: chosen on one half (and the other two sets), scored on the other.
        splits += [("mit-odd", ["mit-even", "etocvd", "etto"]),
                   ("mit-even", ["mit-odd", "etocvd", "etto"])]
        for held, train in splits:
            i = choose(table, train, ref, floor)
            loo[held] = {**summary(i), "held_out": {"nss": table[i][1][held][0],
                                                   "auc_judd": table[i][1][held][1]}}
        loo["all sets"] = summary(choose(table, list(SETS), ref, floor))
    result = {"grid": spec, "centre_nss": ref, "today": today, "leave_one_out": held_out,
              "all": [summary(i) for i in range(len(table))]}
    text = json.dumps({k: v for k, v in result.items() if k != "all"}, indent=1)
    print(text)
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
