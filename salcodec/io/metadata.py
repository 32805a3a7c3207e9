"""Carry what describes the picture and the file from input to output.

Rotation (the display matrix), colour primaries/transfer/matrix/range, the
sample aspect ratio, stream tags (language, title), dispositions, file tags
and chapters. Everything is set before the output header is written: PyAV
writes it at the first mux.
"""

from __future__ import annotations

import os
import struct
import warnings

import av

from ..errors import SalcodecWarning
from .containers import check_chapters_fit, check_rotation_fits

#: Tags that describe the old file or encode, which the muxer writes anew.
_RECOMPUTED = {"encoder", "major_brand", "minor_version", "compatible_brands", "vendor_id",
               "duration", "bps", "number_of_frames", "number_of_bytes"}

#: swscale converts RGB to YUV with BT.601 coefficients (its default).
_SMPTE170M = 6


def carried_tags(metadata: dict[str, str]) -> dict[str, str]:
    """Tags worth keeping: all but those the muxer recomputes (mkv statistics...).

    MP4/MOV read a track's title back as ``name``; it is written as ``title``,
    which every muxer understands.
    """
    tags = {k: v for k, v in metadata.items()
            if k.lower() not in _RECOMPUTED and not k.upper().startswith("_STATISTICS")}
    if "name" in tags and "title" not in tags:
        tags["title"] = tags.pop("name")
    return tags


def display_matrix(frame: av.VideoFrame) -> list[int] | None:
    """The frame's 3x3 display matrix (9 int32, FFmpeg's layout), or None."""
    for sd in frame.side_data:
        if sd.type == av.sidedata.sidedata.Type.DISPLAYMATRIX and len(bytes(sd)) == 36:
            matrix = list(struct.unpack("<9i", bytes(sd)))
            identity = [65536, 0, 0, 0, 65536, 0, 0, 0, 1 << 30]
            return None if matrix == identity else matrix
    return None


def carry_video(vin, frame: av.VideoFrame, conformed: av.VideoFrame, vout, fmt: str,
                input: str | os.PathLike) -> None:
    """Give ``vout`` the first decoded ``frame``'s rotation and colour, and ``vin``'s
    aspect ratio, tags and disposition.

    ``conformed`` is that frame as the encoder gets it: its range is the one
    the pixels now have (RGB input becomes limited-range BT.601).
    """
    carry_frame(frame, conformed, vout, fmt, input)
    sar = vin.sample_aspect_ratio or vin.codec_context.sample_aspect_ratio
    if sar and sar != 1:
        vout.codec_context.sample_aspect_ratio = sar
    carry_stream(vin, vout)


def carry_frame(frame: av.VideoFrame, conformed: av.VideoFrame, vout, fmt: str,
                input: str | os.PathLike) -> None:
    """Give ``vout`` what a frame alone says: its rotation and colour (see :func:`carry_video`)."""
    matrix = display_matrix(frame)
    if matrix is not None:
        check_rotation_fits(fmt, frame.rotation, input)
        vout.set_display_matrix(matrix)
    if frame.interlaced_frame:
        # FFmpeg's libx264 applies no ROI offsets to interlaced frames: all are coded progressive.
        warnings.warn(f"{input}: interlaced video is coded as progressive frames, the two "
                      "fields woven as stored (FFmpeg's libx264 applies no saliency offsets "
                      "to interlaced coding); deinterlace it first (e.g. FFmpeg's bwdif "
                      "filter) for progressive displays",
                      SalcodecWarning, stacklevel=2)
    cc = vout.codec_context
    cc.color_primaries = frame.color_primaries
    cc.color_trc = frame.color_trc
    cc.colorspace = _SMPTE170M if frame.format.is_rgb else frame.colorspace
    cc.color_range = conformed.color_range


def carry_stream(src, dst) -> None:
    """Tags (language, title, ...) and disposition of an input stream onto its output."""
    dst.metadata.update(carried_tags(dict(src.metadata)))
    if src.disposition:
        dst.disposition = src.disposition


def carry_container(src, dst, fmt: str, input: str | os.PathLike) -> None:
    """File-level tags (title, creation time, ...) and chapters."""
    dst.metadata.update(carried_tags(dict(src.metadata)))
    chapters = src.chapters()
    check_chapters_fit(fmt, len(chapters), input)
    if chapters:
        dst.set_chapters(chapters)
