import struct

import av
import numpy as np
import pytest

from salcodec import regions
from salcodec.codecs import roi
from salcodec.errors import RoiBridgeError


def test_records_are_laid_out_exactly_as_avregionofinterest():
    rects = np.array([[0, 16, 32, 64], [16, 48, 0, 176]])
    data = roi.roi_records(rects, np.array([-5.0, 2.25]))
    assert len(data) == 2 * 28
    # uint32 self_size; int top, bottom, left, right; AVRational {num, den}
    assert struct.unpack("<I6i", data[:28]) == (28, 0, 16, 32, 64, -20, 204)
    assert struct.unpack("<I6i", data[28:]) == (28, 16, 48, 0, 176, 9, 204)


def test_records_keep_the_given_order_so_the_first_region_wins():
    # x264 applies the first listed region where regions overlap; the bridge must
    # not reorder or merge what it is given.
    rects = np.array([[0, 64, 0, 64], [0, 32, 0, 32]])
    rec = np.frombuffer(roi.roi_records(rects, [3, -7]), dtype=roi.ROI_DTYPE)
    assert rec["qoffset_num"].tolist() == [12, -28]
    assert rec["bottom"].tolist() == [64, 32]


def test_records_reject_empty_regions_and_clip_offsets():
    with pytest.raises(ValueError):
        roi.roi_records(np.array([[10, 10, 0, 16]]), [1])
    rec = np.frombuffer(roi.roi_records(np.array([[0, 16, 0, 16]]), [80]), dtype=roi.ROI_DTYPE)
    assert rec["qoffset_num"][0] == rec["qoffset_den"][0]  # clipped to qoffset 1


