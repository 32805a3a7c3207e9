"""``salcodec eval-saliency DATASET [--model M] [--json]``: score models on fixations.

Prints the mean AUC-Judd, NSS, CC, SIM and KL of each model over a fixation
dataset (layout: see :mod:`salcodec.saliency.datasets`), with the centre-bias
baseline always beside it. On a gaze video (``clip.mkv`` + ``gaze.csv``) or
a folder of them, prints per clip the mean per-frame AUC-Judd, NSS and CC
(:mod:`salcodec.saliency.videogaze`), and ``--per-frame CSV`` writes every
frame's scores. Progress goes to stderr; ``--json`` prints the table as
JSON on stdout instead of text.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
from pathlib import Path

from ..errors import SalcodecError
from ..saliency import available_models, get_model
from ..saliency.datasets import HUMAN_ROWS, VIDEO_HUMAN_ROW, dataset_layout, evaluate
from ..saliency.videogaze import VIDEO_METRICS
from .options import add_examples, add_overwrite, add_progress, progress_log

COLUMNS = ("auc_judd", "nss", "cc", "sim", "kl")
HEADERS = ("AUC-Judd", "NSS", "CC", "SIM", "KL")
VIDEO_HEADERS = ("AUC-Judd", "NSS", "CC")
#: Columns of ``--per-frame`` CSV.
PER_FRAME_COLUMNS = ("clip", "model", "frame", "fixations", *VIDEO_METRICS)


def markdown_table(title: str, headers, rows: dict[str, dict], columns, timing=None) -> list[str]:
    """Lines of a titled markdown table: one row per model, metrics to 3 decimals.

    ``timing`` is ``(header, row -> cell text)`` for an extra last column.
    """
    extra = [timing[0]] if timing else []
    lines = [title, "", "| model | " + " | ".join([*headers, *extra]) + " |",
             "|---|" + "---:|" * (len(headers) + len(extra))]
    for name, r in rows.items():
        cells = [f"{r[c]:.3f}" for c in columns] + ([timing[1](name, r)] if timing else [])
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def format_table(dataset: str, rows: dict[str, dict[str, float]]) -> str:
    """Markdown table of mean metrics, one row per model."""
    n = next(iter(rows.values()))["n"]

    def ms(name, r):
        return f"{1000 * r['seconds'] / max(n, 1):.1f}" if name not in HUMAN_ROWS else ""

    return "\n".join(markdown_table(f"{dataset} ({n} images)", HEADERS, rows, COLUMNS,
                                    ("ms/image", ms)))


def format_video_tables(dataset: str, clips: dict[str, dict]) -> str:
    """Markdown tables of a gaze-video evaluation: one per clip, then the mean over clips."""
    out = []
    for clip, result in clips.items():
        rows = result["models"]
        first = next(iter(rows.values()))
        decoded = first["frames"] + first["skipped"]
        w, h = result["size"]

        def ms(_name, r, decoded=decoded):
            return f"{1000 * r['seconds'] / max(decoded, 1):.1f}" if "seconds" in r else ""

        title = (f"{dataset}: {clip} ({w}x{h}, {first['frames']} frames scored, "
                 f"{first['skipped']} without gaze)")
        out += markdown_table(title, VIDEO_HEADERS, rows, VIDEO_METRICS, ("ms/frame", ms))
        out.append("")
    if len(clips) > 1:
        title = f"{dataset}: mean over {len(clips)} clips (each clip weighs the same)"
        out += markdown_table(title, VIDEO_HEADERS, mean_over_clips(clips), VIDEO_METRICS)
    return "\n".join(out).rstrip()


def mean_over_clips(clips: dict[str, dict]) -> dict[str, dict[str, float]]:
    """Per model, the mean of the clips' per-clip means (clips with no scored frame skipped)."""
    names = list(next(iter(clips.values()))["models"])
    mean = {}
    for name in names:
        per = [c["models"][name] for c in clips.values() if c["models"][name]["frames"]]
        mean[name] = {m: (sum(r[m] for r in per) / len(per) if per else math.nan)
                      for m in VIDEO_METRICS}
        mean[name]["clips"] = len(per)
    return mean


