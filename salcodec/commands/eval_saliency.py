"""``salcodec eval-saliency DATASET [--model M] [--json]``: score models on fixations.

Prints the mean AUC-Judd, NSS, CC, SIM and KL of each model over a fixation
dataset (layout: see :mod:`salcodec.saliency.datasets`), with the centre-bias
baseline always beside it. Progress goes to stderr; ``--json`` prints the
table as JSON on stdout instead of text.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import SalcodecError
from ..saliency import available_models, get_model
from ..saliency.datasets import HUMAN_ROWS, evaluate

COLUMNS = ("auc_judd", "nss", "cc", "sim", "kl")
HEADERS = ("AUC-Judd", "NSS", "CC", "SIM", "KL")


def format_table(dataset: str, rows: dict[str, dict[str, float]]) -> str:
    """Markdown table of mean metrics, one row per model."""
    n = next(iter(rows.values()))["n"]
    lines = [
        f"{dataset} ({n} images)",
        "",
        "| model | " + " | ".join(HEADERS) + " | ms/image |",
        "|---|" + "---:|" * (len(HEADERS) + 1),
    ]
    for name, r in rows.items():
        cells = " | ".join(f"{r[c]:.3f}" for c in COLUMNS)
        ms = f"{1000 * r['seconds'] / max(n, 1):.1f}" if name not in HUMAN_ROWS else ""
        lines.append(f"| {name} | {cells} | {ms} |")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    names = []
    for item in args.model or ["default"]:
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
    if args.limit is not None and args.limit < 1:
        raise SalcodecError(f"--limit must be >= 1, got {args.limit}")
    if "centre" not in names:
        names.append("centre")  # the baseline every model must beat
    names = list(dict.fromkeys(names))
    factories = {name: (lambda name=name: get_model(name)) for name in names}
    progress = None if args.quiet else (lambda line: print(line, file=sys.stderr))
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
        "with the centre-bias baseline alongside.",
    )
    p.add_argument("dataset", help="dataset folder, e.g. ../shared/data/fixations/etto")
    p.add_argument("--model", action="append", metavar="M",
                   help="model name, comma-separated names, or 'all' (repeatable; "
                   "default: default)")
    p.add_argument("--limit", type=int, default=None, help="use only the first N images")
    p.add_argument("--json", action="store_true", help="print JSON on stdout")
    p.add_argument("--quiet", action="store_true", help="no per-image progress")
    p.add_argument("--human", action="store_true",
                   help="add the human density map scored against its own fixations, "
                   "sharp and blurred to model-like smoothness (how far any map could go)")
    p.set_defaults(func=run)
