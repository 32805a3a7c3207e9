"""Command line: ``salcodec VERB ...``; one module per verb under salcodec/commands.

Progress goes to stderr, machine output (``--json``) to stdout. A user mistake
(bad input, refused overwrite) prints one line ``salcodec: error: ...`` and
exits with status 1; Ctrl-C exits with 130 and leaves no partial output.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings

from .errors import SalcodecError, SalcodecWarning

#: Verb modules under salcodec.commands, each with ``register(subparsers)``
#: that adds its parser and sets ``func(args) -> int``.
COMMANDS = [
    "encode", "inspect", "demo", "saliency", "eval-saliency", "quality", "compare", "crf-search",
]


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="salcodec",
        description="Saliency-guided video compression (libx264, libx265, libvpx-vp9).",
    )
    parser.add_argument("--version", action="version", version=f"salcodec {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"salcodec.commands.{name.replace('-', '_')}").register(sub)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    if issubclass(category, SalcodecWarning):
        print(f"salcodec: warning: {message}", file=sys.stderr)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


_default_showwarning = warnings.showwarning


def main(argv: list[str] | None = None) -> int:
    warnings.showwarning = _show_warning
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SalcodecError as exc:
        print(f"salcodec: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("salcodec: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 141
    except OSError as exc:  # the environment, not a bug: disk full, permissions, I/O
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"salcodec: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
