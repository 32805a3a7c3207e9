"""Where a video is cut into chunks: at its keyframes, from the packet index alone.

No frame is decoded to plan: the video stream's packets are demuxed once for
their timestamps and keyframe flags. Each chunk starts at a keyframe (encoders
put them at scene cuts, so chunk boundaries fall on cuts where the source has
them) near a multiple of ``chunk_seconds``, and owns the frames whose
presentation time lies in ``[start, end)``. A worker seeks to an earlier
keyframe (``seek``) and runs the saliency analysis, without encoding, on the
frames between it and ``start``: the warm-up (see :mod:`.worker`).
"""

from __future__ import annotations

import bisect
import hashlib
import json
import os
from dataclasses import asdict, dataclass
from fractions import Fraction

import av

from ..decode import open_input, video_stream
from ..errors import InputError

#: Default chunk length (seconds of video per task).
CHUNK_SECONDS = 10.0
#: Default warm-up before each chunk (seconds of video analysed, not encoded).
WARM_SECONDS = 2.0


@dataclass(frozen=True)
class Chunk:
    """One task: encode the frames with ``start <= pts < end`` (``end`` None: to the end).

    ``seek`` is the keyframe a worker decodes from (warm-up starts there);
    ``frames`` how many frames the index lists in the chunk.
    """

    index: int
    start: int
    end: int | None
    seek: int
    frames: int


@dataclass(frozen=True)
class ChunkPlan:
    """A video's chunks and what is needed to check the joined result."""

    input: str
    time_base: str
    frames: int
    chunks: tuple[Chunk, ...]

    def as_dict(self) -> dict:
        return {"input": self.input, "time_base": self.time_base, "frames": self.frames,
                "chunks": [asdict(c) for c in self.chunks]}

    def fingerprint(self, settings: dict, extra: dict | None = None) -> str:
        """Hash of the input file's identity, the plan and the settings (resume key)."""
        st = os.stat(self.input)
        blob = json.dumps({"plan": self.as_dict(), "size": st.st_size,
                           "mtime_ns": st.st_mtime_ns, "settings": settings,
                           "extra": extra or {}}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()


def plan_chunks(input: str | os.PathLike, chunk_seconds: float = CHUNK_SECONDS,
                warm_seconds: float = WARM_SECONDS) -> ChunkPlan:
    """Plan the chunks of a seekable video file from its packet index.

    Parameters
    ----------
    input : path
        A regular file (a pipe cannot be read again by workers).
    chunk_seconds : float
        Target chunk length; each boundary is the first keyframe at or after a
        multiple of it (counted from the previous boundary), so a chunk is at
        least this long unless the video ends.
    warm_seconds : float
        How far before its start a chunk's warm-up begins (at the keyframe at
        or before ``start - warm_seconds``; the video's start at most).
    """
    if not chunk_seconds > 0:
        raise InputError(f"--chunk-seconds must be > 0, got {chunk_seconds:g}")
    if not warm_seconds >= 0:
        raise InputError(f"warm-up must be >= 0 seconds, got {warm_seconds:g}")
    src = open_input(input)
    try:
        vin = video_stream(src, input)
        tb = vin.time_base
        pts, keys = [], []
        try:
            for p in src.demux(vin):
                if not p.size:
                    continue
                if p.pts is None:
                    raise InputError(f"{input}: video packets without timestamps; "
                                     "encode it without --distributed")
                pts.append(p.pts)
                if p.is_keyframe:
                    keys.append(p.pts)
        except av.error.FFmpegError as exc:
            raise InputError(f"{input}: corrupt or truncated input ({exc})") from None
    finally:
        src.close()
    if not pts:
        raise InputError(f"{input}: no video frames")
    pts.sort()
    if len(set(pts)) != len(pts):
        raise InputError(f"{input}: duplicate video timestamps; encode it without "
                         "--distributed")
    keys = sorted(set(k for k in keys if k >= pts[0]))
    if not keys or keys[0] != pts[0]:
        keys.insert(0, pts[0])  # the first frame always starts a chunk
    step = round(chunk_seconds / tb)
    warm = round(warm_seconds / tb)
    starts = [pts[0]]
    for k in keys[1:]:
        if k - starts[-1] >= step:
            starts.append(k)
    chunks = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else None
        seek = keys[max(0, bisect.bisect_right(keys, start - warm) - 1)]
        n = (bisect.bisect_left(pts, end) if end is not None else len(pts)) - \
            bisect.bisect_left(pts, start)
        chunks.append(Chunk(i, start, end, min(seek, start), n))
    return ChunkPlan(str(input), str(Fraction(tb)), len(pts), tuple(chunks))


__all__ = ["CHUNK_SECONDS", "WARM_SECONDS", "Chunk", "ChunkPlan", "plan_chunks"]
