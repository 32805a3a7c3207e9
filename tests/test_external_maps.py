"""Maps in and out: --export-map writes a sidecar, --map drives the encoder with external maps."""

import json
import subprocess
import sys

import av
import cv2
import numpy as np
import pytest

import salcodec
from salcodec.errors import SalcodecError
from salcodec.mapfile import MapReader
from salcodec.qpinspect import iter_qp_maps

from .media import CARPHONE, write_clip

FRAMES = 20
W, H = 176, 144  # carphone: 11 x 9 macroblocks


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("maps") / "clip.mp4"
    write_clip(path, CARPHONE, limit=FRAMES)
    return path


def half_map(side: str, w: int = W, h: int = H) -> np.ndarray:
    """A greyscale map whose ``side`` half is white (salient), the other black."""
    m = np.zeros((h, w), np.uint8)
    if side == "left":
        m[:, : w // 2] = 255
    else:
        m[:, w // 2:] = 255
    return m


def image_folder(path, side, n=FRAMES, size=(W, H)):
    path.mkdir()
    for i in range(n):
        cv2.imwrite(str(path / f"map{i + 1}.png"), half_map(side, *size))
    return path


def grey_video(path, side, n=FRAMES):
    with av.open(str(path), "w") as out:
        s = out.add_stream("ffv1", rate=30)
        s.width, s.height, s.pix_fmt = W // 2, H // 2, "gray"  # a smaller map: resized
        for _ in range(n):
            out.mux(s.encode(av.VideoFrame.from_ndarray(half_map(side, W // 2, H // 2),
                                                        format="gray")))
        out.mux(s.encode(None))
    return path


def left_right_qp(path, types="IPB"):
    """Mean realised QP, left half vs right half of the macroblock columns, on ``types`` frames."""
    qp = np.stack([f.qp for f in iter_qp_maps(path) if f.pict_type in types]).astype(float)
    half = qp.shape[2] // 2  # 11 columns: the middle one belongs to neither
    return qp[:, :, :half].mean(), qp[:, :, -half:].mean()


def test_export_then_import_gives_the_identical_bitstream(clip, tmp_path):
    sidecar = tmp_path / "maps.jsonl"
    a = salcodec.encode(clip, tmp_path / "a.mkv", model="lc", export_map=sidecar)
    b = salcodec.encode(clip, tmp_path / "b.mkv", model="lc", map_source=str(sidecar))
    assert (tmp_path / "a.mkv").read_bytes() == (tmp_path / "b.mkv").read_bytes()
    assert a.offsets == b.offsets
    # The sidecar: a header line, then one record per frame with the input's pts.
    lines = sidecar.read_text().splitlines()
    header = json.loads(lines[0])
    assert header["format"] == "salcodec-map"
    assert (header["mb_width"], header["mb_height"]) == (11, 9)
    reader = MapReader(sidecar, W, H)
    records = list(reader)
    reader.close()
    assert [r.frame for r in records] == list(range(FRAMES))
    with av.open(str(clip)) as c:
        pts = sorted(p.pts for p in c.demux(video=0) if p.size)
    assert [r.pts for r in records] == pts
    assert all(r.offsets.shape == (9, 11) and r.importance.shape == (9, 11) for r in records)
    # The offsets vary across the frame and follow the importance (salient = lower QP).
    r = records[0]
    assert r.offsets.std() > 0
    assert np.corrcoef(r.importance.ravel(), r.offsets.ravel())[0, 1] < -0.5


@pytest.mark.parametrize("kind", ["images", "video"])
def test_left_half_map_lowers_the_left_halfs_realised_qp(clip, tmp_path, kind):
    qp, qp_ip = {}, {}
    for side in ("left", "right"):
        source = (image_folder(tmp_path / side, side) if kind == "images"
                  else grey_video(tmp_path / f"{side}.mkv", side))
        out = tmp_path / f"{side}-out.mkv"
        salcodec.encode(clip, out, map_source=str(source))
        qp[side], qp_ip[side] = left_right_qp(out), left_right_qp(out, "IP")
    # Over all frames, the salient half is quantised more finely.
    assert qp["left"][0] < qp["left"][1] - 0.5
    # On I/P frames (where x264 follows the request closely; B-frames inherit
    # QP from skipped blocks) the +-2 QP request shows in full, and it is the
    # map that moved it: the mirrored map on the same clip reverses the sign.
    assert qp_ip["left"][0] < qp_ip["left"][1] - 2
    assert qp_ip["right"][0] > qp_ip["right"][1] + 1
    assert qp_ip["left"][0] < qp_ip["right"][0] - 0.5


def test_map_of_another_length_or_size_is_a_one_line_error(clip, tmp_path):
    short = image_folder(tmp_path / "short", "left", n=FRAMES - 5)
    with pytest.raises(SalcodecError, match=r"has 15 frames but the video has more"):
        salcodec.encode(clip, tmp_path / "o.mkv", map_source=str(short))
    long = image_folder(tmp_path / "long", "left", n=FRAMES + 1)
    with pytest.raises(SalcodecError, match=r"more frames than the video's 20"):
        salcodec.encode(clip, tmp_path / "o.mkv", map_source=str(long))
    wide = image_folder(tmp_path / "wide", "left", size=(320, 100))
    with pytest.raises(SalcodecError, match=r"aspect ratio differs"):
        salcodec.encode(clip, tmp_path / "o.mkv", map_source=str(wide))
    assert not (tmp_path / "o.mkv").exists()


def test_sidecar_of_another_video_is_refused(clip, tmp_path):
    sidecar = tmp_path / "m.jsonl"
    salcodec.encode(clip, tmp_path / "a.mkv", model="centre", export_map=sidecar)
    lines = sidecar.read_text().splitlines()
    # Another grid.
    header = json.loads(lines[0])
    other = tmp_path / "grid.jsonl"
    other.write_text("\n".join([json.dumps({**header, "mb_width": 20}), *lines[1:]]) + "\n")
    with pytest.raises(SalcodecError, match=r"grid 20x9 macroblocks does not match"):
        salcodec.encode(clip, tmp_path / "b.mkv", map_source=str(other))
    # Other timestamps.
    shifted = tmp_path / "pts.jsonl"
    recs = [json.loads(x) for x in lines[1:]]
    recs[3]["pts"] += 1
    shifted.write_text("\n".join([lines[0], *map(json.dumps, recs)]) + "\n")
    with pytest.raises(SalcodecError, match=r"frame 3 has pts .* belongs to another video"):
        salcodec.encode(clip, tmp_path / "b.mkv", map_source=str(shifted))
    # A truncated sidecar.
    cut = tmp_path / "cut.jsonl"
    cut.write_text("\n".join(lines[:11]) + "\n")
    with pytest.raises(SalcodecError, match=r"has 10 frames but the video has more"):
        salcodec.encode(clip, tmp_path / "b.mkv", map_source=str(cut))


def test_cli_map_errors_are_one_line(clip, tmp_path):
    short = image_folder(tmp_path / "short", "left", n=3)
    proc = subprocess.run([sys.executable, "-m", "salcodec", "encode", str(clip),
                           str(tmp_path / "o.mkv"), "--map", str(short)],
                          capture_output=True, text=True)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "has 3 frames but the video has more" in lines[0]
    proc = subprocess.run([sys.executable, "-m", "salcodec", "encode", str(clip),
                           str(tmp_path / "o.mkv"), "--map", str(tmp_path / "nope")],
                          capture_output=True, text=True)
    assert proc.returncode != 0 and len(proc.stderr.strip().splitlines()) == 1
    assert "no such map file or folder" in proc.stderr
