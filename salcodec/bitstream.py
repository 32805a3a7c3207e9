"""Size of the coded pictures of a video stream: the rate used for RD curves.

File size would count the container, other streams (audio is copied equally
into both arms and dilutes every difference) and x264's or x265's SEI
settings string. VP9 has no SEI: its packets are counted whole.
"""

from __future__ import annotations

import os

from .io.decode import open_input

#: SEI NAL unit types, read from a NAL unit's first byte.
_IS_SEI = {"h264": lambda b: b & 0x1F == 6, "hevc": lambda b: (b >> 1) & 0x3F in (39, 40)}


def nal_units(data: bytes, length_size: int | None) -> list[bytes]:
    """Split an H.264/HEVC access unit into NAL units (length-prefixed, or Annex B)."""
    units = []
    if length_size:
        i = 0
        while i + length_size <= len(data):
            n = int.from_bytes(data[i:i + length_size], "big")
            units.append(data[i + length_size:i + length_size + n])
            i += length_size + n
        return units
    for chunk in data.split(b"\x00\x00\x01"):
        chunk = chunk.rstrip(b"\x00")
        if chunk:
            units.append(chunk)
    return units


def video_payload_bytes(path: str | os.PathLike) -> int:
    """Bytes of the coded pictures: the video packets less their SEI NAL units.

    Container overhead and x264's SEI (its ~700-byte settings string in the
    first packet; x265 writes a longer one) are not picture data; on a small
    still clip of 1-2 kB they would be a large, equal-for-both-arms share that
    pulls BD-rates to zero. Codecs without NAL units (VP9) count whole packets.
    """
    return sum(n for _, n, _ in packet_payloads(path))


def packet_payloads(path: str | os.PathLike) -> list[tuple[int, int, bool]]:
    """``(pts, picture bytes, key frame)`` of each video packet in file order, SEI left out.

    A packet without pts gets its index.
    """
    # open_input: a tiny MPEG-TS output defeats FFmpeg's probe unless told its format.
    with open_input(path) as c:
        stream = c.streams.video[0]
        is_sei = _IS_SEI.get(stream.codec_context.name)
        length_size = None
        if is_sei is not None:
            extra = stream.codec_context.extradata or b""
            # avcC/hvcC extradata (MP4, Matroska) starts with version 1 and gives
            # the NAL length size; otherwise packets are Annex B with start codes.
            at = 4 if stream.codec_context.name == "h264" else 21
            length_size = (extra[at] & 3) + 1 if len(extra) > at and extra[0] == 1 else None
        rows = []
        for packet in c.demux(stream):
            if not packet.size:
                continue
            if is_sei is None:
                n = packet.size
            else:
                n = sum(len(u) for u in nal_units(bytes(packet), length_size)
                        if u and not is_sei(u[0]))
            rows.append((packet.pts if packet.pts is not None else len(rows), n,
                         bool(packet.is_keyframe)))
        return rows
