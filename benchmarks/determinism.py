"""Same input, same bytes: encode clips several times per preset and container (issue 10).

Clips are made from the fixtures (carphone at 64x48, 99x75, 16x16 and
176x144, ``asl_again.mkv``, ``bbb_audio.mp4`` with its audio); each
configuration is encoded ``--runs`` times with ``salcodec.encode`` (the
saliency worker beside the encoder) or, with ``--cli``, as fresh
``python -m salcodec encode`` processes. Prints one line per configuration
and exits 1 if any gave more than one hash::

    .venv/bin/python -m benchmarks.determinism --runs 3
    .venv/bin/python -m benchmarks.determinism --runs 5 --cli --clips c64 --presets medium
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

from .fuzz import CARPHONE, FIXTURES, _encode_seed

CLIPS = {
    "c64": dict(size=(64, 48), frames=40),
    "c99": dict(size=(99, 75), pix_fmt="yuv444p", frames=40),
    "c16": dict(size=(16, 16), frames=20),
    "c176": dict(size=(176, 144), frames=60),
}
PRESETS = ["ultrafast", "veryfast", "medium", "slow"]
CONTAINERS = ["mp4", "mkv", "ts"]


def make_clips(folder: Path, names: list[str]) -> dict[str, Path]:
    out = {}
    for name in names:
        if name in CLIPS:
            out[name] = _encode_seed(folder / f"{name}.mp4", CARPHONE, **CLIPS[name])
        else:
            out[name] = {"asl": FIXTURES / "asl_again.mkv", "bbb": FIXTURES / "bbb_audio.mp4"}[name]
    return out


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.determinism")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--cli", action="store_true", help="fresh CLI processes (mkv output)")
    ap.add_argument("--clips", default="c64,c99,c16,c176,asl,bbb")
    ap.add_argument("--presets", default=",".join(PRESETS))
    ap.add_argument("--containers", default=",".join(CONTAINERS))
    a = ap.parse_args(argv)
    import salcodec

    warnings.simplefilter("ignore")
    differing = total = 0
    with tempfile.TemporaryDirectory(prefix="salcodec-det-") as tmp:
        folder = Path(tmp)
        clips = make_clips(folder, a.clips.split(","))
        for (name, src), preset, ext in itertools.product(
                clips.items(), a.presets.split(","), a.containers.split(",")):
            hashes = []
            for _ in range(a.runs):
                out = folder / f"out.{ext}"
                if a.cli:
                    subprocess.run([sys.executable, "-m", "salcodec", "encode", str(src), str(out),
                                    "-y", "--preset", preset], check=True, capture_output=True)
                else:
                    salcodec.encode(src, out, overwrite=True, preset=preset)
                hashes.append(digest(out))
            total += 1
            differing += len(set(hashes)) > 1
            print(f"{name} {preset} {ext}: {' '.join(hashes)}"
                  f"{'  DIFFERS' if len(set(hashes)) > 1 else ''}", flush=True)
    print(f"{total} configurations, {a.runs} runs each: {differing} gave more than one hash")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
