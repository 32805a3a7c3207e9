"""Read back the per-macroblock QP that an H.264 encoder really used.

Decoding with ``export_side_data=venc_params`` makes FFmpeg's H.264 decoder
attach ``VIDEO_ENC_PARAMS`` side data to every frame; its ``qp_map()`` is the
QP of each macroblock. This is the proof that offsets reached the encoder.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import av
import numpy as np

from .decode import open_input, video_stream
from .errors import InputError

_PICT_TYPES = {1: "I", 2: "P", 3: "B", 4: "S", 5: "SI", 6: "SP", 7: "BI"}


@dataclass
class QPFrame:
    """QP map of one decoded frame (presentation order)."""

    index: int
    pict_type: str  # "I", "P" or "B"
    pts: int | None
    qp: np.ndarray  # (mb_h, mb_w) int32


def pict_type(frame: av.VideoFrame) -> str:
    """The picture type of a decoded frame: "I", "P", "B" (or "?")."""
    return _PICT_TYPES.get(int(frame.pict_type), "?")


def frame_qp(frame: av.VideoFrame, path: str | os.PathLike, index: int) -> np.ndarray:
    """The QP map a frame decoded with ``export_side_data=venc_params`` carries (int32)."""
    sd = next((s for s in frame.side_data if hasattr(s, "qp_map")), None)
    if sd is None:
        raise InputError(f"{path}: decoder exported no QP map for frame {index}")
    return sd.qp_map().astype(np.int32)


def iter_qp_maps(path: str | os.PathLike) -> Iterator[QPFrame]:
    """Yield the per-macroblock QP map of every frame of an H.264 file."""
    with open_input(path) as container:
        stream = video_stream(container, path)
        if stream.codec_context.name != "h264":
            raise InputError(f"{path}: QP maps need H.264 video, got {stream.codec_context.name}")
        stream.codec_context.options = {"export_side_data": "venc_params"}
        try:
            for index, frame in enumerate(container.decode(stream)):
                yield QPFrame(index, pict_type(frame), frame.pts, frame_qp(frame, path, index))
        except av.error.FFmpegError as exc:
            raise InputError(f"{path}: corrupt H.264 stream ({exc})") from None


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
    stats = {
        "file": str(path),
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
