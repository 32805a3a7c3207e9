"""The per-chunk task: frames ``[start, end)`` of a video, encoded alone, as packets.

Runs on a Dask worker (or anywhere: it is a plain function). It decodes from
the chunk's seek keyframe; frames before ``start`` only warm the saliency
analysis (:meth:`SaliencyEncoder.warm`), the chunk's own frames are encoded
with the job's settings by a fresh libx264 (so the chunk starts with an IDR
and its GOPs are closed), and the packets come back as bytes with the
stream's extradata (SPS/PPS), which the join compares across chunks.

Why the warm-up makes boundary maps equal to a whole-video encode's: a scene
cut resets all saliency state (model, smoothing, cadence; see
:mod:`salcodec.mapper`), and so does the start of the video. A warm-up that
reaches back to the video's start or over a cut therefore reproduces the
single-process state exactly; one that does not (a shot longer than the
warm-up) converges to it, as smoothing and detections fade within a second
or two (measured in benchmarks/distributed.py).
"""

from __future__ import annotations

import io
import os
import struct
import tempfile
import time
import zlib
from dataclasses import dataclass, fields
from fractions import Fraction

import av

from ..codecs.x264 import add_h264_stream
from ..encoder import SaliencyEncoder
from ..errors import InputError
from ..io.conform import conform_frame
from ..io.decode import ffmpeg_cause, open_input, video_stream
from ..io.metadata import carry_video
from ..settings import EncodeSettings
from ..transcode import start_shift
from .chunks import Chunk

#: Dask event topic the tasks report progress on.
PROGRESS_TOPIC = "salcodec-progress"
#: libavcodec's AV_CODEC_FLAG_GLOBAL_HEADER: SPS/PPS in extradata, as MP4/MKV need.
GLOBAL_HEADER = 1 << 22

_RECORD = struct.Struct("<qqqBI")  # pts, dts, duration, keyframe, size


@dataclass
class ChunkResult:
    """What a chunk task returns (and what a resume work dir stores)."""

    index: int
    frames: int
    first_pts: int
    last_pts: int
    time_base: str
    extradata: bytes
    packets: bytes  # see pack_packets
    stats: dict
    map_lines: bytes | None = None  # zlib-compressed sidecar frame lines, or None
    warm_frames: int = 0
    seconds: float = 0.0


def pack_packets(packets) -> bytes:
    """Serialise encoded packets: a fixed record (pts, dts, duration, key, size) + payload."""
    out = io.BytesIO()
    for p in packets:
        data = bytes(p)
        dts = p.dts if p.dts is not None else p.pts
        out.write(_RECORD.pack(p.pts, dts, p.duration or 0, int(p.is_keyframe), len(data)))
        out.write(data)
    return out.getvalue()


def unpack_packets(blob: bytes):
    """Yield ``(pts, dts, duration, keyframe, payload)`` from :func:`pack_packets` bytes."""
    view, pos = memoryview(blob), 0
    while pos < len(blob):
        pts, dts, duration, key, size = _RECORD.unpack_from(view, pos)
        pos += _RECORD.size
        if pos + size > len(blob):
            raise ValueError("truncated chunk packets")
        yield pts, dts, duration, bool(key), bytes(view[pos:pos + size])
        pos += size


