"""``salcodec crf-search INPUT --target METRIC=VALUE``: cheapest settings for a quality."""

from __future__ import annotations

import argparse
import json
import sys

from .compare import floats
from .encode import add_encode_options, settings_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("crf-search", help="find CRF and strength reaching a quality target",
                       description="On samples of INPUT, find for each strength the largest "
                       "CRF whose mean METRIC reaches VALUE, predict the full size, and pick "
                       "the cheapest (strength 0 = plain libx264).")
    p.add_argument("input")
    p.add_argument("--target", required=True, metavar="METRIC=VALUE",
                   help="e.g. ssim=0.97, psnr=38, wpsnr=40 (with --weights)")
    p.add_argument("--strengths", type=floats, default="0,2,4,6",
                   help="candidate strengths, 0 = plain x264 (0,2,4,6)")
    p.add_argument("--weights", default=None, metavar="SPEC",
                   help="weights for a wpsnr/wssim target (model:NAME, density:PATH, ...)")
    p.add_argument("--min-crf", type=float, default=10)
    p.add_argument("--max-crf", type=float, default=45)
    p.add_argument("--samples", type=int, default=4, help="1.5 s sample windows (4)")
    p.add_argument("--encode", metavar="OUTPUT", help="encode INPUT with the best settings")
    p.add_argument("-y", dest="overwrite", action="store_true", help="overwrite OUTPUT")
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    add_encode_options(p, crf=False)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..crfsearch import crf_search
    from ..errors import SalcodecError
    from ..transcode import encode

    settings = settings_from_args(args)
    result = crf_search(args.input, args.target, strengths=args.strengths, settings=settings,
                        weights=args.weights, crf_range=(args.min_crf, args.max_crf),
                        samples=args.samples,
                        log=lambda m: print(m, file=sys.stderr) if sys.stderr.isatty() else None)
    best = result["best"]
    if args.encode:
        if best is None:
            raise SalcodecError(f"{args.input}: no candidate reached {args.target}; "
                                "nothing encoded")
        s = best["strength"]
        r = encode(args.input, args.encode,
                   settings.with_(crf=best["crf"], strength=s or settings.strength,
                                  saliency=s > 0),
                   overwrite=args.overwrite)
        result["encoded"] = r.as_dict()
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    t = result["target"]
    for c in result["candidates"]:
        status = "reached" if c["reached"] else "NOT reached"
        print(f"strength {c['strength']:g}: CRF {c['crf']:g} {status}, {t['metric']} "
              f"{c['quality']:.4f}, predicted {c['predicted_bytes']:,} bytes")
    if best:
        saving = result["saving_vs_baseline"]
        extra = f" (saves {saving:.1%} of plain x264's bytes)" if saving is not None else ""
        print(f"best: strength {best['strength']:g}, CRF {best['crf']:g}, predicted "
              f"{best['predicted_bytes']:,} bytes{extra}")
    else:
        print(f"no candidate reached {t['metric']} >= {t['value']:g}")
    return 0 if best else 1
