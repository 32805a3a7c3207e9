"""ctypes bridge: attach AV_FRAME_DATA_REGIONS_OF_INTEREST to a PyAV VideoFrame.

PyAV has no API to add frame side data, so this module loads the libavutil that
PyAV's wheel bundles, finds the frame's ``AVFrame*`` inside PyAV's Cython
object, and calls ``av_frame_new_side_data``. It is the one unsafe spot of the
project, kept small on purpose:

* memory is probed with ``write(2)`` into a pipe, which reports a bad address as
  ``EFAULT`` instead of crashing, so a changed PyAV layout cannot segfault us;
* the candidate ``AVFrame*`` must prove itself: ``data[0]`` equals the plane
  buffer PyAV reports, and width, height and pixel format match the frame;
* the side-data type number is checked by name with ``av_frame_side_data_name``.

When any check fails, :class:`~salcodec.errors.RoiBridgeError` names the PyAV
version. The supported PyAV versions are pinned in pyproject.toml.

It imports nothing else of salcodec but its errors and, from the codec registry
(:mod:`salcodec.codecs`), the list of 4:2:0 formats and the bundled-library
finder: offset maps become records
in :mod:`salcodec.regions`, which calls into this module, never the reverse.
"""

from __future__ import annotations

import ctypes
import os
import threading
from pathlib import Path

import av
import numpy as np

from ..errors import RoiBridgeError
from . import PIX_FMTS, bundled_library

AV_FRAME_DATA_REGIONS_OF_INTEREST = 18
#: libx264 maps qoffset in [-1, 1] to QP by multiplying with 51 (8-bit).
X264_QP_RANGE = 51

#: ``AVRegionOfInterest``: uint32 self_size; int top, bottom, left, right; AVRational qoffset.
ROI_DTYPE = np.dtype(
    [("self_size", "<u4"), ("top", "<i4"), ("bottom", "<i4"), ("left", "<i4"),
     ("right", "<i4"), ("qoffset_num", "<i4"), ("qoffset_den", "<i4")]
)
assert ROI_DTYPE.itemsize == 28

# AVFrame offsets (libavutil 57-60): data[8] at 0, width/height at 104/108, format at 116.
_AVFRAME_WIDTH, _AVFRAME_HEIGHT, _AVFRAME_FORMAT = 104, 108, 116


class _AvUtil:
    """The libavutil that PyAV itself loaded, with the few functions we need."""

    def __init__(self) -> None:
        path = _find_libavutil()
        try:
            lib = ctypes.CDLL(path)
        except OSError as exc:
            raise _error(f"cannot load {path}: {exc}") from None
        lib.av_frame_new_side_data.restype = ctypes.c_void_p
        lib.av_frame_new_side_data.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
        lib.av_frame_remove_side_data.restype = None
        lib.av_frame_remove_side_data.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.av_frame_get_side_data.restype = ctypes.c_void_p
        lib.av_frame_get_side_data.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.av_frame_side_data_name.restype = ctypes.c_char_p
        lib.av_frame_side_data_name.argtypes = [ctypes.c_int]
        lib.av_get_pix_fmt.restype = ctypes.c_int
        lib.av_get_pix_fmt.argtypes = [ctypes.c_char_p]
        self.pix_fmts = {name: lib.av_get_pix_fmt(name.encode()) for name in PIX_FMTS}
        name = lib.av_frame_side_data_name(AV_FRAME_DATA_REGIONS_OF_INTEREST)
        if name != b"Regions Of Interest":
            raise _error(f"side-data type {AV_FRAME_DATA_REGIONS_OF_INTEREST} is {name!r}")
        self.lib = lib
        self.path = path


def _error(cause: str) -> RoiBridgeError:
    return RoiBridgeError(
        f"ROI bridge to FFmpeg failed with PyAV {av.__version__}: {cause}; "
        "salcodec supports the PyAV versions pinned in its pyproject.toml "
        "(use --no-saliency to encode without ROI)"
    )


