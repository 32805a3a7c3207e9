"""Frames worth looking at, chosen in one streaming pass over source and two encodes.

The source is decoded once; the two matched encodes are not decoded in the
pass: their bits per frame are their packet sizes and their picture types
come from the first slice header of each packet (what FFmpeg's decoder
reports), a few ms per file. Per frame only small things are kept (bits,
type); the encoder's own saliency map is read from the map sidecar the
encode exported (per-macroblock importance, :mod:`salcodec.mapfile`; parsed
only for the frames that can be picked), or, without one, recomputed exactly
as the encoder did (same mapper, same cadence and cut resets: the saliency
model again, most of the pass's time); and for each criterion (highest
saliency contrast, first scene cut, most motion) only the best frame so far
is held, by reference, so memory is flat in the video's length. At the end
the picks alone are converted to RGB, and each encode is decoded once more
up to its last pick, skipping the frames nothing refers to, for their
pictures and realised QP maps.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field

import av
import cv2
import numpy as np

from ..errors import SalcodecError
from ..io.conform import conform_frame, even_size, frame_planes
from ..io.decode import open_input, video_stream
from ..mapfile import MapReader
from ..mapper import OffsetMapper
from ..qpinspect import frame_qp
from ..scenecut import SceneCutDetector, yuv_thumbnail
from ..settings import EncodeSettings

#: Criteria in the order their frames are shown.
CRITERIA = {
    "salient": "highest saliency contrast (the map is most peaked)",
    "cut": "first scene cut",
    "motion": "most motion (largest change from the previous frame)",
}
#: Saliency contrast and motion are ranked among the saliency encode's I- and
#: P-frames: on B-frames x264 takes most QPs from the reference frames (skipped
#: blocks inherit theirs), so the realised map there shows little of the offsets.
RANKED_TYPES = ("I", "P")


@dataclass
class Shown:
    """One chosen frame: the pictures and maps the report draws."""

    index: int
    reasons: list[str]
    source: np.ndarray  # RGB uint8 (H, W, 3)
    coded: list[np.ndarray]  # RGB of arm 0 (plain) and arm 1 (salcodec)
    qp: list[np.ndarray]  # realised per-macroblock QP of each arm
    types: list[str]  # picture type of each arm
    bits: list[int]  # coded bits of this frame in each arm
    saliency: np.ndarray  # the encoder's map, float32 in [0, 1] (analysis size or macroblocks)
    score: dict = field(default_factory=dict)


@dataclass
class FramePick:
    """What one pass over the source and the matched encodes gave."""

    arms: list[str]
    frames: list[Shown]
    bits: list[list[int]]  # per frame, per arm
    types: list[list[str]]
    cuts: list[int]
    seconds: float  # wall time of the pass
    cpu_seconds: float  # CPU time of the process during it (all threads)

    def summary(self) -> dict:
        return {"frames": [{"index": f.index, "reasons": f.reasons, "types": f.types,
                            "bits": f.bits, **f.score} for f in self.frames],
                "cuts": self.cuts, "seconds": round(self.seconds, 3),
                "cpu_seconds": round(self.cpu_seconds, 3)}


class _Recorder(OffsetMapper):
    """The encoder's mapper, keeping the last saliency map it computed."""

    last_map: np.ndarray | None = None

    def _model(self, rgb: np.ndarray) -> np.ndarray:
        self.last_map = super()._model(rgb)
        return self.last_map

    def step(self, frame: av.VideoFrame, thumb: np.ndarray,
             need: bool = True) -> tuple[bool, np.ndarray]:
        """(cut, saliency map) of the next conformed frame, the model rerun (always)."""
        return self.job(frame).cut, self.last_map


def _importance_text(line: str) -> str | None:
    """The ``"importance": [...]`` part of a record line, or None (absent, null, odd)."""
    start = line.find('"importance"')
    if start < 0:
        return None
    open_ = line.find("[", start)
    if open_ < 0 or line[start + 12:open_].strip(" :"):  # not a list (null)
        return None
    close = line.find("]", open_)
    if close < 0 or "[" in line[open_ + 1:close]:  # nested (another tool's layout): parse it
        return None
    return line[open_:close]


