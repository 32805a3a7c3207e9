"""Where a video is cut into chunks, and where each chunk's saliency warm-up starts.

Planning decodes nothing: the video stream's packets are demuxed once for
their timestamps and keyframe flags. Each chunk starts at a keyframe (encoders
put them at scene cuts, so boundaries fall on cuts where the source has them)
near a multiple of ``chunk_seconds`` and owns the frames whose presentation
time lies in ``[start, end)``.

The warm-up (see :mod:`.worker`) runs the saliency analysis, without
encoding, from frame ``warm_from`` up to the chunk. The analysis keeps a
schedule counted from the last scene cut (the model every ``cadence`` frames,
its networks every 18, 30 or 90), so :func:`align_warm_up` starts each warm-up a
whole number of schedule periods after the last cut before the chunk (the
cuts come from a scan of the frames: :func:`salcodec.distributed.worker.scan_cuts`)
and at least :func:`warm_frames` before it: the schedule then runs in step
with a whole-video encode, and the fading state (smoothing, the model's
memory) has converged when the chunk starts.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction

import av

from ..errors import InputError
from ..io.decode import open_input, video_stream

#: Default chunk length (seconds of video per task).
CHUNK_SECONDS = 10.0
#: Default warm-up before each chunk (seconds of video analysed, not encoded; at least
#: one schedule period, see :func:`warm_frames`).
WARM_SECONDS = 3.0


@dataclass(frozen=True)
class Chunk:
    """One task: encode the frames with ``start <= pts < end`` (``end`` None: to the end).

    ``seek`` is the keyframe a worker decodes from, ``warm_from`` the first
    frame the saliency analysis sees (frames from it up to ``start`` are
    analysed, not encoded), ``frames`` how many frames the index lists in the
    chunk, ``prev_key`` the last keyframe before ``start`` (where a cut scan
    of the chunk starts, to see the frame before it; None for the first).
    """

    index: int
    start: int
    end: int | None
    seek: int
    frames: int
    warm_from: int
    prev_key: int | None = None


@dataclass(frozen=True)
class ChunkPlan:
    """A video's chunks and what is needed to check the joined result."""

    input: str
    time_base: str
    frames: int
    chunks: tuple[Chunk, ...]
    rate: float = 25.0
    #: Every frame's pts, sorted (not part of the fingerprint: it follows from the file).
    pts: tuple[int, ...] = field(default=(), repr=False)
    keys: tuple[int, ...] = field(default=(), repr=False)

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
        least this long; a remainder under half of it joins the last chunk.
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
        rate = vin.average_rate or vin.guessed_rate or 25  # read before close: PyAV frees it
        pts, keys = [], []
        try:
            for p in src.demux(vin):
                if not p.size or p.is_discard:
                    continue  # an edit list's dropped frames are never shown
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
    if len(starts) > 1 and pts[-1] - starts[-1] < step // 2:
        starts.pop()  # a last chunk under half the length joins the one before
    chunks = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else None
        seek = keys[max(0, bisect.bisect_right(keys, start - warm) - 1)]
        seek = min(seek, start)
        n = (bisect.bisect_left(pts, end) if end is not None else len(pts)) - \
            bisect.bisect_left(pts, start)
        prev = keys[bisect.bisect_left(keys, start) - 1] if i else None
        chunks.append(Chunk(i, start, end, seek, n, seek, prev))
    return ChunkPlan(str(input), str(Fraction(tb)), len(pts), tuple(chunks), float(rate),
                     tuple(pts), tuple(keys))


def schedule_period(settings) -> int:
    """Video frames after which the saliency analysis's schedule repeats within a shot.

    The mapper analyses a shot's first frame and every ``cadence``-th frame
    after it; the default model (:class:`salcodec.saliency.fusion.DefaultModel`)
    counts its networks' intervals in video frames (each call advances them by
    its ``frame_step``, the cadence), so a network with interval ``i`` runs every
    ``cadence * ceil(i / cadence)`` frames: faces every ``detect_interval``,
    text every ``text_interval`` and the learned map every ``gaze_interval``,
    text and the learned map first at half an interval after the shot's first
    frame. A warm-up starts with a fresh model, which runs all of them on its
    first frame as on a shot's, so its schedule is the whole-video one
    whenever it starts a common multiple of these periods after the cut:
    their least common multiple (90 for the defaults: 30, 90 and 18).
    """
    from ..mapper import DEFAULT_CADENCE
    from ..saliency import model_class

    cadence = DEFAULT_CADENCE
    period = cadence
    try:
        model = model_class(settings.model)
    except ValueError:
        return period
    detect = _default_arg(model, "detect_interval")
    text = _default_arg(model, "text_interval")
    if text is None and detect is not None:
        text = detect  # DefaultModel: text_interval=None means detect_interval
    for interval in (detect, text if detect else None, _default_arg(model, "gaze_interval")):
        if interval:
            period = math.lcm(period, cadence * -(-int(interval) // cadence))
    return period


def _default_arg(cls, name: str):
    import inspect

    try:
        p = inspect.signature(cls.__init__).parameters.get(name)
    except (TypeError, ValueError):
        return None
    return p.default if p is not None and isinstance(p.default, int) else None


def warm_frames(plan: ChunkPlan, warm_seconds: float, period: int) -> int:
    """Frames of warm-up: ``warm_seconds``, and at least one schedule period.

    A warm-up started in step (:func:`align_warm_up`) has every network's
    result equal to the whole-video encode's once each has run after the
    start: by about half a period (the text detector's first run, 48 frames
    at the defaults: due at 45, where the learned map runs, it waits one
    analysis). The rest lets the smoothing forget the start: the default
    model keeps ``smoothing ** frame_step`` of its previous map per analysis,
    0.7 per video frame, and the mapper ``--smoothing`` (0.6) per frame, so
    after another 42 frames 3e-7 of the start is left, below what moves a
    whole-QP offset (the tests compare the maps with a single-process
    encode's).
    """
    return max(round(warm_seconds * plan.rate), period)


def align_warm_up(plan: ChunkPlan, cuts: list[int], period: int, warm: int) -> ChunkPlan:
    """Chunks whose warm-up starts in step with the whole-video schedule.

    ``cuts`` are the pts of the frames that start a shot (the scan's). A
    chunk's warm-up starts at the last cut before it when that is at most
    ``warm + period`` frames back (exact: a cut resets all saliency state);
    else at the latest frame at least ``warm`` frames before the chunk that is
    a whole number of ``period`` frames after that cut (or the video's start).
    The seek goes to the keyframe at or before it.
    """
    pts, keys = plan.pts, plan.keys
    cut_index = sorted(bisect.bisect_left(pts, c) for c in cuts)
    chunks = []
    for c in plan.chunks:
        start = bisect.bisect_left(pts, c.start)
        if c.index == 0 or not plan.pts:
            chunks.append(c)
            continue
        shot = cut_index[bisect.bisect_right(cut_index, start) - 1] if cut_index and \
            cut_index[0] <= start else 0
        x = max(shot, shot + (start - warm - shot) // period * period)
        seek = keys[max(0, bisect.bisect_right(keys, pts[x]) - 1)]
        chunks.append(replace(c, warm_from=pts[x], seek=min(seek, pts[x])))
    return replace(plan, chunks=tuple(chunks))


__all__ = ["CHUNK_SECONDS", "WARM_SECONDS", "Chunk", "ChunkPlan", "align_warm_up",
           "plan_chunks", "schedule_period", "warm_frames"]
