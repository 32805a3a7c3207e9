"""Where an encode's memory goes: peak RSS of each part, each in a fresh process.

``python -m benchmarks.memory_profile [--size 1280x720] [--frames 120] [--json FILE]``

Issue 14 asks for peak RSS <= 1.5x plain libx264's; at 720p veryfast plain
x264 holds about 160 MiB, so 1.5x leaves 80 MiB for everything salcodec adds.
This splits what it adds:

* ``imports``: the plain arm's imports (numpy, PyAV) against ``salcodec``'s
  encode path (OpenCV and salcodec's own modules);
* ``model``: the default model run as the encoder runs it
  (:meth:`salcodec.mapper.OffsetMapper.job`, cadence 3, every network on its
  schedule) on ``--frames`` real frames, with no network, each network alone
  and all three, against decoding the same frames without a model;
* ``arms``: whole encodes (``benchmarks.arm``: plain, salcodec without
  saliency, salcodec) of a >= 300-frame clip at both presets.

Every figure is a fresh process's own peak (``VmHWM``), so nothing measured
earlier hides in it. Frames come from bigbuckbunny (``../shared/data``) played
forward and back and scaled, as in :mod:`benchmarks.overhead`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from .common import default_data_dir, machine_info, median, run_child
from .overhead import OVERHEAD_CLIP, _arm_args, make_long_clip
from .profile_encode import rss_mib

#: Model variants: the default model's keyword arguments that leave networks out.
VARIANTS = {
    "decode only": None,  # the frames decoded and converted, no model: the baseline
    "no network": {"detect_interval": 0, "gaze_weight": 0.0, "video_gaze_weight": 0.0},
    "learned map (FastGaze) only": {"detect_interval": 0},
    "faces (BlazeFace) only": {"text_interval": 0, "gaze_weight": 0.0,
                               "video_gaze_weight": 0.0},
    "text only": {"face_weight": 0.0, "video_face_weight": 0.0, "gaze_weight": 0.0,
                  "video_gaze_weight": 0.0},
    "all three (the default)": {},
}


def child(clip: str, frames: int, variant: str | None) -> dict:
    """One measurement in this (fresh) process: peak after imports, and after the model."""
    import av  # noqa: F401  (the plain arm's imports)
    import numpy  # noqa: F401

    base = rss_mib()[1]
    if variant is None:
        return {"peak_mib": base}
    import salcodec  # noqa: F401
    from salcodec.io.conform import conform_frame
    from salcodec.mapper import OffsetMapper
    from salcodec.saliency.fusion import DefaultModel

    imported = rss_mib()[1]
    with av.open(clip) as c:
        stream = c.streams.video[0]
        mapper = None
        for i, frame in enumerate(c.decode(stream)):
            if i == frames:
                break
            frame = conform_frame(frame, frame.width, frame.height, "yuv420p")
            if VARIANTS[variant] is None:
                continue
            if mapper is None:
                mapper = OffsetMapper(frame.width, frame.height,
                                      model=DefaultModel(**VARIANTS[variant]))
            mapper.job(frame)
    return {"base_mib": base, "imported_mib": imported, "peak_mib": rss_mib()[1]}


def _child_run(clip: Path, frames: int, variant: str | None) -> dict:
    args = ["-m", "benchmarks.memory_profile", "--child", str(clip), "--frames", str(frames)]
    return run_child(args + (["--variant", variant] if variant else [])).output


def profile(src: Path, size: tuple[int, int], frames: int, reps: int, log=print) -> dict:
    out: dict = {"size": list(size), "frames": frames, "reps": reps, "machine": machine_info()}
    with tempfile.TemporaryDirectory(prefix="salcodec-mem-") as tmp:
        tmp = Path(tmp)
        clip = make_long_clip(src, tmp / "clip.mp4", size, 300)
        out["clip_frames"] = clip["frames"]
        runs = [_child_run(clip["path"], frames, None) for _ in range(reps)]
        out["plain_imports_mib"] = median([r["peak_mib"] for r in runs])
        out["variants"] = {}
        for name in VARIANTS:
            log(f"memory: model variant {name!r} ...")
            runs = [_child_run(clip["path"], frames, name) for _ in range(reps)]
            out["salcodec_imports_mib"] = median([r["imported_mib"] for r in runs])
            out["variants"][name] = {
                "peak_mib": median([r["peak_mib"] for r in runs])}
        out["arms"] = {}
        for preset in ("veryfast", "medium"):
            for arm in ("plain", "nosal", "salcodec"):
                log(f"memory: {arm} encode, preset {preset} ...")
                runs = [run_child(_arm_args(arm, Path(clip["path"]), tmp / "o.mp4", 23, preset,
                                            None)) for _ in range(reps)]
                out["arms"][f"{arm} {preset}"] = median([r.max_rss_mib for r in runs])
    return out


def markdown(r: dict) -> str:
    w, h = r["size"]
    v = r["variants"]
    rows = [f"| {w}x{h}, {r['frames']} frames | peak RSS MiB | added MiB |", "|---|---:|---:|",
            f"| python, numpy, PyAV (the plain arm's imports) | {r['plain_imports_mib']:.0f} | |",
            f"| + salcodec's encode imports (OpenCV) | {r['salcodec_imports_mib']:.0f} "
            f"| {r['salcodec_imports_mib'] - r['plain_imports_mib']:+.0f} |"]
    decode = v["decode only"]["peak_mib"]
    none = v["no network"]["peak_mib"]
    for name, x in v.items():
        what = "decoding the frames, no model" if name == "decode only" else \
            f"+ default model, {name}"
        added = x["peak_mib"] - (r["salcodec_imports_mib"] if name == "decode only" else decode)
        extra = "" if name in ("decode only", "no network") else \
            f" (networks {x['peak_mib'] - none:+.0f})"
        rows.append(f"| {what} | {x['peak_mib']:.0f} | {added:+.0f}{extra} |")
    rows += ["", "| whole encode (peak RSS MiB) | veryfast | medium |", "|---|---:|---:|"]
    a = r["arms"]
    for arm in ("plain", "nosal", "salcodec"):
        rows.append(f"| {arm} | {a[arm + ' veryfast']:.0f} | {a[arm + ' medium']:.0f} |")
    rows.append(f"| salcodec / plain | {a['salcodec veryfast'] / a['plain veryfast']:.2f} "
                f"| {a['salcodec medium'] / a['plain medium']:.2f} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.memory_profile",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=default_data_dir())
    p.add_argument("--size", default="1280x720")
    p.add_argument("--frames", type=int, default=120,
                   help="frames the model variants run on (default 120: every network "
                        "runs several times)")
    p.add_argument("--reps", type=int, default=1)
    p.add_argument("--json", type=Path)
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--variant", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        print(json.dumps(child(a.child, a.frames, a.variant)))
        return 0
    w, h = (int(x) for x in a.size.split("x"))
    r = profile(a.data / OVERHEAD_CLIP, (w, h), a.frames, a.reps,
                log=lambda m: print(m, file=sys.stderr))
    if a.json:
        a.json.write_text(json.dumps(r, indent=1))
    print(markdown(r))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