def _find_libavutil() -> str:
    """PyAV's libavutil (its wheel's, else the system's), or a loud :func:`_error`."""
    path = bundled_library("avutil")
    if path:
        return path
    raise _error(f"no libavutil found beside PyAV in {Path(av.__file__).resolve().parent}")


_avutil: _AvUtil | None = None
_avutil_lock = threading.Lock()
_frame_ptr_offset: int | None = None


def _lib() -> _AvUtil:
    global _avutil
    with _avutil_lock:
        if _avutil is None:
            _avutil = _AvUtil()
        return _avutil


class _MemoryProbe:
    """Reads memory through write(2) into a pipe: a bad address gives EFAULT, not a crash.

    One pipe per process, reused under a lock (a pipe per read cost 0.1 s of
    main-thread time per 132 frames); re-created after a fork.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = -1
        self._fds = (-1, -1)
        lib = ctypes.CDLL(None, use_errno=True)
        lib.write.restype = ctypes.c_ssize_t
        lib.write.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t]
        self._write = lib.write

    def read(self, address: int, size: int) -> bytes | None:
        if address <= 0:
            return None
        with self._lock:
            if self._pid != os.getpid():
                self._fds, self._pid = os.pipe(), os.getpid()
            r, w = self._fds
            n = self._write(w, ctypes.c_void_p(address), size)
            return os.read(r, size) if n == size else None


_probe: _MemoryProbe | None = None


def _read(address: int, size: int) -> bytes | None:
    """Read ``size`` bytes at ``address``, or None if the address is not readable."""
    global _probe
    if _probe is None:
        _probe = _MemoryProbe()
    return _probe.read(address, size)


def _looks_like_avframe(ptr: int, frame: av.VideoFrame) -> bool:
    head = _read(ptr, _AVFRAME_FORMAT + 4)
    if head is None:
        return False
    data0 = int.from_bytes(head[0:8], "little")
    width = int.from_bytes(head[_AVFRAME_WIDTH:_AVFRAME_WIDTH + 4], "little", signed=True)
    height = int.from_bytes(head[_AVFRAME_HEIGHT:_AVFRAME_HEIGHT + 4], "little", signed=True)
    fmt = int.from_bytes(head[_AVFRAME_FORMAT:_AVFRAME_FORMAT + 4], "little", signed=True)
    return (
        data0 == frame.planes[0].buffer_ptr
        and (width, height) == (frame.width, frame.height)
        and fmt == _lib().pix_fmts[frame.format.name]
    )


def avframe_pointer(frame: av.VideoFrame) -> int:
    """Return the address of the ``AVFrame`` behind a 4:2:0 PyAV ``VideoFrame``.

    The field's offset inside PyAV's object is discovered once (every
    pointer-sized slot of the object is probed safely) and verified on every call.
    """
    global _frame_ptr_offset
    if frame.format.name not in PIX_FMTS:
        raise ValueError(f"ROI needs a {' or '.join(PIX_FMTS)} frame, "
                         f"got {frame.format.name}")
    base = id(frame)
    size = type(frame).__basicsize__

    def slot(offset: int) -> int:
        raw = _read(base + offset, 8)
        return int.from_bytes(raw, "little") if raw else 0

    if _frame_ptr_offset is not None:
        ptr = slot(_frame_ptr_offset)
        if _looks_like_avframe(ptr, frame):
            return ptr
        raise _error("the AVFrame field of av.VideoFrame no longer verifies")
    for offset in range(8, size - 7, 8):  # skip the refcount at offset 0
        ptr = slot(offset)
        if _looks_like_avframe(ptr, frame):
            _frame_ptr_offset = offset
            return ptr
    raise _error("cannot locate the AVFrame inside av.VideoFrame")


def roi_records(rects: np.ndarray, offsets: np.ndarray, qp_range: int = X264_QP_RANGE,
                truncates: bool = False) -> bytes:
    """Pack regions into the ``AVRegionOfInterest`` array FFmpeg expects.

    Parameters
    ----------
    rects : ndarray, shape (N, 4), int
        ``top, bottom, left, right`` in pixels (bottom/right exclusive).
    offsets : ndarray, shape (N,)
        QP offsets (QP units, may be fractional; resolution 1/4 QP).
    qp_range : int
        The encoder's QP scale: qoffset = offset / qp_range (51 for 8-bit x264).
    truncates : bool
        The encoder truncates ``qoffset x qp_range`` toward zero in single
        precision (libvpxenc.c), which would turn -2.75 into -2: offsets are
        rounded to whole steps and written half a step further out, so ``k``
        arrives as ``k`` whatever the float rounding.

    Returns
    -------
    bytes
        ``N * 28`` bytes, records in the given order (the encoder gives the
        FIRST listed region priority where regions overlap).
    """
    rects = np.asarray(rects, dtype=np.int64).reshape(-1, 4)
    offsets = np.asarray(offsets, dtype=np.float64).reshape(-1)
    if len(rects) != len(offsets):
        raise ValueError("rects and offsets differ in length")
    if np.any(rects[:, 1] <= rects[:, 0]) or np.any(rects[:, 3] <= rects[:, 2]):
        raise ValueError("empty region (bottom <= top or right <= left)")
    if truncates:
        den = qp_range * 2
        k = np.clip(np.rint(offsets), -qp_range, qp_range)
        num = 2 * k + np.sign(k)
    else:
        den = qp_range * 4
        num = np.clip(np.rint(offsets * 4), -den, den)
    rec = np.zeros(len(rects), dtype=ROI_DTYPE)
    rec["self_size"] = ROI_DTYPE.itemsize
    rec["top"], rec["bottom"] = rects[:, 0], rects[:, 1]
    rec["left"], rec["right"] = rects[:, 2], rects[:, 3]
    rec["qoffset_num"] = num
    rec["qoffset_den"] = den
    return rec.tobytes()


def attach_payload(frame: av.VideoFrame, payload: bytes) -> int:
    """Attach packed ``AVRegionOfInterest`` records to ``frame``, replacing any ROI.

    ``payload`` comes from :func:`roi_records` (for a per-macroblock offset
    map: :func:`salcodec.regions.roi_payload`, or
    :func:`salcodec.regions.attach_roi` in one call); an empty payload just
    removes ROI. Returns the number of records attached.
    """
    if len(payload) % ROI_DTYPE.itemsize:
        raise ValueError("payload is not a whole number of AVRegionOfInterest records")
    lib = _lib().lib
    ptr = avframe_pointer(frame)
    lib.av_frame_remove_side_data(ptr, AV_FRAME_DATA_REGIONS_OF_INTEREST)
    if not payload:
        return 0
    side = lib.av_frame_new_side_data(ptr, AV_FRAME_DATA_REGIONS_OF_INTEREST, len(payload))
    if not side:
        raise MemoryError("av_frame_new_side_data failed")
    data_ptr, size = _side_data_buffer(side)
    if not data_ptr or size != len(payload):
        raise _error("unexpected AVFrameSideData layout")
    ctypes.memmove(data_ptr, payload, len(payload))
    return len(payload) // ROI_DTYPE.itemsize


def frame_roi(frame: av.VideoFrame) -> np.ndarray:
    """Read back the ROI records attached to a frame (structured array; empty if none).

    Read through libavutil, not ``frame.side_data``: PyAV caches that view, and
    the cache goes stale once side data is added or removed behind its back.
    """
    side = _lib().lib.av_frame_get_side_data(avframe_pointer(frame),
                                             AV_FRAME_DATA_REGIONS_OF_INTEREST)
    if not side:
        return np.zeros(0, dtype=ROI_DTYPE)
    data_ptr, size = _side_data_buffer(side)
    return np.frombuffer(ctypes.string_at(data_ptr, size), dtype=ROI_DTYPE).copy()


def _side_data_buffer(side: int) -> tuple[int, int]:
    # AVFrameSideData: {enum type; uint8_t *data; size_t size; ...}
    return (ctypes.c_void_p.from_address(side + 8).value or 0,
            ctypes.c_size_t.from_address(side + 16).value)
