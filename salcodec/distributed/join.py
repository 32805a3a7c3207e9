"""Join encoded chunks into the output container, other streams copied once from the source.

The container is set up by the same code as a whole-video encode
(:func:`salcodec.transcode.add_output_streams`: the libx264 stream, stream
copies, tags, chapters, rotation and colour), so the only difference is where
the video packets come from. The output's libx264 stream is opened with the
job's settings and never fed: its SPS/PPS (extradata) must equal every
chunk's byte for byte, or the join is refused. Chunks keep the input's
timestamps (moved, like every stream here, to start at 0 where the input
starts before it: :func:`salcodec.transcode.start_shift`), so their packets
are muxed as they are; decode timestamps must increase across chunk
boundaries and the frame count must equal the input's.
"""

from __future__ import annotations

import heapq
import os
from fractions import Fraction

import av

from ..errors import SalcodecError
from ..io.conform import conform_frame
from ..io.containers import muxer_options
from ..io.decode import open_input, video_stream
from ..io.metadata import carry_video
from ..settings import EncodeSettings
from ..transcode import add_output_streams, copied_packets, count_video_packets, start_shift
from .chunks import ChunkPlan
from .worker import GLOBAL_HEADER, ChunkResult, unpack_packets


def check_chunks(plan: ChunkPlan, results: list[ChunkResult], name: str) -> None:
    """Refuse chunks that do not tile the video or whose SPS/PPS differ."""
    if [r.index for r in results] != [c.index for c in plan.chunks]:
        raise SalcodecError(f"{name}: chunks missing ({len(results)} of {len(plan.chunks)})")
    for c, r in zip(plan.chunks, results, strict=True):
        if r.frames != c.frames or r.first_pts < c.start or (
                c.end is not None and r.last_pts >= c.end):
            raise SalcodecError(f"{name}: chunk {c.index} holds {r.frames} frames "
                                f"(pts {r.first_pts}..{r.last_pts}) where the plan has "
                                f"{c.frames} in [{c.start}, {c.end}); output discarded")
        if r.extradata != results[0].extradata or r.time_base != results[0].time_base:
            raise SalcodecError(f"{name}: chunk {c.index} has other SPS/PPS or time base than "
                                "chunk 0 (workers with different libx264?); output discarded")
    total = sum(r.frames for r in results)
    if total != plan.frames:
        raise SalcodecError(f"{name}: chunks hold {total} frames, the input {plan.frames}")


def join_chunks(input: str, output: str | os.PathLike, fmt: str, settings: EncodeSettings,
                plan: ChunkPlan, results: list[ChunkResult], name: str,
                drop: tuple[str, ...] = ()) -> tuple[int, int, int, tuple[int, int]]:
    """Write ``output`` (a temporary path) from the chunks; ``drop``: stream kinds left out.

    Returns (video frames, bytes, streams copied, coded size).
    """
    check_chunks(plan, results, name)
    src = open_input(input)
    first = _first_frame(input)
    dst = av.open(str(output), mode="w", format=fmt, options=muxer_options(fmt, False))
    try:
        vin = video_stream(src, input)
        vout, copies = add_output_streams(src, vin, input, dst, fmt, settings, drop)
        size = (vout.width, vout.height)
        vout.codec_context.flags |= GLOBAL_HEADER  # SPS/PPS out of band, as in the chunks
        carry_video(vin, first, conform_frame(first, vout.width, vout.height,
                                              vout.codec_context.pix_fmt), vout, fmt, input)
        dst.start_encoding()
        if bytes(vout.codec_context.extradata or b"") != results[0].extradata:
            raise SalcodecError(f"{name}: the chunks' SPS/PPS differ from this machine's "
                                "libx264 with the same settings; output discarded")
        tb = Fraction(results[0].time_base)
        video = _video_packets(results, vout, tb, name)
        # The other streams, moved by the shift the chunks' video got.
        others = ((when, False, p) for when, p in copied_packets(src, copies, start_shift(src)))
        merged = heapq.merge(video, others, key=lambda item: item[0])
        frames = nbytes = 0
        for _, is_video, packet in merged:
            if is_video:
                frames += 1
            nbytes += packet.size
            dst.mux(packet)
    finally:
        dst.close()
        src.close()
    written = count_video_packets(output)
    if written != plan.frames:
        raise SalcodecError(f"{name}: output has {written} video frames but input has "
                            f"{plan.frames}; output discarded")
    return written, os.path.getsize(output), len(copies), size


def _first_frame(input: str) -> av.VideoFrame:
    with open_input(input) as src:
        vin = video_stream(src, input)
        for frame in src.decode(vin):
            return frame
    raise SalcodecError(f"{input}: no decodable video frames")


def _video_packets(results, vout, tb: Fraction, name: str):
    last = None
    for r in results:
        for pts, dts, duration, key, payload in unpack_packets(r.packets):
            if last is not None and dts <= last:
                raise SalcodecError(f"{name}: video decode timestamps do not increase at "
                                    f"chunk {r.index} ({dts} after {last}); output discarded")
            last = dts
            p = av.Packet(payload)
            p.pts, p.dts, p.time_base = pts, dts, tb
            if duration:
                p.duration = duration
            p.is_keyframe = key
            p.stream = vout
            yield (dts * tb, True, p)


