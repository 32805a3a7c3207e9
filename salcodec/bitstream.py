"""Size of the coded pictures of an H.264 stream: the rate used for RD curves.

File size would count the container, other streams (audio is copied equally
into both arms and dilutes every difference) and x264's SEI settings string.
"""

from __future__ import annotations

import os

import av


def nal_units(data: bytes, length_size: int | None) -> list[bytes]:
    """Split an H.264 access unit into NAL units (length-prefixed, or Annex B)."""
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
    first packet) are not picture data; on a small still clip of 1-2 kB they
    would be a large, equal-for-both-arms share that pulls BD-rates to zero.
    """
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        extra = stream.codec_context.extradata or b""
        # avcC extradata (MP4, Matroska) starts with version 1 and gives the
        # NAL length size; otherwise packets are Annex B with start codes.
        length_size = (extra[4] & 3) + 1 if len(extra) > 4 and extra[0] == 1 else None
        total = 0
        for packet in c.demux(stream):
            if packet.size:
                total += sum(len(u) for u in nal_units(bytes(packet), length_size)
                             if u and u[0] & 0x1F != 6)
        return total
