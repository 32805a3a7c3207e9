"""The QP maps read back from decoded H.264: the buffer reader against PyAV's own."""

from types import SimpleNamespace

import av
import numpy as np
import pytest

from salcodec.qpinspect import _h264_map, decoded_qp


def _side_data(frame):
    return next(s for s in frame.side_data if hasattr(s, "qp_map"))


def test_every_frame_equals_pyav_qp_map(data_dir):
    frames = 0
    for frame, qp in decoded_qp(data_dir / "bbb_audio.mp4"):
        expected = _side_data(frame).qp_map()
        assert qp.qp.dtype == np.int32
        np.testing.assert_array_equal(qp.qp, expected)
        frames += 1
        if frames == 40:
            break
    assert frames == 40
    # The fixture's x264 AQ varies the QP within frames: the test compares real maps.
    assert np.ptp(expected) > 0


class _Shifted(bytes):
    """Side data whose records are read one int32 off: what a layout change would do."""

    def __new__(cls, sd):
        self = super().__new__(cls, bytes(sd) + bytes(4))
        self.qp, self.nb_blocks, self.block_size = sd.qp, sd.nb_blocks, sd.block_size
        self.blocks_offset = sd.blocks_offset + 4
        self.qp_map = sd.qp_map
        return self


def test_a_changed_layout_fails_loudly(data_dir):
    with av.open(str(data_dir / "bbb_audio.mp4")) as c:
        s = c.streams.video[0]
        s.codec_context.options = {"export_side_data": "venc_params"}
        frame = next(c.decode(s))
        sd = _side_data(frame)
        w, h = frame.width, frame.height
        np.testing.assert_array_equal(_h264_map(sd, w, h, check=True), sd.qp_map())
        with pytest.raises(RuntimeError, match="block layout"):
            _h264_map(_Shifted(sd), w, h, check=True)
    wrong_grid = SimpleNamespace(nb_blocks=3, qp=30)
    with pytest.raises(RuntimeError, match="3 blocks"):
        _h264_map(wrong_grid, w, h)
