"""Where the bits went: realised QP inside vs outside the salient region, and
plain x264's estimated size.

During an encode the stage spools, for every frame, the QP offsets the encoder
was asked to add (:class:`OffsetSpool`: int8 in a temporary file, a frame that
reuses the previous analysis's offsets costs one byte, so memory stays
constant in the video's length). Afterwards the output is decoded once with
``export_side_data=venc_params`` (:func:`realised_report`): the QP each
macroblock really got is averaged inside and outside the most salient blocks
(the lowest offsets), so the user sees that the attended region kept its
quality while the rest paid; and, for H.264, every frame's realised QP and
offsets give plain x264's estimated bytes (:mod:`salcodec.plainest`).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import tempfile

import numpy as np

from .io.conform import plane_array
from .plainest import PlainEstimate

_SAME, _NEW = b"\x00", b"\x01"


class OffsetSpool:
    """Per-frame integer QP offsets, spooled to a temporary file in order.

    Offsets are whole QP (the mapper's are integers) stored as int8; a frame
    given the very array of the frame before (frames between two analyses
    share one) is stored as a one-byte repeat.
    """

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(prefix="salcodec-offsets-")
        self.shape: tuple[int, int] | None = None
        self.frames = 0
        self._last = None

    def write(self, offsets: np.ndarray) -> None:
        if offsets is self._last:
            self._file.write(_SAME)
            self.frames += 1
            return
        arr = np.asarray(offsets)
        if self.shape is None:
            self.shape = arr.shape
        elif arr.shape != self.shape:
            raise ValueError(f"offsets shape changed from {self.shape} to {arr.shape}")
        # The encoders take at most +-51 (x264) or +-63 (VP9): int8 holds what they get.
        q = np.clip(np.rint(arr), -127, 127).astype(np.int8)
        self._file.write(_NEW + q.tobytes())
        self._last = offsets
        self.frames += 1

    def read(self):
        """Yield the offsets in the order written (repeats as the same array)."""
        if self.shape is None:
            return
        n = self.shape[0] * self.shape[1]
        self._file.seek(0)
        current = None
        for _ in range(self.frames):
            if self._file.read(1) == _NEW:
                current = np.frombuffer(self._file.read(n), dtype=np.int8).reshape(self.shape)
            yield current

    def close(self) -> None:
        self._file.close()


def qp_frames(path: str | os.PathLike, texture: bool = False):
    """Each frame's :class:`~salcodec.qpinspect.QPFrame` and, with ``texture``, its
    macroblocks' weights (:func:`salcodec.plainest.block_texture`, else None).

    :func:`salcodec.qpinspect.iter_qp_maps` with the decoded luma put to use
    before the frame is dropped (one decode for both).
    """
    from .plainest import block_texture
    from .qpinspect import decoded_qp

    for frame, qp in decoded_qp(path):
        yield qp, block_texture(luma_plane(frame), qp.qp.shape) if texture else None


def luma_plane(frame) -> np.ndarray:
    """The luma plane of a decoded 8- or 16-bit-per-sample YUV frame, without a copy."""
    return plane_array(frame.planes[0],
                       np.uint16 if frame.format.components[0].bits > 8 else np.uint8)


def realised_report(path: str | os.PathLike, offsets, file_bytes: int | None = None,
                    importance=None) -> tuple[dict, dict]:
    """Mean realised QP inside and outside the salient blocks, and plain x264's estimate.

    One decode of the output (:func:`qp_frames`) and, for the estimate, one
    demux for the frames' sizes.

    Parameters
    ----------
    path : path
        The encoded H.264 (or VP9: q index) file.
    offsets : iterable of ndarray, shape (mb_h, mb_w)
        The requested offsets of each frame in presentation order (an
        :meth:`OffsetSpool.read`); frames beyond them, or with another grid,
        are not counted.
    file_bytes : int, optional
        The output file's size: also estimate plain x264's size (H.264 only,
        see :mod:`salcodec.plainest`).
    importance : iterable of ndarray, optional
        Each frame's per-macroblock importance (a map sidecar's): also report
        the QP where the ``attended`` budget anchors (``weighted``, ``peak``).

    Returns
    -------
    qp : dict
        ``inside``, ``outside``: mean QP of the most salient blocks of each
        frame and of the rest (None when a side has no block);
        ``attended_share``: fraction of the blocks inside; ``frames``: frames counted.
        With ``importance``: ``weighted``, the mean QP under
        :func:`salcodec.qpmap.attended_weights` of each frame's importance (the
        weights the ``attended`` budget anchors its offsets on), and ``peak``,
        the mean QP of each frame's :data:`PEAK_SHARE` most important blocks
        (at least one; ties broken by position); None when no frame pairs.
    plain_estimate : dict
        :meth:`salcodec.plainest.PlainEstimate.result`; empty without ``file_bytes``.
    """
    from .encoder import salient_blocks
    from .sizeproxy import FrameSizes

    # Coded bytes of each frame in presentation order, as the decoder yields them.
    sizes = (FrameSizes.of_file(path).bytes.astype(np.int64).tolist()
             if file_bytes is not None else [])
    estimate = PlainEstimate() if file_bytes is not None else None
    sums, counts = np.zeros(2), np.zeros(2)
    attention = _Attention() if importance is not None else None
    frames = paired = 0
    last, mask = None, None
    for (qp_frame, weights), off, imp in zip(
            qp_frames(path, estimate is not None), offsets,
            itertools.repeat(None) if importance is None else importance, strict=False):
        qp = qp_frame.qp
        if attention is not None:
            attention.add(qp, imp)
        if estimate is not None and qp_frame.index < len(sizes):
            estimate.add(sizes[qp_frame.index], qp, off, weights)
            paired += 1
        if qp.shape != off.shape:
            continue
        if off is not last:
            last, mask = off, salient_blocks(off)
        sums += (float(qp[mask].sum()), float(qp[~mask].sum()))
        counts += (int(mask.sum()), int((~mask).sum()))
        frames += 1
    mean = [float(s / c) if c else None for s, c in zip(sums, counts, strict=True)]
    total = counts.sum()
    qp = {"inside": mean[0], "outside": mean[1],
          "attended_share": float(counts[0] / total) if total else None, "frames": frames,
          **(attention.result() if attention is not None else {})}
    if estimate is None:
        return qp, {}
    for n in sizes[paired:]:  # frames without offsets: counted at their own size
        estimate.add(n, None, None)
    return qp, estimate.result(file_bytes)


def realised_in_map_blocks(path: str | os.PathLike, sidecar: str | os.PathLike) -> dict:
    """:func:`realised_report`'s ``qp`` for ``path``, in the salient blocks of a map sidecar.

    The sidecar is one written by ``encode --export-map`` (:mod:`salcodec.mapfile`) for
    another encode of the same video: so plain x264's realised QP is read in the very
    blocks salcodec called salient (``salcodec demo``, ``benchmarks.same_crf``). The
    answer also has ``weighted`` and ``peak``: the QP where the map's importance says
    the ``attended`` budget anchors (see :func:`realised_report`).
    """
    with _sidecar(path, sidecar) as records:
        # Read in step, one record at a time (tee holds only the one between).
        a, b = itertools.tee(records)
        return realised_report(path, (r.offsets for r in a),
                               importance=(r.importance for r in b))[0]


#: Share of a frame's blocks that counts as the map's peak (``realised_report``'s ``peak``).
PEAK_SHARE = 0.02


class _Attention:
    """Sums for :func:`realised_report`'s ``weighted`` and ``peak`` QP, frame by frame."""

    def __init__(self) -> None:
        self.weighted, self.peak = np.zeros(2), np.zeros(2)

    def add(self, qp: np.ndarray, imp: np.ndarray | None) -> None:
        from .qpmap import attended_weights

        if imp is None or imp.shape != qp.shape:
            return
        w = attended_weights(imp)
        self.weighted += (float((w * qp).sum()), float(w.sum()))
        top = np.argsort(imp.ravel(), kind="stable")[-max(1, round(PEAK_SHARE * imp.size)):]
        self.peak += (float(qp.ravel()[top].sum()), top.size)

    def result(self) -> dict:
        w, p = self.weighted, self.peak
        return {"weighted": float(w[0] / w[1]) if w[1] else None,
                "peak": float(p[0] / p[1]) if p[1] else None}


@contextlib.contextmanager
def _sidecar(path: str | os.PathLike, sidecar: str | os.PathLike):
    """The records of a map sidecar, for the macroblock grid of the video at ``path``."""
    import av

    from .mapfile import MapReader

    with av.open(os.fspath(path)) as c:
        ctx = c.streams.video[0].codec_context
        width, height = ctx.width, ctx.height
    reader = MapReader(sidecar, width, height)
    try:
        yield reader
    finally:
        reader.close()
