"""Where the bits went: realised QP inside vs outside the salient region.

During an encode the stage writes, for every frame, which macroblocks were
"attended": those whose requested offset is at most zero, i.e. that keep
x264's own QP or get more bits (:class:`MaskSpool`, packed bits in a temporary
file, so memory stays constant in the video's length). Afterwards the output
is decoded with ``export_side_data=venc_params`` and the QP each macroblock
really got is averaged inside and outside those masks
(:func:`qp_by_region`): the user sees that the attended region kept its
quality while the rest paid.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from .qpinspect import iter_qp_maps


class MaskSpool:
    """Per-frame boolean macroblock masks, spooled to a temporary file in order."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(prefix="salcodec-masks-")
        self.shape: tuple[int, int] | None = None
        self.frames = 0

    def write(self, mask: np.ndarray) -> None:
        mask = np.asarray(mask, dtype=bool)
        if self.shape is None:
            self.shape = mask.shape
        elif mask.shape != self.shape:
            raise ValueError(f"mask shape changed from {self.shape} to {mask.shape}")
        self._file.write(np.packbits(mask, axis=None).tobytes())
        self.frames += 1

    def read(self):
        """Yield the masks in the order written."""
        if self.shape is None:
            return
        n = self.shape[0] * self.shape[1]
        size = (n + 7) // 8
        self._file.seek(0)
        for _ in range(self.frames):
            bits = np.frombuffer(self._file.read(size), dtype=np.uint8)
            yield np.unpackbits(bits, count=n).astype(bool).reshape(self.shape)

    def close(self) -> None:
        self._file.close()


def qp_by_region(path: str | os.PathLike, masks) -> dict:
    """Mean realised QP of an H.264 (or VP9: q index) file inside and outside per-frame masks.

    Parameters
    ----------
    path : path
        The encoded H.264 file.
    masks : iterable of ndarray of bool, shape (mb_h, mb_w)
        One mask per frame in presentation order (True = attended); frames
        beyond the masks, or with another grid, are not counted.

    Returns
    -------
    dict
        ``inside``, ``outside``: mean QP (None when a side has no block);
        ``attended_share``: fraction of the blocks inside; ``frames``: frames counted.
    """
    sums = np.zeros(2)
    counts = np.zeros(2)
    frames = 0
    for qp_frame, mask in zip(iter_qp_maps(path), masks, strict=False):
        qp = qp_frame.qp
        if qp.shape != mask.shape:
            continue
        sums += (float(qp[mask].sum()), float(qp[~mask].sum()))
        counts += (int(mask.sum()), int((~mask).sum()))
        frames += 1
    mean = [float(s / c) if c else None for s, c in zip(sums, counts, strict=True)]
    total = counts.sum()
    return {"inside": mean[0], "outside": mean[1],
            "attended_share": float(counts[0] / total) if total else None, "frames": frames}
