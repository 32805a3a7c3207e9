"""Helpers that make test inputs from the real fixture clips (never synthetic noise)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from salcodec.data import DEFAULT_CLIP

DATA = Path(__file__).parent / "data"
CARPHONE = DEFAULT_CLIP


def frames(path: Path, limit: int | None = None):
    with av.open(str(path)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if limit is not None and i >= limit:
                break
            yield f


def write_clip(path: Path, src: Path, *, codec="libx264", pix_fmt="yuv420p", size=None,
               pts=None, time_base=Fraction(1, 1000), limit=30, options=None) -> list[int]:
    """Re-encode the first ``limit`` frames of ``src``, optionally resized or re-timed."""
    with av.open(str(path), "w") as out:
        s = out.add_stream(codec, rate=30)
        first = None
        written = []
        for i, f in enumerate(frames(src, limit)):
            if first is None:
                first = f
                s.width, s.height = size or (f.width, f.height)
                s.pix_fmt = pix_fmt
                s.time_base = time_base
                s.codec_context.time_base = time_base
                if options:
                    s.options = options
            g = f.reformat(width=s.width, height=s.height, format=pix_fmt)
            g.pts = pts[i] if pts is not None else i * int(1 / (30 * time_base))
            g.time_base = time_base
            written.append(g.pts)
            out.mux(s.encode(g))
        out.mux(s.encode(None))
    return written


def video_pts_seconds(path: Path) -> list[float]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return sorted(float(p.pts * s.time_base) for p in c.demux(s) if p.size)


def audio_payloads(path: Path) -> list[bytes]:
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(audio=0) if p.size]


def rgb_gradient(h: int, w: int) -> np.ndarray:
    return np.broadcast_to(np.linspace(0, 1, w, dtype=np.float32), (h, w)).copy()


def clip(name: str) -> Path:
    """A fixture clip by name: tests/data, or the embedded demo clip in salcodec/data."""
    for folder in (DATA, DEFAULT_CLIP.parent):
        if (folder / name).exists():
            return folder / name
    raise FileNotFoundError(name)