class _Sidecar:
    """The encoder's maps read back from its sidecar; cuts found as the encoder found them.

    The encoder's scene-cut detector saw the same thumbnail of every frame
    (:meth:`OffsetMapper.job`), so running it here gives the same cuts
    without the saliency model. Between two runs of its model (its cadence)
    the encoder writes the same map again: a record whose importance reads
    as the last parsed one's, character for character, reuses that map
    (two frames in three here, each parse about 2 ms at 720p).
    """

    def __init__(self, path: str | os.PathLike, width: int, height: int) -> None:
        self.reader = MapReader(path, width, height)
        self.cuts = SceneCutDetector()
        self._last: tuple[str | None, np.ndarray | None] = (None, None)

    def step(self, frame: av.VideoFrame, thumb: np.ndarray,
             need: bool = True) -> tuple[bool, np.ndarray | None]:
        """(cut, saliency map) of the next frame; the map is parsed only if ``need`` or a cut.

        B-frames, never ranked, skip it.
        """
        cut = self.cuts.update(thumb)
        text = self.reader.next_line()
        if text is None:
            raise SalcodecError(f"{self.reader.path}: the map ends before the video")
        if not (need or cut):
            return cut, None
        key = _importance_text(text)
        if key is not None and key == self._last[0]:
            return cut, self._last[1]
        rec = self.reader.parse(text)
        if rec.importance is not None:
            sal = np.clip(rec.importance, 0.0, 1.0)
        else:  # offsets given from outside: lower offset = more important
            lo, hi = float(rec.offsets.min()), float(rec.offsets.max())
            sal = (hi - rec.offsets) / (hi - lo) if hi > lo else np.zeros_like(rec.offsets)
        sal = sal.astype(np.float32)
        self._last = (key, sal)
        return cut, sal

    def close(self) -> None:
        self.reader.close()


def matched_points(report: dict, arm: int = 1) -> tuple[int, int]:
    """Indices of the plain point and the ``arm`` point closest in bytes (log ratio)."""
    base, other = report["arms"][0]["points"], report["arms"][arm]["points"]
    pairs = [(abs(np.log(p["bytes"] / q["bytes"])), i, j)
             for i, p in enumerate(base) for j, q in enumerate(other)]
    _, i, j = min(pairs)
    return i, j


