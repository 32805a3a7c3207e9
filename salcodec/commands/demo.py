"""``salcodec demo``: the embedded clip encoded with and without saliency."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="encode the embedded clip with and without saliency",
                       description="Encode salcodec's embedded talking-head clip (or INPUT) "
                       "twice at the same settings, plain libx264 and saliency-guided, and "
                       "print both sizes, the requested offsets and the QP the encoder used.")
    p.add_argument("input", nargs="?", help="video to use instead of the embedded clip")
    p.add_argument("--out", metavar="DIR", help="keep the two encodes in DIR")
    p.add_argument("--crf", type=float, default=23)
    p.add_argument("--preset", default="medium")
    p.add_argument("--model", default="default")
    p.add_argument("--budget", choices=["attended", "size", "zero-mean"], default="attended",
                   help="what the CRF means for the saliency arm (see encode --help)")
    p.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..data import DEFAULT_CLIP
    from ..qpinspect import qp_statistics
    from ..quality import measure
    from ..transcode import encode

    src = Path(args.input) if args.input else DEFAULT_CLIP
    with tempfile.TemporaryDirectory(prefix="salcodec-demo-") as tmp:
        folder = Path(args.out) if args.out else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        arms = {}
        for name, saliency in (("x264", False), ("salcodec", True)):
            out = folder / f"{src.stem}.{name}.mp4"
            print(f"encoding {src.name} -> {out.name} ...", file=sys.stderr)
            r = encode(src, out, crf=args.crf, preset=args.preset, saliency=saliency,
                       model=args.model, overwrite=True, budget=args.budget)
            q = measure(src, out, ["psnr", "ssim"])
            arms[name] = {"encode": r.as_dict(), "qp": qp_statistics(out)[0],
                          "quality": {m: q.summary[m]["mean"] for m in q.metrics}}
    if args.json:
        json.dump(arms, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    base, sal = arms["x264"], arms["salcodec"]
    print(f"input: {src} ({base['encode']['frames_in']} frames), "
          f"CRF {args.crf:g}, preset {args.preset}")
    for name, arm in arms.items():
        e, q, m = arm["encode"], arm["qp"], arm["quality"]
        print(f"  {name:9s} {e['bytes']:>9,d} bytes  {e['seconds']:6.2f} s  "
              f"PSNR {m['psnr']:.2f} dB  SSIM {m['ssim']:.4f}  "
              f"realised QP mean {q['mean_qp']:.2f}, in-frame std {q['mean_std_qp']:.2f}")
    off = sal["encode"]["offsets"]
    ratio = sal["encode"]["bytes"] / base["encode"]["bytes"]
    print(f"  requested QP offsets ({sal['encode']['settings']['model']}): mean |offset| "
          f"{off['mean_abs_qp_offset']:.2f}, range {off['min_qp_offset']:+.0f}.."
          f"{off['max_qp_offset']:+.0f}, {off['regions_per_frame']:.0f} regions/frame")
    print(f"  size ratio salcodec/x264 at equal CRF: {ratio:.3f} (not a quality claim: "
          "compare at equal quality with `salcodec compare`)")
    return 0
