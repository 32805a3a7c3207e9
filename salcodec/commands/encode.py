"""``salcodec encode INPUT OUTPUT``: saliency-guided transcode to H.264."""

from __future__ import annotations

import argparse
import json
import sys

from ..qpmap import DEFAULT_CLAMP, DEFAULT_STRENGTH
from ..saliency import DEFAULT_MODEL, available_models


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("encode", help="transcode a video with saliency-guided QP offsets",
                       description="Transcode INPUT to H.264 (libx264) in OUTPUT, spending "
                       "bits where viewers look. Audio and other streams are copied.")
    p.add_argument("input")
    p.add_argument("output", help="output file: .mp4, .mov, .m4v or .mkv")
    add_encode_options(p)
    ow = p.add_mutually_exclusive_group()
    ow.add_argument("-y", dest="overwrite", action="store_true", help="overwrite OUTPUT")
    ow.add_argument("-n", dest="overwrite", action="store_false",
                    help="never overwrite OUTPUT (default)")
    p.add_argument("--budget", choices=["crf", "match"], default="crf",
                   help="crf: offsets as mapped; match: calibrate a QP bias on samples so the "
                   "size matches plain x264 at the same CRF")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress on stderr (default: when stderr is a terminal)")
    p.set_defaults(func=run)


def add_encode_options(p: argparse.ArgumentParser, crf: bool = True) -> None:
    """Options shared by every verb that encodes (encode, compare, crf-search)."""
    if crf:
        p.add_argument("--crf", type=float, default=23, help="x264 constant rate factor (23)")
    p.add_argument("--preset", default="medium", help="x264 preset (medium)")
    p.add_argument("--x264-params", default=None, metavar="K=V:...",
                   help="extra x264 parameters, x264 syntax")
    p.add_argument("--model", default="default",
                   choices=["default", *available_models()],
                   help=f"saliency model (default: {DEFAULT_MODEL})")
    p.add_argument("--strength", type=float, default=DEFAULT_STRENGTH,
                   help=f"QP offset per standard deviation of saliency ({DEFAULT_STRENGTH:g})")
    p.add_argument("--clamp", type=float, default=DEFAULT_CLAMP,
                   help=f"largest QP offset either way ({DEFAULT_CLAMP:g})")
    p.add_argument("--smoothing", type=float, default=0.6,
                   help="temporal smoothing of offsets, 0..1 exclusive (0.6)")
    p.add_argument("--bias", type=float, default=0.0,
                   help="QP added to every offset, then clamped (0)")
    p.add_argument("--no-saliency", dest="saliency", action="store_false",
                   help="plain libx264 with the same settings (baseline)")


def settings_from_args(args: argparse.Namespace):
    """EncodeSettings from the options added by :func:`add_encode_options`."""
    from ..settings import EncodeSettings

    crf = args.crf if isinstance(getattr(args, "crf", None), (int, float)) else 23
    return EncodeSettings(crf=crf, preset=args.preset, x264_params=args.x264_params,
                          saliency=args.saliency, model=args.model, strength=args.strength,
                          clamp=args.clamp, smoothing=args.smoothing, bias=args.bias)


def run(args: argparse.Namespace) -> int:
    from ..transcode import encode

    result = encode(args.input, args.output, settings_from_args(args), budget=args.budget,
                    overwrite=args.overwrite, progress=args.progress)
    if args.json:
        json.dump(result.as_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(f"{result.output}: {result.frames_out} frames, {result.bytes} bytes, "
              f"{result.seconds:.2f} s, mean |QP offset| {result.mean_abs_qp_offset:.2f}",
              file=sys.stderr)
    return 0
