"""NSS of the default model's network schedules on the gaze videos (issue 12, issue 14).

Usage::

    python -m benchmarks.saliency_schedule [--data ../shared/data/gaze-video]
        [--variant NAME:key=value,key=value ...] [--json FILE]

Every variant is a ``DefaultModel`` built with the given keyword arguments
(``gaze_interval=30``, ``text_interval=60``, ``gaze_side=192``...), plus
three keys of this script:

* ``size``: ``full`` (the model sees the clip's frames, as
  ``salcodec eval-saliency`` does; the default) or ``analysis`` (the frame
  the encoder gives it: yuv420p shrunk to :func:`salcodec.mapper.analysis_size`
  by :func:`salcodec.io.conform.analysis_rgb`);
* ``cadence``: call the model on every ``cadence``-th frame (its
  ``frame_step`` set as the encoder sets it) and keep the map in between (1);
* ``carry``: between calls, ``hold`` the last map (the encoder's way),
  ``shift`` it by the global translation that phase correlation finds
  between the analysed frame and the current one, or ``flow``: warp it by
  the dense optical flow (DIS, as the motion cue) between them (both
  on 64 px-wide greys).

Each map is scored on every frame with gaze, at the clip's size, with the
same per-frame metrics as ``eval-saliency`` (:func:`salcodec.saliency.videogaze.score_frame`);
``cpu ms/frame`` is the model's process time per video frame, one OpenCV
thread (CPU time: steadier than wall time on a shared machine).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import av
import cv2
import numpy as np

from salcodec.io.conform import analysis_rgb, conform_frame
from salcodec.mapper import analysis_size
from salcodec.saliency.fusion import DefaultModel
from salcodec.saliency.videogaze import find_gaze_videos, score_frame

from .common import default_data_dir

#: The schedules compared by default: today's, then one change at a time.
DEFAULT_VARIANTS = [
    "today:",
    "gaze30:gaze_interval=30",
    "gaze192:gaze_side=192",
    "text60:text_interval=60",
    "text-cuts:text_interval=100000",
    "faces60:detect_interval=60,text_interval=30",
    "gaze30-text60-faces60:gaze_interval=30,detect_interval=60",
]
OWN_KEYS = {"size": "full", "cadence": 1, "carry": "hold"}


def parse_variant(spec: str) -> tuple[str, dict, dict]:
    """``NAME:key=value,...`` -> (name, model kwargs, this script's options)."""
    name, _, rest = spec.partition(":")
    model, own = {}, dict(OWN_KEYS)
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        if key in own:
            own[key] = type(OWN_KEYS[key])(value)
        else:
            model[key] = float(value) if "." in value else int(value)
    return name, model, own


def load_clip(gv, size: str) -> list[np.ndarray]:
    """The clip's frames as RGB: full size, or the encoder's analysis size."""
    frames = []
    with av.open(str(gv.clip)) as c:
        for f in c.decode(video=0):
            if size == "full":
                frames.append(f.to_ndarray(format="rgb24"))
            else:
                g = conform_frame(f, f.width - f.width % 2, f.height - f.height % 2)
                frames.append(analysis_rgb(g, *analysis_size(g.width, g.height)))
    return frames


def _grey(rgb: np.ndarray, width: int = 64) -> np.ndarray:
    g = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    h = max(2, round(g.shape[0] * width / g.shape[1]))
    return cv2.resize(g, (width, h), interpolation=cv2.INTER_AREA).astype(np.float32)


def shift_map(sal: np.ndarray, ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """``sal`` moved by the translation of ``cur`` against ``ref`` (greys, any size)."""
    (dx, dy), _ = cv2.phaseCorrelate(ref, cur)
    s = sal.shape[1] / ref.shape[1]
    m = np.float32([[1, 0, dx * s], [0, 1, dy * s]])
    return cv2.warpAffine(sal, m, (sal.shape[1], sal.shape[0]), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def flow_map(sal: np.ndarray, ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """``sal`` (of ``ref``) warped to ``cur`` by the dense flow from ``cur`` to ``ref``."""
    from salcodec.saliency.motion import dense_flow

    flow = dense_flow(cur.astype(np.uint8), ref.astype(np.uint8))
    h, w = sal.shape
    flow = cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR) * (w / ref.shape[1])
    yy, xx = np.indices((h, w), dtype=np.float32)
    return cv2.remap(sal, xx + flow[..., 0], yy + flow[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def run_variant(frames: list[np.ndarray], model_kw: dict, own: dict) -> tuple[list, float]:
    """Maps of every frame under one schedule, and the model's CPU seconds."""
    model = DefaultModel(**model_kw)
    maps, cpu = [], 0.0
    sal = ref = None
    since = None
    for rgb in frames:
        t0 = time.process_time()
        if since is None or since >= own["cadence"]:
            model.frame_step = since or 1
            sal, ref, since = model(rgb), None, 0
            if own["carry"] != "hold":
                ref = _grey(rgb)
            out = sal
        elif own["carry"] == "shift":
            out = shift_map(sal, ref, _grey(rgb))
        elif own["carry"] == "flow":
            out = flow_map(sal, ref, _grey(rgb))
        else:
            out = sal
        since += 1
        cpu += time.process_time() - t0
        maps.append(out)
    return maps, cpu


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=default_data_dir() / "gaze-video")
    p.add_argument("--variant", action="append", help="NAME:key=value,... (repeatable)")
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args(argv)
    cv2.setNumThreads(1)
    variants = [parse_variant(v) for v in (args.variant or DEFAULT_VARIANTS)]
    results: dict[str, dict] = {}
    for gv in find_gaze_videos(args.data):
        clips: dict[str, list] = {}
        truth = {}
        for name, model_kw, own in variants:
            frames = clips.get(own["size"])
            if frames is None:
                frames = clips[own["size"]] = load_clip(gv, own["size"])
            maps, cpu = run_variant(frames, model_kw, own)
            scores = []
            for k, sal in enumerate(maps):
                shape = (gv.height, gv.width)
                if k not in truth:
                    mask = gv.fixation_mask(k, shape)
                    truth[k] = (mask, gv.density(k, shape)) if mask.any() else None
                if truth[k] is None:
                    continue
                sal = cv2.resize(sal, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
                scores.append(score_frame(sal, *truth[k]))
            row = {m: float(np.mean([s[m] for s in scores])) for m in scores[0]}
            row["cpu_ms_per_frame"] = 1e3 * cpu / len(maps)
            results.setdefault(name, {})[gv.name] = row
            print(f"{gv.name:15s} {name:24s} NSS {row['nss']:.3f} CC {row['cc']:.3f} "
                  f"AUC {row['auc_judd']:.3f}  {row['cpu_ms_per_frame']:.1f} cpu ms/frame",
                  flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
