"""What a report needs to be reproduced: the command line and the library versions."""

from __future__ import annotations

import platform
import re
import shlex
import sys
from importlib import metadata
from pathlib import Path


def command_line(argv: list[str] | None = None) -> str | None:
    """The ``salcodec ...`` command as typed (shell-quoted), or None when not run as salcodec.

    ``argv`` defaults to ``sys.argv``, used only when its program is salcodec
    (the console script or ``python -m salcodec``), not e.g. pytest.
    """
    if argv is None:
        prog = Path(sys.argv[0]).name if sys.argv else ""
        if prog not in ("salcodec", "__main__.py"):
            return None
        argv = sys.argv[1:]
    return shlex.join(["salcodec", *argv])


def compare_command(input, out, crfs, strengths, settings, eval_weights: str,
                    metrics: list[str], sample: int | None, html: bool) -> str:
    """A ``salcodec compare`` command with every setting spelled out (reproduces the run)."""
    args = ["compare", str(input), "--out", str(out), "--crf", ",".join(f"{c:g}" for c in crfs),
            "--strengths", ",".join(f"{s:g}" for s in strengths),
            "--eval-weights", eval_weights, "--metrics", ",".join(metrics),
            "--preset", settings.preset, "--model", settings.model,
            "--clamp", f"{settings.clamp:g}", "--smoothing", f"{settings.smoothing:g}",
            "--bias", f"{settings.bias:g}", "--budget", settings.budget]
    if settings.codec != "libx264" or settings.pix_fmt != "yuv420p":
        args += ["--codec", settings.codec, "--pix-fmt", settings.pix_fmt]
    if settings.params:
        args += ["--params", settings.params]
    if sample:
        args += ["--sample", str(sample)]
    if html:
        args.append("--html")
    return shlex.join(["salcodec", *args])


def x264_build(path) -> str | None:
    """libx264's version string from the SEI of an H.264 file's first packet, if present."""
    import av

    try:
        with av.open(str(path)) as c:
            for packet in c.demux(c.streams.video[0]):
                m = re.search(rb"x264 - core \d+[^-]*", bytes(packet))
                return m.group(0).decode("ascii", "replace").strip() if m else None
    except (av.error.FFmpegError, OSError):
        return None
    return None


def versions() -> dict:
    """Versions of salcodec, Python, PyAV and the FFmpeg libraries inside it, and friends."""
    import av

    out = {"salcodec": _version("salcodec"), "python": platform.python_version(),
           "platform": platform.platform(), "av": av.__version__}
    for lib, v in av.library_versions.items():
        out[lib] = ".".join(str(x) for x in v)
    for pkg in ("numpy", "numba", "scikit-image"):
        out[pkg] = _version(pkg)
    import cv2

    out["opencv"] = cv2.__version__
    return out


def _version(pkg: str) -> str | None:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return None
