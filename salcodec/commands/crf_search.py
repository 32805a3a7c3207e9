"""``salcodec crf-search INPUT --target METRIC=VALUE``: cheapest settings for a quality."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .compare import floats
from .encode import add_drop_options, add_encode_options, settings_from_args
from .options import add_examples, add_overwrite, add_progress, progress_log


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("crf-search", help="find CRF and strength reaching a quality target",
                       description="On a lossless sample of INPUT (a few short windows, or "
                       "the whole of a short video), find for the plain encoder (--codec) and "
                       "the saliency strength the largest CRF whose mean METRIC reaches VALUE, "
                       "interpolating between one to four sample encodes; predict the full "
                       "encode's size, and what the short windows cost in quality, from a "
                       "quarter-size tiled encode of the whole video; print the cheapest as a "
                       "salcodec encode command. Takes about two full encodes' time.")
    p.add_argument("input", help="video to search on (a file: it is read more than once)")
    p.add_argument("--target", required=True, metavar="METRIC=VALUE",
                   help="e.g. xpsnr=38, ssim=0.97, psnr=38, wpsnr=40 or wxpsnr=38 (with "
                   "--weights); vmaf is not available here")
    p.add_argument("--strengths", type=floats, default=None,
                   help="candidate strengths, 0 = the plain encoder (default: 0 and --strength)")
    p.add_argument("--weights", default=None, metavar="SPEC",
                   help="weights for a wpsnr/wssim/wxpsnr target (model:NAME, density:PATH, ...)")
    p.add_argument("--min-crf", type=float, default=10,
                   help="lowest CRF the search may choose (default: %(default)g)")
    p.add_argument("--max-crf", type=float, default=45,
                   help="highest CRF the search may choose (default: %(default)g)")
    p.add_argument("--crf", type=float, default=23, help="CRF of the first trial (23)")
    p.add_argument("--samples", type=int, default=None,
                   help="sample windows (default: one per 5 s of video, 3 to 10; a video "
                        "of at most 35 million pixels in all, e.g. 110 frames of 640x480, "
                        "is its own sample)")
    p.add_argument("--sample-seconds", type=float, default=None, metavar="S",
                   help="window length (default: up to 1 s, a quarter of the video in all)")
    p.add_argument("--max-trials", type=int, default=4, help="sample encodes per strength (4)")
    p.add_argument("--encode", metavar="OUTPUT", help="encode INPUT with the best settings and "
                   "check the target on the real encode")
    add_overwrite(p)
    add_progress(p)
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    add_encode_options(p, crf=False)
    add_drop_options(p, " of the --encode output")
    add_examples(
        p,
        'salcodec crf-search in.mp4 --target ssim=0.97',
        'salcodec crf-search in.mp4 --target xpsnr=38 --encode out.mp4',
        'salcodec crf-search in.mp4 --target psnr=40 --json',
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..crfsearch import crf_search, encode_command, parse_target

    parse_target(args.target)  # a bad or vmaf target fails before any work
    settings = settings_from_args(args).with_(crf=args.crf)
    if args.encode:  # refused before the search, not after it
        from ..io.safeio import check_output_path

        check_output_path(args.encode, [Path(args.input)], args.overwrite)
    log = progress_log(args)
    result = crf_search(args.input, args.target, strengths=args.strengths, settings=settings,
                        weights=args.weights, crf_range=(args.min_crf, args.max_crf),
                        samples=args.samples, sample_seconds=args.sample_seconds,
                        max_trials=args.max_trials, log=log)
    best = result["best"]
    if args.encode and best is not None:
        result["encoded"] = _encode_and_check(args, result)
        result["command"] = encode_command(args.input, args.encode,
                                           settings.__class__(**best["settings"]), args.drop)
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print(result)
    if args.encode and best is None:
        from ..errors import SalcodecError

        raise SalcodecError(f"{args.input}: no candidate reached {args.target}; nothing encoded")
    return 0 if best else 1


def _encode_and_check(args: argparse.Namespace, result: dict) -> dict:
    """Encode with the best settings, then measure the target on the real encode."""
    import time

    from ..bitstream import video_payload_bytes
    from ..quality import measure
    from ..settings import EncodeSettings
    from ..transcode import encode

    best = result["best"]
    t0 = time.perf_counter()
    r = encode(args.input, args.encode, EncodeSettings(**best["settings"]),
               overwrite=args.overwrite, progress=args.progress, drop=args.drop)
    seconds = time.perf_counter() - t0
    metric, value = result["target"]["metric"], result["target"]["value"]
    q = measure(args.input, args.encode, [metric], args.weights).summary[metric]["mean"]
    real = video_payload_bytes(args.encode)
    return {**r.as_dict(), "encode_seconds": round(seconds, 2), "video_bytes": real,
            "size_error": real / best["predicted_bytes"] - 1, "quality": q,
            "target_met": q >= value}


def _print(result: dict) -> None:
    from ..compare import PLAIN_ARM

    t = result["target"]
    m = t["metric"]
    plain = f"plain {PLAIN_ARM.get(result['settings'].get('codec'), 'x264')}"
    for c in result["candidates"]:
        name = plain if c["strength"] == 0 else f"strength {c['strength']:g}"
        status = "reaches" if c["reached"] else "does NOT reach"
        print(f"{name}: CRF {c['crf']:g} {status} {m} {t['value']:g} (predicted {m} "
              f"{c['quality']:.4f}, {c['predicted_bytes']:,} bytes; {len(c['trials'])} "
              f"sample encode{'s' if len(c['trials']) != 1 else ''})")
    best = result["best"]
    smp = result["sample"]
    print(f"searched in {result['seconds']:.1f} s: {result['sample_encodes']} encodes of a "
          f"{smp['frames']}-frame sample ({smp['fraction_of_video']:.0%} of the video)")
    if not best:
        print(f"no candidate reached {m} >= {t['value']:g} within the CRF range")
        return
    saving = result["saving_vs_baseline"]
    extra = (f", {saving:.1%} fewer bytes than {plain}" if saving is not None
             and best["strength"] != 0 else "")
    name = plain if best["strength"] == 0 else f"strength {best['strength']:g}"
    print(f"best: {name}, CRF {best['crf']:g}: predicted {best['predicted_bytes']:,} bytes{extra}")
    print(f"command: {result['command']}")
    enc = result.get("encoded")
    if enc:
        verdict = ("target met" if enc["target_met"] else
                   f"target MISSED by {t['value'] - enc['quality']:.4g}")
        print(f"wrote {enc['output']}: {enc['video_bytes']:,} video bytes ({enc['size_error']:+.1%}"
              f" vs predicted), {m} {enc['quality']:.4f} on the real encode: {verdict}")
