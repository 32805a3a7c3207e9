"""Same input, same bytes: encode clips several times per preset and container (issue 10).

Clips are made from the fixtures (carphone at 64x48, 99x75, 16x16 and
176x144, ``asl_again.mkv``, ``bbb_audio.mp4`` with its audio) or drawn
(``p10``: 10-bit 320x240 ramps, see :func:`pattern_clip`); each
configuration is encoded ``--runs`` times with ``salcodec.encode`` (the
saliency worker beside the encoder) or, with ``--cli``, as fresh
``python -m salcodec encode`` processes. Prints one line per configuration
and exits 1 if any gave more than one hash::

    .venv/bin/python -m benchmarks.determinism --runs 3
    .venv/bin/python -m benchmarks.determinism --runs 5 --cli --clips c64 --presets medium
    .venv/bin/python -m benchmarks.determinism --runs 7 --cli --heap-shapes --clips p10 \
        --presets veryfast --containers mkv [--x264-params asm=auto]

``--heap-shapes`` makes each CLI process allocate a different random set of
buffers before it starts, as a batch's earlier files do: on a CPU with
AVX-512, libx264's AVX-512 code with ROI offsets gave different bitstreams
then (``asm=auto`` brings that code back; benchmarks/RESULTS.md, Determinism).
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


def pattern_clip(path: Path, width: int = 320, height: int = 240, frames: int = 40) -> Path:
    """Moving colour ramps and a moving white square, 10-bit H.264: the clip on which
    libx264's AVX-512 code with ROI offsets gave different bitstreams (``p10``)."""
    import av
    import numpy as np

    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = width, height, "yuv420p10le"
        y, x = np.mgrid[0:height, 0:width]
        side = min(width, height) // 4
        for i in range(frames):
            img = np.stack([(x * 3 + i * 5) % 256, (y * 2 + i * 3) % 256,
                            (x + y + i * 7) % 256], -1).astype(np.uint8)
            ox, oy = (i * 3) % (width - side), (i * 2) % (height - side)
            img[oy:oy + side, ox:ox + side] = 255
            f = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p10le")
            f.pts = i
            c.mux(v.encode(f))
        c.mux(v.encode(None))
    return path


def make_clips(folder: Path, names: list[str]) -> dict[str, Path]:
    out = {}
    for name in names:
        if name in CLIPS:
            out[name] = _encode_seed(folder / f"{name}.mp4", CARPHONE, **CLIPS[name])
        elif name == "p10":
            out[name] = pattern_clip(folder / "p10.mkv")
        else:
            out[name] = {"asl": FIXTURES / "asl_again.mkv", "bbb": FIXTURES / "bbb_audio.mp4"}[name]
    return out


#: A salcodec CLI process whose heap is shaped first (``python -c CODE ARGS...``).
HEAP_SHAPED = ("import random, sys; random.seed({seed}); "
               "junk = [bytearray(random.randint(1000, 400000)) for _ in range(40)]; "
               "del junk[::3]; from salcodec.cli import main; sys.exit(main(sys.argv[1:]))")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.determinism")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--cli", action="store_true", help="fresh CLI processes (mkv output)")
    ap.add_argument("--clips", default="c64,c99,c16,c176,asl,bbb")
    ap.add_argument("--presets", default=",".join(PRESETS))
    ap.add_argument("--containers", default=",".join(CONTAINERS))
    ap.add_argument("--heap-shapes", action="store_true",
                    help="with --cli: each process first allocates a different random set of "
                         "buffers (seeded by the run number)")
    ap.add_argument("--x264-params", default=None, help="passed to every encode")
    a = ap.parse_args(argv)
    if a.heap_shapes and not a.cli:
        ap.error("--heap-shapes needs --cli")
    extra = ["--x264-params", a.x264_params] if a.x264_params else []
    import salcodec

    warnings.simplefilter("ignore")
    differing = total = 0
    with tempfile.TemporaryDirectory(prefix="salcodec-det-") as tmp:
        folder = Path(tmp)
        clips = make_clips(folder, a.clips.split(","))
        for (name, src), preset, ext in itertools.product(
                clips.items(), a.presets.split(","), a.containers.split(",")):
            hashes = []
            for run in range(a.runs):
                out = folder / f"out.{ext}"
                if a.cli:
                    args = ["encode", str(src), str(out), "-y", "--preset", preset, *extra]
                    start = (["-c", HEAP_SHAPED.format(seed=run), *args] if a.heap_shapes
                             else ["-m", "salcodec", *args])
                    subprocess.run([sys.executable, *start], check=True, capture_output=True)
                else:
                    salcodec.encode(src, out, overwrite=True, preset=preset,
                                    x264_params=a.x264_params)
                hashes.append(digest(out))
            total += 1
            differing += len(set(hashes)) > 1
            print(f"{name} {preset} {ext}: {' '.join(hashes)}"
                  f"{'  DIFFERS' if len(set(hashes)) > 1 else ''}", flush=True)
    print(f"{total} configurations, {a.runs} runs each: {differing} gave more than one hash")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
