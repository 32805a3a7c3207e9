"""``salcodec inspect FILE``: per-macroblock QP statistics read back from H.264 or VP9."""

from __future__ import annotations

import argparse
import json
import sys

from .options import add_examples, add_overwrite, add_progress, show_progress


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inspect", help="per-macroblock QP statistics of an H.264 or VP9 file",
                       description="Decode FILE with export_side_data=venc_params and report "
                       "the QP the encoder really used, per frame type (VP9: its q index "
                       "0..255). HEVC is refused: FFmpeg's HEVC decoder exports no QP.")
    p.add_argument("file", help="H.264 or VP9 video whose realised QP to read")
    p.add_argument("--json", action="store_true", help="print JSON on stdout")
    p.add_argument("--png", metavar="PATH", help="write a QP heat map of one frame, with its "
                   "colour bar and the frame type in the title")
    p.add_argument("--frame", type=int, default=0, help="frame for --png (default 0)")
    add_overwrite(p, "PATH")
    add_progress(p)
    add_examples(
        p,
        'salcodec inspect out.mp4',
        'salcodec inspect out.mp4 --png qp.png --frame 10 --json',
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import SalcodecError
    from ..qpinspect import qp_statistics

    if args.png:
        from ..io.safeio import check_file_output

        check_file_output(args.png, [args.file], args.overwrite)
    from ..progress import Progress

    bar = Progress(label="inspect", enabled=show_progress(args))
    try:
        stats, qp = qp_statistics(args.file, keep_frame=args.frame if args.png else None,
                                  progress=bar.update)
    finally:
        bar.close()
    if args.png:
        from pathlib import Path

        from ..report.figures import plot_qp

        if qp is None:
            raise SalcodecError(f"{args.file}: no frame {args.frame} (has {stats['frames']})")
        kept = stats["kept"]
        title = (f"{Path(args.file).name}: frame {args.frame} ({kept['type']}-frame), "
                 f"mean QP {kept['mean_qp']:.1f}")
        try:
            plot_qp(qp, title, args.png)  # written atomically
        except OSError as exc:
            raise SalcodecError(f"{args.png}: cannot write PNG ({exc.strerror or exc})") from None
        stats["png"] = args.png
    if args.json:
        json.dump(stats, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(f"{stats['file']}: {stats['frames']} frames, mean QP {stats['mean_qp']:.2f} "
              f"(range {stats['min_qp']}..{stats['max_qp']}, "
              f"mean in-frame std {stats['mean_std_qp']:.2f}); unit: {stats['unit']}")
        for t, s in stats["by_type"].items():
            print(f"  {t}: {s['frames']} frames, mean QP {s['mean_qp']:.2f}")
    return 0