def per_frame_csv(clips: dict[str, dict]) -> str:
    """Every scored frame of every clip and model as CSV (``PER_FRAME_COLUMNS``)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(PER_FRAME_COLUMNS)
    for clip, result in clips.items():
        for model, r in result["models"].items():
            for f in r["per_frame"]:
                writer.writerow([clip, model, f["frame"], f["fixations"],
                                 *(f"{f[m]:.6f}" for m in VIDEO_METRICS)])
    return buf.getvalue()


def _model_names(items: list[str] | None) -> list[str]:
    names = []
    for item in items or ["default"]:
        for name in item.split(","):
            name = name.strip()
            if name == "all":
                names.extend(available_models())
            elif name:
                if name not in available_models():
                    raise SalcodecError(
                        f"unknown model {name!r}; choose from "
                        f"{', '.join(available_models())}, all"
                    )
                names.append(name)
    if "centre" not in names:
        names.append("centre")  # the baseline every model must beat
    return list(dict.fromkeys(names))


def _finite(obj):
    """``obj`` with NaN (a clip without any scored frame) as null: strict JSON."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _run_videos(args: argparse.Namespace, factories: dict, progress) -> int:
    from ..saliency.datasets import evaluate_videos

    per_frame = Path(args.per_frame) if args.per_frame else None
    if per_frame is not None:
        from ..io.safeio import check_file_output

        check_file_output(per_frame, [], args.overwrite)
    clips = evaluate_videos(Path(args.dataset), factories, limit=args.limit,
                            progress=progress, human=args.human)
    if per_frame is not None:
        from ..io.safeio import atomic_output

        with atomic_output(per_frame) as tmp:
            tmp.write_text(per_frame_csv(clips), encoding="utf-8")
    if args.json:
        doc = {
            "dataset": str(args.dataset),
            "layout": "gaze-video",
            "clips": {
                clip: {"size": c["size"],
                       "models": {name: {k: v for k, v in r.items() if k != "per_frame"}
                                  for name, r in c["models"].items()}}
                for clip, c in clips.items()
            },
            "mean_over_clips": mean_over_clips(clips),
        }
        json.dump(_finite(doc), sys.stdout, indent=2)
        print()
    else:
        print(format_video_tables(str(args.dataset), clips))
    return 0


def run(args: argparse.Namespace) -> int:
    names = _model_names(args.model)
    if args.limit is not None and args.limit < 1:
        raise SalcodecError(f"--limit must be >= 1, got {args.limit}")
    factories = {name: (lambda name=name: get_model(name)) for name in names}
    if args.quiet:
        args.progress = False
    progress = progress_log(args)
    if dataset_layout(args.dataset) == "gaze-video":
        return _run_videos(args, factories, progress)
    if args.per_frame:
        raise SalcodecError(f"{args.dataset}: --per-frame needs a gaze-video dataset "
                            "(clip.mkv + gaze.csv)")
    rows = evaluate(
        Path(args.dataset), factories, limit=args.limit, progress=progress, human=args.human
    )
    if args.json:
        json.dump({"dataset": str(args.dataset), "models": rows}, sys.stdout, indent=2)
        print()
    else:
        print(format_table(str(args.dataset), rows))
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "eval-saliency",
        help="score saliency models against human fixations",
        description="Mean AUC-Judd, NSS, CC, SIM and KL (lower is better) of saliency "
        "models over a fixation dataset (stimuli/ with fixation_points/ and/or maps/), "
        "with the centre-bias baseline alongside. On a gaze video (clip.mkv + gaze.csv) "
        "or a folder of them: per-clip means of per-frame AUC-Judd, NSS and CC.",
    )
    p.add_argument("dataset", help="dataset folder, e.g. ../shared/data/fixations/etto or "
                   "../shared/data/gaze-video")
    p.add_argument("--model", action="append", metavar="M",
                   help="model name, comma-separated names, or 'all' (repeatable; "
                   "default: default)")
    p.add_argument("--limit", type=int, default=None,
                   help="use only the first N images (of a gaze video: frames per clip)")
    p.add_argument("--json", action="store_true", help="print JSON on stdout")
    p.add_argument("--quiet", action="store_true", help="no per-image progress (same as "
                   "--no-progress)")
    add_progress(p)
    p.add_argument("--human", action="store_true",
                   help="add the human density map scored against its own fixations, "
                   "sharp and blurred to model-like smoothness (how far any map could go); "
                   f"on gaze video one row, {VIDEO_HUMAN_ROW!r}")
    p.add_argument("--per-frame", metavar="CSV",
                   help="gaze video: write every frame's scores here (columns "
                   f"{','.join(PER_FRAME_COLUMNS)})")
    add_overwrite(p, "CSV")
    add_examples(
        p,
        'salcodec eval-saliency fixations/mit1003-100 --model default,centre',
        'salcodec eval-saliency gaze-video/ --model default,gaze --per-frame frames.csv',
    )
    p.set_defaults(func=run)
