"""``salcodec quality REF DIST``: PSNR/SSIM/XPSNR and saliency-weighted variants, per frame.

Writes a JSON document (schema ``salcodec.quality/1``) or CSV to stdout or
``--output``; definitions and schema in docs/quality.md. Alignment notes and
unavailable metrics go to stderr as ``salcodec: note: ...`` lines; progress
too, but only when stderr is a terminal.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .options import add_examples, add_overwrite, add_progress, show_progress


def register(sub: argparse._SubParsersAction) -> None:
    from ..quality.measure import DEFAULT_METRICS, METRICS, WEIGHTED_METRICS

    p = sub.add_parser(
        "quality",
        help="full-reference quality of DIST against REF (PSNR, SSIM, XPSNR, weighted)",
        description="Compare DIST with REF frame by frame (frames paired by presentation "
        "time) and report per-frame values and pooled summaries (mean, harmonic mean, "
        "5th percentile). Definitions: docs/quality.md.",
    )
    p.add_argument("ref", metavar="REF", help="reference video")
    p.add_argument("dist", metavar="DIST", help="distorted video (same frame size)")
    p.add_argument(
        "--metrics",
        metavar="LIST",
        help=f"comma-separated, from {', '.join(METRICS)}, or 'all' (default: "
        f"{','.join(DEFAULT_METRICS)}, plus {','.join(WEIGHTED_METRICS)} with --weights); "
        "vmaf is not available here (no libvmaf in PyAV's FFmpeg)",
    )
    p.add_argument(
        "--weights",
        metavar="SPEC",
        help="importance maps for wpsnr/wssim: model:NAME (on the reference), map:PATH "
        "(grey image or video), density:PATH, fixations:PATH[:sigma=PX], "
        "gaze:PATH/gaze.csv[:sigma=PX][:pool=N] (EW-PSNR from a gaze-video table)",
    )
    p.add_argument(
        "-of", "--output-format", dest="format", choices=("json", "csv"), default="json",
        help="output format (default json)",
    )
    p.add_argument(
        "--csv-layout", choices=("long", "wide"), default="long",
        help="csv: one row per frame and metric (long, default) or per frame (wide)",
    )
    p.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    add_overwrite(p, "FILE")
    add_progress(p)
    p.add_argument("--max-frames", type=int, metavar="N", help="compare at most N frames")
    add_examples(
        p,
        'salcodec quality ref.mp4 dist.mp4 --metrics psnr,ssim,xpsnr',
        'salcodec quality ref.mp4 dist.mp4 -of csv --output frames.csv',
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import SalcodecError
    from ..io.safeio import check_file_output
    from ..progress import Progress
    from ..quality import measure
    from ..quality.weights import parse_weights

    if args.max_frames is not None and args.max_frames < 1:
        raise SalcodecError(f"--max-frames must be >= 1, got {args.max_frames}")
    out = Path(args.output) if args.output else None
    if out is not None:
        check_file_output(out, [args.ref, args.dist], args.overwrite)
    weights = parse_weights(args.weights) if args.weights else None

    progress = Progress(label="quality", enabled=show_progress(args))
    try:
        result = measure(args.ref, args.dist, metrics=args.metrics, weights=weights,
                         max_frames=args.max_frames, progress=progress.update)
    finally:
        progress.close()

    for name, reason in result.unavailable.items():
        print(f"salcodec: note: {name}: unavailable ({reason})", file=sys.stderr)
    for note in result.alignment.notes:
        print(f"salcodec: note: {note}", file=sys.stderr)
    if result.weights and result.weights.get("uniform_fallback_frames"):
        print(f"salcodec: note: {result.weights['uniform_fallback_frames']} frames had no "
              "weight in the map; uniform weights used there", file=sys.stderr)

    text = result.to_json() + "\n" if args.format == "json" else result.to_csv(args.csv_layout)
    if out is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        from ..io.safeio import atomic_output

        with atomic_output(out) as tmp:
            tmp.write_text(text, encoding="utf-8")
    return 0