def paint(rects, values, shape, block=16):
    out = np.zeros(shape)
    for (top, bottom, left, right), v in zip(rects, values, strict=True):
        assert (out[top // block:-(-bottom // block), left // block:-(-right // block)] == 0).all()
        out[top // block:-(-bottom // block), left // block:-(-right // block)] = v
    return out


def test_regions_reconstruct_the_offset_map_without_overlap():
    rng = np.random.default_rng(3)
    offsets = rng.integers(-3, 4, size=(9, 11)).astype(float)
    offsets[2:6, 3:9] = -5  # a block that should merge into one rectangle
    rects, values = regions.offsets_to_regions(offsets, 176, 144)
    np.testing.assert_array_equal(paint(rects, values, offsets.shape), offsets)
    assert rects[:, 1].max() <= 144 and rects[:, 3].max() <= 176
    assert 0 not in values
    assert len(rects) < np.count_nonzero(offsets)


def test_regions_are_clipped_to_odd_frame_sizes():
    rects, values = regions.offsets_to_regions(np.full((2, 2), 2.0), 20, 30)
    assert rects.tolist() == [[0, 30, 0, 20]] and values.tolist() == [2.0]


def test_attach_and_read_back():
    frame = av.VideoFrame(176, 144, "yuv420p")
    offsets = np.zeros((9, 11))
    offsets[3:5, 4:7] = -6
    assert regions.attach_roi(frame, offsets) == 1
    rec = roi.frame_roi(frame)
    assert rec[["top", "bottom", "left", "right"]].tolist() == [(48, 80, 64, 112)]
    assert rec["qoffset_num"][0] / rec["qoffset_den"][0] * 51 == pytest.approx(-6)
    # Attaching again replaces, never stacks, the side data.
    offsets[:] = 1
    regions.attach_roi(frame, offsets)
    rec = roi.frame_roi(frame)
    assert len(rec) == 1 and rec["qoffset_num"][0] == 4
    regions.attach_roi(frame, np.zeros((9, 11)))
    assert len(roi.frame_roi(frame)) == 0


def test_pointer_is_verified_against_the_frame():
    frame = av.VideoFrame(64, 48, "yuv420p")
    ptr = roi.avframe_pointer(frame)
    other = av.VideoFrame(64, 48, "yuv420p")
    assert roi.avframe_pointer(other) != ptr
    with pytest.raises(ValueError):
        roi.avframe_pointer(av.VideoFrame(64, 48, "rgb24"))
    with pytest.raises(ValueError):
        regions.attach_roi(frame, np.zeros((2, 2)))


def test_layout_change_fails_loudly_naming_pyav(monkeypatch):
    frame = av.VideoFrame(64, 48, "yuv420p")
    roi.avframe_pointer(frame)
    monkeypatch.setattr(roi, "_frame_ptr_offset", 8)  # pretend PyAV moved the field
    with pytest.raises(RoiBridgeError, match=f"PyAV {av.__version__}"):
        regions.attach_roi(frame, np.ones((3, 4)))


def test_safe_read_does_not_crash_on_bad_addresses():
    assert roi._read(0, 8) is None
    assert roi._read(1, 8) is None
    assert roi._read(0xDEAD0000, 8) is None
    buf = (b"abcdefgh" * 2)
    import ctypes

    c = ctypes.create_string_buffer(buf)
    assert roi._read(ctypes.addressof(c), 16) == buf


def test_payload_matches_regions_and_worker_path_equals_direct_attach():
    rng = np.random.default_rng(5)
    offsets = rng.integers(-4, 5, size=(45, 80)).astype(np.float32)
    payload = regions.roi_payload(offsets, 1280, 720)
    rec = np.frombuffer(payload, dtype=roi.ROI_DTYPE)
    cells = np.stack([rec["top"], rec["bottom"], rec["left"], rec["right"]], axis=1)
    values = rec["qoffset_num"] / rec["qoffset_den"] * 51
    np.testing.assert_allclose(paint(cells, values, offsets.shape), offsets, atol=1e-9)
    a, b = av.VideoFrame(1280, 720, "yuv420p"), av.VideoFrame(1280, 720, "yuv420p")
    assert roi.attach_payload(a, payload) == regions.attach_roi(b, offsets) == len(rec)
    assert roi.frame_roi(a).tobytes() == roi.frame_roi(b).tobytes() == payload
    assert regions.roi_payload(np.zeros((45, 80)), 1280, 720) == b""
    with pytest.raises(ValueError):
        roi.attach_payload(a, b"x" * 27)


def greedy_reference(offsets):
    # The plain-Python raster cover the numpy version replaced: grow each
    # uncovered non-zero block right, then down while the whole span matches.
    q = np.rint(np.asarray(offsets, dtype=float) * 4).astype(int)
    done = np.zeros(q.shape, bool)
    rects, vals = [], []
    for y in range(q.shape[0]):
        for x in range(q.shape[1]):
            v = q[y, x]
            if v == 0 or done[y, x]:
                continue
            x1 = x + 1
            while x1 < q.shape[1] and q[y, x1] == v and not done[y, x1]:
                x1 += 1
            y1 = y + 1
            while y1 < q.shape[0] and (q[y1, x:x1] == v).all() and not done[y1, x:x1].any():
                y1 += 1
            done[y:y1, x:x1] = True
            rects.append((y, y1, x, x1))
            vals.append(v / 4)
    return rects, vals


@pytest.mark.parametrize("seed", range(6))
def test_numpy_regions_cover_the_map_like_the_greedy_reference(seed):
    rng = np.random.default_rng(seed)
    shape = [(9, 11), (45, 80), (68, 120), (1, 7), (5, 1), (3, 3)][seed]
    # Piecewise-constant maps like real offsets: coarse blobs, quarter-QP steps, zeros.
    coarse = rng.integers(-6, 7, size=(max(1, shape[0] // 4), max(1, shape[1] // 4))) / 2
    offsets = np.kron(coarse, np.ones((4, 4)))[:shape[0], :shape[1]]
    offsets = np.pad(offsets, [(0, shape[0] - offsets.shape[0]), (0, shape[1] - offsets.shape[1])])
    offsets[rng.random(shape) < 0.1] = rng.choice([-1.25, 0.0, 3.0])
    h, w = shape[0] * 16 - 5, shape[1] * 16 - 3  # partial edge blocks
    rects, values = regions.offsets_to_regions(offsets, w, h)
    ref_rects, ref_values = greedy_reference(offsets)
    # Both are exact, non-overlapping covers of the non-zero blocks (paint asserts
    # no overlap), clipped to the frame, and merge about as well.
    painted = paint(rects, values, shape)
    np.testing.assert_array_equal(painted, paint(np.array(ref_rects).reshape(-1, 4) * 16,
                                                 ref_values, shape))
    np.testing.assert_array_equal(painted, np.rint(offsets * 4) / 4)
    assert 0 not in values
    assert (rects[:, 1] <= h).all() and (rects[:, 3] <= w).all()
    assert len(rects) <= 2 * len(ref_rects) + 1
    # Raster order of the top-left corners, as x264 reads them.
    order = rects[:, 0] * 10**6 + rects[:, 2]
    assert (np.diff(order) > 0).all()


def test_roi_bridge_does_not_import_regions():
    # roi.py is the unsafe ctypes bridge and stays alone: no import cycle back.
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(roi))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not any(m and "regions" in m for m in imported), imported
    relative = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level}
    # ..errors, and the codec registry's package (PIX_FMTS, bundled_library) ...
    assert relative == {"errors", None}, relative
    # ... whose own module-level imports are errors alone (the encoders load lazily).
    from salcodec import codecs

    top = ast.parse(inspect.getsource(codecs)).body
    pkg = {n.module for n in top if isinstance(n, ast.ImportFrom) and n.level}
    assert pkg == {"errors"}, pkg


def test_one_library_finder_and_one_format_list():
    from salcodec.codecs import PIX_FMTS, bundled_library

    assert roi._lib().path == bundled_library("avutil")
    assert not hasattr(roi, "ROI_PIX_FMTS") and roi.PIX_FMTS is PIX_FMTS


def test_attach_roi_refuses_a_frame_that_is_not_420():
    frame = av.VideoFrame(32, 32, "yuv444p")
    with pytest.raises(ValueError, match="yuv420p or yuv420p10le"):
        regions.attach_roi(frame, np.full((2, 2), -3.0))
