"""Read back the per-macroblock QP that an H.264 or VP9 encoder really used.

Decoding with ``export_side_data=venc_params`` makes FFmpeg's H.264 decoder
attach ``VIDEO_ENC_PARAMS`` side data to every frame; its ``qp_map()`` is the
QP of each macroblock. This is the proof that offsets reached the encoder.
FFmpeg's VP9 decoder exports the frame's base q index (0..255) and, when the
frame is segmented (as ROI makes it), one record per block with its delta;
blocks are 8x8 and larger, so the map is averaged onto the 16x16 grid.
FFmpeg's HEVC decoder exports nothing of the kind: HEVC files are refused
with that reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import av
import numpy as np

from .codecs.x265 import CODEC as CODEC_X265
from .errors import InputError
from .io.decode import open_input, video_stream

_PICT_TYPES = {1: "I", 2: "P", 3: "B", 4: "S", 5: "SI", 6: "SP", 7: "BI"}


@dataclass
class QPFrame:
    """QP map of one decoded frame (presentation order)."""

    index: int
    pict_type: str  # "I", "P" or "B"
    pts: int | None
    qp: np.ndarray  # (mb_h, mb_w): H.264 QP (int32) or VP9 q index (float32, 16x16 mean)


def pict_type(frame: av.VideoFrame) -> str:
    """The picture type of a decoded frame: "I", "P", "B" (or "?")."""
    return _PICT_TYPES.get(int(frame.pict_type), "?")


#: What the quantiser numbers of each readable codec are.
QP_UNITS = {"h264": "H.264 QP (0..51, +12 per 2 bits of depth)",
            "vp9": "VP9 q index (0..255; the --crf scale 0..63 is about a quarter of it)"}
#: Why the others cannot be read back.
NO_QP = {"hevc": CODEC_X265.qp_export}


def frame_qp(frame: av.VideoFrame, path: str | os.PathLike, index: int) -> np.ndarray:
    """The QP map a frame decoded with ``export_side_data=venc_params`` carries.

    H.264: the per-macroblock QP (int32). VP9: the q index of each 16x16
    block (float32 mean of its 8x8 cells).
    """
    sd = next((s for s in frame.side_data if hasattr(s, "qp_map")), None)
    if sd is None:
        raise InputError(f"{path}: decoder exported no QP map for frame {index}")
    if getattr(sd.codec_type, "name", "") == "VP9":
        return _vp9_map(sd, frame.width, frame.height)
    return _h264_map(sd, frame.width, frame.height, check=index == 0)


def _blocks(sd) -> np.ndarray:
    """The side data's AVVideoBlockParams records as rows (src_x, src_y, w, h, delta_qp).

    Read from the buffer at ``blocks_offset``, ``block_size`` bytes apart: the
    layout libavutil documents for AV_FRAME_DATA_VIDEO_ENC_PARAMS.
    """
    raw = np.frombuffer(sd, dtype=np.uint8)
    rows = raw[sd.blocks_offset:sd.blocks_offset + sd.nb_blocks * sd.block_size]
    return rows.view(np.int32).reshape(sd.nb_blocks, sd.block_size // 4)[:, :5]


def _h264_map(sd, width: int, height: int, check: bool = False) -> np.ndarray:
    """Per-macroblock QP: the frame's QP plus each macroblock record's delta.

    The records are read straight from the buffer: PyAV's ``qp_map()`` builds
    one Python object per macroblock (3 ms a 720p frame, as long as the
    decode). ``check`` compares the two, so that a change of layout in a new
    PyAV or FFmpeg fails loudly rather than giving wrong numbers.
    """
    mb_h, mb_w = (height + 15) // 16, (width + 15) // 16
    if sd.nb_blocks != mb_h * mb_w:
        raise RuntimeError(f"QP side data has {sd.nb_blocks} blocks for a {mb_w}x{mb_h} "
                           "macroblock grid")
    blocks = _blocks(sd)
    qp = np.empty((mb_h, mb_w), np.int32)
    qp[blocks[:, 1] // 16, blocks[:, 0] // 16] = sd.qp + blocks[:, 4]
    if check and not np.array_equal(qp, sd.qp_map()):
        raise RuntimeError(f"PyAV {av.__version__}: the QP side data's block layout is not "
                           "what salcodec reads; QP maps cannot be trusted")
    return qp


def _vp9_map(sd, width: int, height: int) -> np.ndarray:
    """Per-16x16 mean q index from VP9's per-block records (base q index when unsegmented)."""
    cells = np.full(((height + 15) // 16 * 2, (width + 15) // 16 * 2), sd.qp, np.float32)
    if sd.nb_blocks:
        for x, y, w, h, d in _blocks(sd).tolist():
            cells[y // 8:(y + h + 7) // 8, x // 8:(x + w + 7) // 8] = sd.qp + d
    return cells.reshape(cells.shape[0] // 2, 2, cells.shape[1] // 2, 2).mean(axis=(1, 3))


def iter_qp_maps(path: str | os.PathLike) -> Iterator[QPFrame]:
    """Yield the per-macroblock QP map of every frame of an H.264 or VP9 file."""
    for _, qp in decoded_qp(path):
        yield qp


def decoded_qp(path: str | os.PathLike) -> Iterator[tuple[av.VideoFrame, QPFrame]]:
    """Each decoded frame with its :class:`QPFrame`, for callers that also read its pixels."""
    with open_input(path) as container:
        stream = video_stream(container, path)
        name = stream.codec_context.name
        if name not in QP_UNITS:
            why = NO_QP.get(name, f"QP maps need H.264 or VP9 video, got {name}")
            raise InputError(f"{path}: {why}")
        stream.codec_context.options = {"export_side_data": "venc_params"}
        # No frame threads: with them FFmpeg's H.264 decoder exported a wrong map
        # (a fifth of the blocks off by up to 9 QP) on 30 of 396 frames of a 720p
        # x264 file, the pixels being right.
        try:
            for index, frame in enumerate(container.decode(stream)):
                yield frame, QPFrame(index, pict_type(frame), frame.pts,
                                     frame_qp(frame, path, index))
        except av.error.FFmpegError as exc:
            raise InputError(f"{path}: corrupt {name} stream ({exc})") from None


def qp_statistics(
    path: str | os.PathLike, keep_frame: int | None = None, progress=None
) -> tuple[dict, np.ndarray | None]:
    """Mean QP per frame type and overall, plus the QP map of frame ``keep_frame``.

    ``progress``, if given, is called with the number of frames read so far.

    Returns
    -------
    stats : dict
        ``frames``, ``mean_qp``, ``min_qp``, ``max_qp``, ``mean_std_qp`` (mean
        within-frame spread), ``by_type`` {type: {frames, mean_qp}}, and with
        ``keep_frame`` found, ``kept`` {index, type, mean_qp}.
    qp_map : ndarray or None
        The map of the requested frame (None if not requested or out of range).
    """
    by_type: dict[str, list[float]] = {}
    spreads: list[float] = []
    lo, hi, kept, kept_type = np.inf, -np.inf, None, None
    for f in iter_qp_maps(path):
        by_type.setdefault(f.pict_type, []).append(float(f.qp.mean()))
        spreads.append(float(f.qp.std()))
        lo, hi = min(lo, int(f.qp.min())), max(hi, int(f.qp.max()))
        if f.index == keep_frame:
            kept, kept_type = f.qp, f.pict_type
        if progress is not None:
            progress(len(spreads))
    means = [m for v in by_type.values() for m in v]
    with open_input(path) as container:
        codec = video_stream(container, path).codec_context.name
    stats = {
        "file": str(path),
        "unit": QP_UNITS.get(codec),
        "frames": len(means),
        "mean_qp": float(np.mean(means)) if means else None,
        "min_qp": int(lo) if means else None,
        "max_qp": int(hi) if means else None,
        "mean_std_qp": float(np.mean(spreads)) if spreads else None,
        "by_type": {
            t: {"frames": len(v), "mean_qp": float(np.mean(v))} for t, v in sorted(by_type.items())
        },
    }
    if kept is not None:
        stats["kept"] = {"index": keep_frame, "type": kept_type, "mean_qp": float(kept.mean())}
    return stats, kept


def qp_heatmap(qp: np.ndarray, block: int = 16, qp_range: tuple[int, int] = (0, 51)) -> np.ndarray:
    """An RGB uint8 heat map of a QP map, one ``block`` x ``block`` tile per macroblock.

    Low QP (more bits) is bright yellow, high QP dark (OpenCV's INFERNO map, reversed).
    """
    import cv2

    lo, hi = qp_range
    scaled = np.clip((hi - np.asarray(qp, dtype=np.float32)) / (hi - lo), 0, 1)
    grey = np.kron((scaled * 255).astype(np.uint8), np.ones((block, block), dtype=np.uint8))
    return cv2.cvtColor(cv2.applyColorMap(grey, cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)
