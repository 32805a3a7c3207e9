"""Grid search over the ``default`` saliency model's weights on a fixation set.

Reproduces the searches of docs/saliency.md ("How `default` was chosen"),
scored by the same code as ``salcodec eval-saliency`` (full-resolution ground
truth), every combination of the grids on every image, sorted by NSS::

    .venv/bin/python -m benchmarks.tune_default ../shared/data/fixations/mit1003-100 \\
        --grid face_weight=0.5,0.8,1,1.3 --grid face_sigma=0.4,0.6 \\
        --grid face_score=0.6,0.7 [--limit N] [--json]

Names are :class:`salcodec.saliency.fusion.DefaultModel`'s parameters.
Each image is decoded once and every combination scored on it; a grid of
16 takes about 10 minutes on mit1003-100 on one core.
"""

from __future__ import annotations

import argparse
import inspect
import itertools
import json
import sys
from pathlib import Path

from salcodec.saliency.datasets import evaluate
from salcodec.saliency.fusion import DefaultModel

METRICS = ("auc_judd", "nss", "cc", "sim", "kl")


def parse_grid(items: list[str]) -> dict[str, list]:
    """``["name=v1,v2", ...]`` -> {name: [values]}, typed like DefaultModel's defaults."""
    params = inspect.signature(DefaultModel).parameters
    grid: dict[str, list] = {}
    for item in items:
        name, sep, values = item.partition("=")
        if not sep or name not in params or name == "self":
            choices = ", ".join(p for p in params if p != "self")
            raise SystemExit(f"--grid {item!r}: expected NAME=V1,V2,... with NAME one of {choices}")
        kind = type(params[name].default)
        try:
            grid[name] = [kind(float(v)) if kind is int else kind(v) for v in values.split(",")]
        except ValueError:
            raise SystemExit(f"--grid {item!r}: values must be numbers") from None
    return grid


def search(dataset: Path, grid: dict[str, list], limit: int | None = None) -> list[dict]:
    """Mean metrics of every combination of ``grid``, best NSS first."""
    combos = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    labels = [" ".join(f"{k}={v}" for k, v in combo.items()) or "defaults" for combo in combos]
    factories = {
        label: (lambda combo=combo: DefaultModel(**combo))
        for label, combo in zip(labels, combos, strict=True)
    }
    rows = evaluate(dataset, factories, limit=limit)
    out = [{"params": combo, **{m: rows[label][m] for m in METRICS}, "n": rows[label]["n"]}
           for label, combo in zip(labels, combos, strict=True)]
    return sorted(out, key=lambda r: -r["nss"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", type=Path, help="fixation dataset folder")
    parser.add_argument("--grid", action="append", default=[], metavar="NAME=V1,V2",
                        help="a DefaultModel parameter and its values (repeatable)")
    parser.add_argument("--limit", type=int, default=None, help="first N images only")
    parser.add_argument("--json", action="store_true", help="JSON on stdout")
    args = parser.parse_args(argv)
    results = search(args.dataset, parse_grid(args.grid), args.limit)
    if args.json:
        json.dump({"dataset": str(args.dataset), "results": results}, sys.stdout, indent=2)
        print()
        return 0
    print(f"{args.dataset} ({results[0]['n']} images), best NSS first\n")
    print("| parameters | AUC-Judd | NSS | CC | SIM | KL |\n|---|---:|---:|---:|---:|---:|")
    for r in results:
        params = " ".join(f"{k}={v}" for k, v in r["params"].items()) or "defaults"
        print(f"| {params} | " + " | ".join(f"{r[m]:.3f}" for m in METRICS) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
