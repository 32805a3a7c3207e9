"""``salcodec compare INPUT``: RD curves and BD-rate of saliency arms vs the plain encoder."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .encode import add_encode_options, settings_from_args
from .options import add_examples, add_overwrite, add_progress, progress_log


def floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers like 18,23, got {text!r}") from None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="BD-rate of saliency encoding against the plain encoder",
                       description="Encode the plain encoder (--codec, libx264 by default) and "
                       "saliency arms at several CRFs, "
                       "measure PSNR/SSIM/XPSNR and their saliency-weighted forms against INPUT, "
                       "and "
                       "write DIR/report.json and DIR/rd.png; with --html also DIR/report.html, "
                       "one self-contained page to look at (and its figures as PNG).")
    p.add_argument("input", help="video to compare on (a file: it is read more than once)")
    p.add_argument("--out", default="compare-out", metavar="DIR",
                   help="output folder (default: %(default)s in the current folder)")
    p.add_argument("--crf", dest="crfs", type=floats, default="18,23,28,33",
                   help="comma-separated CRFs of the RD points (18,23,28,33)")
    p.add_argument("--strengths", type=floats, default=None,
                   help="one saliency arm per strength (default: --strength)")
    p.add_argument("--eval-weights", default=None, metavar="SPEC",
                   help="weights for wpsnr/wssim: model:NAME, map:PATH, density:PATH, "
                   "fixations:PATH (default: a model the encoder does not use)")
    p.add_argument("--metrics", default=None, metavar="LIST",
                   help="comma-separated metrics as in quality (default: psnr,ssim,xpsnr,"
                   "wpsnr,wssim,wxpsnr; psnr and ssim always); vmaf is not available here")
    p.add_argument("--sample", type=int, default=None, metavar="N",
                   help="compare on N sample windows of 1.5 s instead of the whole video")
    p.add_argument("--keep", action="store_true", help="keep the encodes in DIR")
    p.add_argument("--html", action="store_true",
                   help="also write DIR/report.html: headline, RD curves, frames side by side "
                   "at matched size with saliency and realised QP, per-frame quality and bits, "
                   "command and versions; self-contained (images inline, no network)")
    p.add_argument("--json", action="store_true", help="print report.json on stdout")
    add_overwrite(p, "an earlier report in DIR")
    add_progress(p)
    add_encode_options(p, crf=False)
    add_examples(
        p,
        'salcodec compare in.mp4 --out cmp --html     # BD-rate, RD curves, report.html',
        'salcodec compare in.mp4 --crf 20,26,32 --sample 4 --json',
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..compare import compare, print_summary
    from ..io.safeio import check_file_output
    from ..report.provenance import command_line

    settings = settings_from_args(args)
    if Path(args.out).is_dir():  # compare makes the folder; an earlier report needs -y
        for name in ("report.json", *(("report.html",) if args.html else ())):
            check_file_output(Path(args.out) / name, [args.input], args.overwrite)
    report = compare(args.input, args.out, crfs=args.crfs, strengths=args.strengths,
                     settings=settings, eval_weights=args.eval_weights,
                     sample=args.sample, keep=args.keep, metrics=args.metrics,
                     html=args.html, command=command_line(),
                     log=progress_log(args))
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print_summary(report)
        page = f", page: {args.out}/report.html" if args.html else ""
        print(f"report: {args.out}/report.json, curves: {args.out}/rd.png{page}")
    return 0