def saliency_contrast(sal: np.ndarray) -> float:
    """Mean of the top decile of a map minus the mean of its lower half."""
    v = np.asarray(sal, dtype=np.float32).ravel()
    n = v.size
    top, half = min(int(n * 0.9), n - 1), max(1, n // 2)
    v = np.partition(v, (half - 1, top))  # no full sort: runs on every frame
    return float(v[top:].mean() - v[:half].mean())


def crop_size(width: int, height: int) -> int:
    """Side of the zoomed crops: about 2/7 of the short side, whole macroblocks, 32-192 px."""
    return int(min(192, max(32, 16 * round(min(width, height) / 3.5 / 16)),
                   16 * (min(width, height) // 16) or min(width, height)))


def crop_boxes(sal: np.ndarray, width: int, height: int,
               size: int | None = None) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """(x, y, side) of the most salient and of the least salient (peripheral) square.

    Candidates sit on the macroblock grid; the peripheral one does not overlap
    the salient one when the frame leaves room for that.
    """
    c = size or crop_size(width, height)
    full = cv2.resize(np.asarray(sal, dtype=np.float32), (width, height),
                      interpolation=cv2.INTER_LINEAR)
    ii = cv2.integral(full, sdepth=cv2.CV_64F)
    step = 16 if min(width, height) > 2 * c else 8
    ys = np.arange(0, height - c + 1, step)
    xs = np.arange(0, width - c + 1, step)
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    sums = ii[yy + c, xx + c] - ii[yy, xx + c] - ii[yy + c, xx] + ii[yy, xx]
    k = np.unravel_index(int(np.argmax(sums)), sums.shape)
    sx, sy = int(xx[k]), int(yy[k])
    apart = (np.abs(xx - sx) >= c) | (np.abs(yy - sy) >= c)
    masked = np.where(apart, sums, np.inf) if apart.any() else sums
    k = np.unravel_index(int(np.argmin(masked)), sums.shape)
    return (sx, sy, c), (int(xx[k]), int(yy[k]), c)


def _coded_frames(path: str | os.PathLike) -> Iterator[tuple]:
    """(frame, picture type, bits) of each frame of an H.264 file, in display order.

    The frames carry their QP map (read it with :func:`frame_qp`: at 720p that
    costs several ms, so only for the frames kept). The fallback of
    :func:`_coded_index`: every frame decoded.
    """
    from ..qpinspect import pict_type

    with open_input(path) as c:
        st = video_stream(c, path)
        st.thread_type = "AUTO"
        st.codec_context.options = {"export_side_data": "venc_params"}
        sizes: dict = {}
        index = 0
        for packet in c.demux(st):
            if packet.size:
                sizes[packet.pts] = packet.size
            for frame in packet.decode():
                yield frame, pict_type(frame), 8 * sizes.pop(frame.pts, 0)
                index += 1


#: H.264 slice_type (mod 5) as FFmpeg's pict_type names it (:data:`qpinspect._PICT_TYPES`).
_SLICE_TYPES = ("P", "B", "I", "SP", "SI")


def _ue(bits: str, pos: int) -> tuple[int, int]:
    """One Exp-Golomb ue(v) from a string of '0'/'1' at ``pos``: (value, next pos)."""
    zeros = bits.index("1", pos) - pos
    end = pos + 2 * zeros + 1
    if end > len(bits):
        raise ValueError("truncated")
    return int(bits[pos + zeros:end], 2) - 1, end


def _nal_units(data: bytes, length_size: int | None) -> Iterator[bytes]:
    if length_size:  # AVCC / ISO BMFF: each NAL unit after its big-endian length
        pos = 0
        while pos + length_size <= len(data):
            n = int.from_bytes(data[pos:pos + length_size], "big")
            pos += length_size
            yield data[pos:pos + n]
            pos += n
    else:  # Annex B: start codes
        for nal in data.split(b"\x00\x00\x01"):
            if nal.rstrip(b"\x00"):
                yield nal


def _first_slice(data: bytes, length_size: int | None) -> tuple[str, bool] | None:
    """(picture type, IDR) of one H.264 access unit from its first slice, or None."""
    for nal in _nal_units(data, length_size):
        if nal and nal[0] & 0x1F in (1, 5):
            head = nal[1:24].replace(b"\x00\x00\x03", b"\x00\x00")  # emulation prevention
            bits = "".join(f"{b:08b}" for b in head)
            _, pos = _ue(bits, 0)  # first_mb_in_slice
            return _SLICE_TYPES[_ue(bits, pos)[0] % 5], nal[0] & 0x1F == 5
    return None


def slice_picture_type(data: bytes, length_size: int | None) -> str | None:
    """The picture type of one H.264 access unit, from its first slice header.

    FFmpeg's decoder takes a picture's type from its first slice: the same
    answer without decoding. None when the packet holds no slice.
    """
    first = _first_slice(data, length_size)
    return None if first is None else first[0]


def _coded_index(path: str | os.PathLike) -> list[tuple[int, str, int, bool]] | None:
    """(pts, picture type, bits, IDR) of each frame of an H.264 file in display order.

    Read from the packets alone (sizes; types from the slice headers), a few
    ms for a 10 s clip. None where that cannot be done exactly (not H.264, a
    packet without timestamp or slice): then the frames are decoded.
    """
    with open_input(path) as c:
        st = video_stream(c, path)
        ctx = st.codec_context
        if ctx.name != "h264":
            return None
        extra = ctx.extradata
        length_size = (extra[4] & 3) + 1 if extra and extra[0] == 1 and len(extra) > 4 else None
        rows = []
        try:
            for packet in c.demux(st):
                if not packet.size:
                    continue
                first = _first_slice(bytes(packet), length_size)
                if first is None or packet.pts is None:
                    return None
                rows.append((int(packet.pts), first[0], 8 * packet.size, first[1]))
        except (ValueError, IndexError):
            return None
    rows.sort()
    if len({r[0] for r in rows}) != len(rows):
        return None
    return rows


def _decode_kept(path: str | os.PathLike, wanted: dict[int, int],
                 idr: list[int] | tuple[int, ...] = ()) -> dict[int, tuple]:
    """{index: (RGB, QP map)} of the frames with pts in ``wanted`` ({pts: index}).

    Each frame wanted is decoded from the last IDR picture before it (``idr``:
    their pts; from the start without them), seeking there when that is past
    what was decoded so far, and skipping the frames no other frame refers
    to (FFmpeg's skip_frame=nonref) unless wanted: the frames come out
    bit-exact (an IDR picture starts afresh), at about half the cost of
    decoding all, and the cost does not grow with the video's length.
    Single-threaded, so that the skip applies packet by packet.
    """
    out: dict[int, tuple] = {}
    left = dict(wanted)
    with open_input(path) as c:
        st = video_stream(c, path)
        st.thread_type = "NONE"
        ctx = st.codec_context
        ctx.options = {"export_side_data": "venc_params"}
        packets = None  # the demuxer's packets from where decoding stands
        reached = -1  # pts of the last packet fed to the decoder
        while left:
            target = min(left)
            start = max((k for k in idr if k <= target), default=None)
            if start is not None and start > reached and start > 0:
                packets = _seek(c, st, start)  # what lies before it is not needed
            elif packets is None:
                packets = c.demux(st)
            for packet in packets:
                if packet.size:
                    ctx.skip_frame = "DEFAULT" if packet.pts in left else "NONREF"
                    reached = max(reached, packet.pts)
                for frame in packet.decode():
                    index = left.pop(frame.pts, None)
                    if index is not None:
                        out[index] = (frame.to_ndarray(format="rgb24"),
                                      frame_qp(frame, path, index))
                if target not in left:
                    break
            else:
                break  # the end of the file
    if left:
        raise SalcodecError(f"{path}: frames {sorted(left.values())} did not decode")
    return out


def _seek(c: av.container.InputContainer, st, pts: int) -> Iterator:
    """Packets from the keyframe at ``pts`` on (the decoder flushed); from the start if the
    demuxer does not land exactly there."""
    c.seek(pts, stream=st, backward=True, any_frame=False)
    packets = c.demux(st)
    first = next(packets, None)
    if first is not None and first.pts == pts:
        return _chain(first, packets)
    c.seek(0, stream=st, backward=True, any_frame=False)
    return c.demux(st)


def _chain(first, rest):
    yield first
    yield from rest


def _source_frames(path: str | os.PathLike) -> Iterator:
    with open_input(path) as c:
        st = video_stream(c, path)
        st.thread_type = "AUTO"
        yield from c.decode(st)


def pick_frames(source: str | os.PathLike, plain: str | os.PathLike, salient: str | os.PathLike,
                settings: EncodeSettings, arms: tuple[str, str] = ("x264", "salcodec"),
                maps: str | os.PathLike | None = None) -> FramePick:
    """One pass over ``source`` and the two encodes: series per frame and the frames to show.

    Parameters
    ----------
    source : path
        The reference the encodes were made from (a compare sample or the input).
    plain, salient : path
        The plain-libx264 and the saliency encode (H.264) to set side by side.
    settings : EncodeSettings
        The saliency arm's settings: without ``maps``, its mapper is rerun on
        the source to draw the very saliency map the encoder used.
    maps : path, optional
        The sidecar the saliency encode exported (``export_map``): its
        per-macroblock importance is drawn and the model is not rerun.
    """
    started, cpu = time.monotonic(), time.process_time()
    bits: list[list[int]] = [[], []]
    types: list[list[str]] = [[], []]
    cuts: list[int] = []
    best: dict[str, tuple[float, int]] = {}
    # Per candidate frame, what it takes to draw it later: the source frame and, for an
    # encode read undecoded, nothing (decoded at the end, that frame only); pictures are
    # converted to RGB and QP maps read for the final picks alone.
    held: dict[int, dict] = {}
    recorder = None
    prev = None
    coded = [plain, salient]
    index_of = [_coded_index(p) for p in coded]  # None: that encode is decoded in the pass

    def undecoded(rows):
        for _pts, kind, nbits, _idr in rows:
            yield None, kind, nbits

    with ExitStack() as stack:
        iters = [_source_frames(source)] + [
            _coded_frames(p) if rows is None else undecoded(rows)
            for p, rows in zip(coded, index_of, strict=True)]
        for it in iters:
            stack.callback(it.close)
        for index, (frame, a, b) in enumerate(zip(*iters, strict=False)):
            if recorder is None:
                w, h = even_size(frame.width, frame.height)
                if maps is not None:
                    recorder = _Sidecar(maps, w, h)
                    stack.callback(recorder.close)
                else:
                    opts = settings.stage_options()
                    opts.pop("enabled")
                    recorder = _Recorder(w, h, **opts)
            conformed = conform_frame(frame, w, h)
            small = yuv_thumbnail(*frame_planes(conformed))
            ranked = b[1] in RANKED_TYPES
            cut, sal = recorder.step(conformed, small, need=ranked)
            thumb = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)
            motion = 0.0 if prev is None or cut else float(np.abs(thumb - prev).mean())
            prev = thumb
            for k, (_f, kind, nbits) in enumerate((a, b)):
                bits[k].append(nbits)
                types[k].append(kind)
            if cut:
                cuts.append(index)
            # Needed (and the map read) only where a frame can win: ranked, or a cut.
            contrast = -1.0 if sal is None else saliency_contrast(sal)
            scores = {"salient": contrast if ranked else -1.0,
                      "motion": motion if index and ranked else -1.0,
                      "cut": 1.0 if cut and "cut" not in best else -1.0}
            won = [c for c, s in scores.items() if s > 0 and s > best.get(c, (0.0, -1))[0]]
            for c in won:
                old = best.get(c)
                best[c] = (scores[c], index)
                if old is not None and old[1] != index and all(
                        v[1] != old[1] for v in best.values()):
                    held.pop(old[1], None)  # no criterion holds that frame any more
            if won and index not in held:
                # References only (no copy, no conversion): a few frames at most.
                held[index] = {"source": conformed, "coded": [a[0], b[0]],
                               "types": [a[1], b[1]], "bits": [a[2], b[2]],
                               "saliency": np.array(sal, dtype=np.float32), "score": {}}
            if index in held:
                held[index]["score"].update(saliency_contrast=round(contrast, 4),
                                            motion=round(motion, 3), cut=bool(cut))
    picked = sorted({best[c][1] for c in CRITERIA if c in best})
    pictures: dict[int, list] = {i: [None, None] for i in picked}
    qps: dict[int, list] = {i: [None, None] for i in picked}
    for k, (path, rows) in enumerate(zip(coded, index_of, strict=True)):
        if rows is None:  # decoded in the pass: the frames are held
            for i in picked:
                f = held[i]["coded"][k]
                pictures[i][k], qps[i][k] = f.to_ndarray(format="rgb24"), frame_qp(f, path, i)
        else:
            idr = [r[0] for r in rows if r[3]]
            for i, (rgb, qp) in _decode_kept(path, {rows[i][0]: i for i in picked}, idr).items():
                pictures[i][k], qps[i][k] = rgb, qp
    frames = {i: Shown(i, [], held[i]["source"].to_ndarray(format="rgb24"), pictures[i],
                       qps[i], held[i]["types"], held[i]["bits"], held[i]["saliency"],
                       held[i]["score"]) for i in picked}
    held.clear()
    shown = []
    for c in CRITERIA:
        if c in best:
            f = frames[best[c][1]]
            f.reasons.append(c)
            if f not in shown:
                shown.append(f)
    shown.sort(key=lambda f: f.index)
    return FramePick(list(arms), shown, bits, types, cuts, time.monotonic() - started,
                     time.process_time() - cpu)
