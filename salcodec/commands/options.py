"""Options every verb spells the same way: ``-y/-n`` for outputs, ``--progress``."""

from __future__ import annotations

import argparse
import sys


def add_overwrite(p: argparse.ArgumentParser, what: str = "OUTPUT") -> None:
    """``-y`` (overwrite ``what``) and ``-n`` (never overwrite, the default), exclusive."""
    group = p.add_mutually_exclusive_group()
    group.add_argument("-y", dest="overwrite", action="store_true", help=f"overwrite {what}")
    group.add_argument("-n", dest="overwrite", action="store_false",
                       help=f"never overwrite {what} (default)")


def add_progress(p: argparse.ArgumentParser) -> None:
    """``--progress/--no-progress``: progress on stderr; default only on a terminal."""
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress on stderr (default: when stderr is a terminal)")


def show_progress(args: argparse.Namespace) -> bool:
    """Whether this run shows progress: ``--progress``/``--no-progress``, else a terminal."""
    flag = getattr(args, "progress", None)
    return sys.stderr.isatty() if flag is None else bool(flag)


def progress_log(args: argparse.Namespace):
    """A printer of progress lines to stderr, or None when progress is off."""
    if not show_progress(args):
        return None
    return lambda line: print(line, file=sys.stderr, flush=True)


class _Formatter(argparse.HelpFormatter):
    """argparse's formatter, but the examples epilog keeps its lines as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("examples:"):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def add_examples(p: argparse.ArgumentParser, *lines: str) -> None:
    """Close ``--help`` with commands to paste, one per line (``# comment`` allowed)."""
    p.formatter_class = _Formatter
    p.epilog = "examples:\n" + "\n".join(f"  {line}" for line in lines)
