"""``salcodec demo``: the embedded clip encoded with and without saliency."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from ..saliency import available_models
from .options import add_examples, add_overwrite, add_progress, progress_log


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="encode the embedded clip with and without saliency",
                       description="Encode salcodec's embedded talking-head clip (or INPUT) "
                       "twice at the same settings, plain libx264 and saliency-guided (video "
                       "only), and "
                       "print both sizes, the requested offsets and the QP the encoder used.")
    p.add_argument("input", nargs="?", help="video to use instead of the embedded clip")
    p.add_argument("--out", metavar="DIR", help="keep the two encodes in DIR")
    p.add_argument("--crf", type=float, default=23,
                   help="constant rate factor of both encodes (default: %(default)g)")
    p.add_argument("--preset", default="medium",
                   help="x264 preset of both encodes, ultrafast..placebo (default: %(default)s)")
    p.add_argument("--model", default="default", choices=available_models(),
                   help="saliency model of the salcodec encode (default: %(default)s)")
    p.add_argument("--budget", choices=["attended", "size", "zero-mean"], default="attended",
                   help="what the CRF means for the saliency arm (see encode --help)")
    p.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    add_overwrite(p, "the encodes in DIR")
    add_progress(p)
    add_examples(
        p,
        'salcodec demo                       # the embedded clip',
        'salcodec demo in.mp4 --crf 27 --out demo-out',
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..compare import default_eval_weights
    from ..data import DEFAULT_CLIP
    from ..io.copies import DROPPABLE
    from ..io.safeio import check_output_path
    from ..qpinspect import qp_statistics
    from ..qpreport import realised_in_map_blocks
    from ..quality import measure
    from ..settings import EncodeSettings
    from ..transcode import encode

    log = progress_log(args)

    src = Path(args.input) if args.input else DEFAULT_CLIP
    settings = EncodeSettings(crf=args.crf, preset=args.preset, model=args.model,
                              budget=args.budget)
    # Weighted by a model the encoder does not use, so the score is not circular.
    weights = default_eval_weights(settings)
    with tempfile.TemporaryDirectory(prefix="salcodec-demo-") as tmp:
        folder = Path(args.out) if args.out else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        arms = {}
        names = {name: folder / f"{src.stem}.{name}.mp4" for name in ("x264", "salcodec")}
        for out in names.values():  # both refused before either is made
            check_output_path(out, [src], args.overwrite or not args.out)
        # salcodec's offsets, so plain x264's QP is read in the very same blocks.
        offsets = Path(tmp) / "offsets.jsonl"
        for name, saliency in (("salcodec", True), ("x264", False)):
            out = names[name]
            if log:
                log(f"encoding {src.name} -> {out.name} ...")
            # Video only: what the demo compares (and an input's stream that the
            # .mp4 cannot hold would otherwise stop it).
            r = encode(src, out, settings, saliency=saliency, overwrite=True,
                       report_qp=saliency, progress=args.progress,
                       export_map=offsets if saliency else None, drop=DROPPABLE)
            q = measure(src, out, ["psnr", "ssim", "wpsnr"], weights)
            arms[name] = {"encode": r.as_dict(), "qp": qp_statistics(out)[0],
                          "quality": {m: q.summary[m]["mean"] for m in q.metrics},
                          "weights": weights}
        arms["x264"]["encode"]["qp"] = realised_in_map_blocks(names["x264"], offsets)
        # Where the budget expects eyes, in salcodec's encode too (its inside/outside
        # came with the encode).
        where = realised_in_map_blocks(names["salcodec"], offsets)
        arms["salcodec"]["encode"]["qp"].update(weighted=where["weighted"], peak=where["peak"])
        arms = {name: arms[name] for name in ("x264", "salcodec")}
        ratio = arms["salcodec"]["encode"]["bytes"] / arms["x264"]["encode"]["bytes"]
        arms["salcodec"]["smaller_than_plain"] = round(1 - ratio, 4)  # the headline
        if not args.out:  # the encodes were in a temporary folder, now gone
            for arm in arms.values():
                arm["encode"]["output"] = None
    if args.json:
        json.dump(arms, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    base, sal = arms["x264"], arms["salcodec"]
    print(f"input: {src} ({base['encode']['frames_in']} frames), CRF {args.crf:g}, "
          f"preset {args.preset}, budget {sal['encode']['settings']['budget']}")
    for name, arm in arms.items():
        e, q, m = arm["encode"], arm["qp"], arm["quality"]
        print(f"  {name:9s} {e['bytes']:>9,d} bytes  {e['seconds']:6.2f} s  "
              f"PSNR {m['psnr']:.2f} dB  SSIM {m['ssim']:.4f}  "
              f"wPSNR {m['wpsnr']:.2f} dB  realised QP mean {q['mean_qp']:.2f}")
    where, plain = sal["encode"]["qp"], base["encode"]["qp"]
    print(f"  salcodec is {100 * sal['smaller_than_plain']:.1f}% smaller at the same CRF. "
          "Realised QP, "
          "salcodec against plain x264 in the same blocks:")
    print(f"    where the map expects eyes (weighted as the attended budget anchors): "
          f"{_qp(where['weighted'])} / {_qp(plain['weighted'])}; its peak 2% of blocks: "
          f"{_qp(where['peak'])} / {_qp(plain['peak'])}")
    print(f"    the most salient fifth of each frame: {_qp(where['inside'])} / "
          f"{_qp(plain['inside'])}; elsewhere: {_qp(where['outside'])} / "
          f"{_qp(plain['outside'])}")
    print(f"  wPSNR: PSNR weighted by {weights} (a map the encoder did not use); where "
          "people really look is measured in docs/budget.md")
    return 0


def _qp(value: float | None) -> str:
    # None: no block on that side (a flat map gives every frame the same offset).
    return "n/a" if value is None else f"{value:.1f}"