def encode_chunk(input: str, chunk: Chunk, settings: EncodeSettings, *,
                 x264_threads: int = 0, export_map: bool = False,
                 report=None) -> ChunkResult:
    """Encode one chunk of ``input`` (a path every worker can read).

    Parameters
    ----------
    input : str
        The video file.
    chunk : Chunk
        Which frames (see :func:`salcodec.distributed.chunks.plan_chunks`).
    settings : EncodeSettings
        The job's settings, identical for every chunk.
    x264_threads : int
        libx264 threads (0: libx264's choice, about 1.5 per core).
    export_map : bool
        Return the chunk's map sidecar lines (see :mod:`salcodec.mapfile`).
    report : callable, optional
        ``report(frames_done)`` now and then; on a Dask worker, None sends
        progress events on :data:`PROGRESS_TOPIC`.
    """
    started = time.monotonic()
    report = report or _dask_reporter(chunk.index)
    src = open_input(input)
    dummy = av.open(io.BytesIO(), "w", format="matroska")  # never written: gives the stream
    side = None
    stage = None
    try:
        vin = video_stream(src, input)
        vin.thread_type = "AUTO"
        cc = vin.codec_context
        vout = add_h264_stream(dummy, cc.width, cc.height, vin.average_rate or vin.guessed_rate,
                               vin.time_base, crf=settings.crf, preset=settings.preset,
                               x264_params=settings.x264_params, roi_enabled=settings.saliency)
        vout.codec_context.flags |= GLOBAL_HEADER
        if x264_threads:
            vout.codec_context.thread_count = x264_threads
        if export_map:
            fd, side = tempfile.mkstemp(prefix="salcodec-chunk-", suffix=".map.jsonl")
            os.close(fd)
        stage = SaliencyEncoder(vout, **settings.stage_options(), export_map=side)
        packets, frames, warm, first, last = [], 0, 0, None, None
        tagged = False
        # A file starting before zero is moved to start at 0, as a whole-video
        # encode does (transcode.start_shift); the join shifts the copied streams alike.
        shift = start_shift(src)
        for frame in _frames(src, vin, input, chunk):
            if not tagged:
                # The colour tags and aspect ratio go into the SPS (VUI): set them as
                # the join does, from the frames, so every chunk's SPS is the output's.
                carry_video(vin, frame, conform_frame(frame, vout.width, vout.height,
                                                     vout.codec_context.pix_fmt), vout,
                            "matroska", input)
                tagged = True
            if frame.pts < chunk.warm_from:
                continue  # decoded only to reach the warm-up's first frame
            if frame.pts < chunk.start:
                stage.warm(frame)
                warm += 1
                continue
            first = frame.pts if first is None else first
            last = frame.pts  # the input's: the join checks them against the plan
            if shift:
                frame.pts += round(shift / frame.time_base)
            packets += stage.encode(frame)
            frames += 1
            if frames % 25 == 0:
                report(frames)
        packets += stage.flush()
        report(frames)
        if frames != chunk.frames:
            raise InputError(f"{input}: chunk {chunk.index} decoded {frames} frames where the "
                             f"index lists {chunk.frames}; truncated or corrupt input")
        stats = {f.name: getattr(stage.stats, f.name) for f in fields(stage.stats)
                 if not f.name.startswith("_") and f.name != "masks"}
        map_lines = None
        if side is not None:
            stage.close()
            with open(side, "rb") as fh:
                map_lines = zlib.compress(fh.read())  # header line + one line per frame
        return ChunkResult(chunk.index, frames, first, last, str(Fraction(vin.time_base)),
                           bytes(vout.codec_context.extradata or b""), pack_packets(packets),
                           stats, map_lines, warm, round(time.monotonic() - started, 3))
    except av.error.FFmpegError as exc:
        raise InputError(f"{input}: corrupt or truncated input in chunk {chunk.index} "
                         f"({ffmpeg_cause(exc)})") from None
    finally:
        if stage is not None:
            stage.close()
        src.close()
        if side is not None and os.path.exists(side):
            os.remove(side)


def scan_cuts(input: str, chunk: Chunk) -> list[int]:
    """The pts of the frames in ``chunk`` that start a new shot, as the encoder sees them.

    The same detector as the saliency stage's (:class:`salcodec.mapper.OffsetMapper`
    runs it on every frame): a point-sampled thumbnail of the conformed frame,
    compared with the previous frame's. Decoding starts at the keyframe
    before the chunk, so its first frame is compared with the one before.
    """
    from ..io.conform import even_size, frame_planes
    from ..scenecut import SceneCutDetector, yuv_thumbnail

    src = open_input(input)
    try:
        vin = video_stream(src, input)
        vin.thread_type = "AUTO"
        size = even_size(vin.codec_context.width, vin.codec_context.height)
        scan = Chunk(chunk.index, chunk.start, chunk.end,
                     chunk.start if chunk.prev_key is None else chunk.prev_key, chunk.frames,
                     chunk.start)
        detector, cuts = SceneCutDetector(), []
        for frame in _frames(src, vin, input, scan):
            cut = detector.update(yuv_thumbnail(*frame_planes(conform_frame(frame, *size))))
            if cut and frame.pts >= chunk.start:
                cuts.append(int(frame.pts))
        return cuts
    except av.error.FFmpegError as exc:
        raise InputError(f"{input}: corrupt or truncated input in chunk {chunk.index} "
                         f"({ffmpeg_cause(exc)})") from None
    finally:
        src.close()


def _frames(src, vin, input, chunk: Chunk):
    """Timed frames from ``chunk.seek`` up to (not including) ``chunk.end``."""
    from ..transcode import BestEffortClock

    if chunk.seek > 0 or chunk.index > 0:
        src.seek(chunk.seek, stream=vin, backward=True, any_frame=False)
    clock = BestEffortClock(vin, input)

    def timed():
        for packet in src.demux(vin):
            yield from clock.push_all(packet.decode())
        yield from clock.flush()

    for frame in timed():
        if frame.pts < chunk.seek:
            continue  # before the keyframe (a demuxer that lands early, open-GOP leaders)
        if chunk.end is not None and frame.pts >= chunk.end:
            return
        yield frame


def _dask_reporter(index: int):
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return lambda done: None
    last = [0.0]

    def report(done: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.5:
            last[0] = now
            worker.log_event(PROGRESS_TOPIC, {"chunk": index, "frames": done})

    return report


__all__ = ["ChunkResult", "PROGRESS_TOPIC", "encode_chunk", "pack_packets", "scan_cuts",
           "unpack_packets"]
