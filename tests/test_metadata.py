"""Nothing dropped: rotation, colour, aspect ratio, tags, chapters, faststart, timestamps."""

import struct
from fractions import Fraction

import av
import numpy as np
import pytest

import salcodec
from salcodec.transcode import count_video_packets

from .media import CARPHONE, DATA, audio_payloads, frames

pytestmark = pytest.mark.filterwarnings("ignore::salcodec.errors.SalcodecWarning")

FAST = {"model": "lc", "preset": "ultrafast"}
BBB = DATA / "bbb_audio.mp4"


def phone_clip(path, *, rotation=-90, n=10, audio_codec=None, chapters=True):
    """A 'phone' clip: display matrix, BT.709 full range, SAR 4:3, tags, chapters.

    Audio (when asked) is made from bbb's AAC track decoded and re-encoded."""
    with av.open(str(path), "w") as out:
        out.metadata["title"] = "A walk"
        v = out.add_stream("libx264", rate=30)
        v.width, v.height, v.pix_fmt = 176, 144, "yuv420p"
        v.time_base = Fraction(1, 30)
        if rotation:
            v.set_display_rotation(rotation)
        cc = v.codec_context
        cc.color_primaries, cc.color_trc, cc.colorspace, cc.color_range = 1, 1, 1, 2
        cc.sample_aspect_ratio = Fraction(4, 3)
        v.metadata["language"] = "fra"
        v.metadata["title"] = "camera"
        a = None
        if audio_codec:
            a = out.add_stream(audio_codec, rate=48000)
            a.codec_context.options = {"strict": "experimental"}  # FFmpeg's own vorbis
            a.metadata["language"] = "spa"  # same code in ISO 639-2/B and /T (MOV)
        out.set_chapters([] if not chapters else [
            {"id": 1, "start": 0, "end": 5, "time_base": Fraction(1, 30),
             "metadata": {"title": "start"}},
            {"id": 2, "start": 5, "end": n, "time_base": Fraction(1, 30),
             "metadata": {"title": "end"}},
        ])
        for i, f in enumerate(frames(CARPHONE, n)):
            g = f.reformat(format="yuv420p")
            g.pts, g.time_base, g.pict_type = i, Fraction(1, 30), 0
            out.mux(v.encode(g))
        out.mux(v.encode(None))
        if a is not None:
            t = 0
            with av.open(str(BBB)) as src:
                for af in src.decode(audio=0):
                    if t > n / 30 * 48000:
                        break
                    af.pts = None
                    for p in a.encode(af):
                        out.mux(p)
                    t += af.samples
            out.mux(a.encode(None))
    return path


def with_subtitles(video, path):
    """``video`` plus a SubRip track, remuxed into Matroska."""
    srt = path.with_suffix(".srt")
    srt.write_text("1\n00:00:00,000 --> 00:00:00,200\nHello\n\n")
    with av.open(str(video)) as v, av.open(str(srt)) as t, av.open(str(path), "w") as out:
        pairs = [(c, s, out.add_stream_from_template(s)) for c in (v, t) for s in c.streams]
        for c, s, o in pairs:
            for p in c.demux(s):
                if p.size:  # Matroska gives the first B-frame packets no dts: keep them
                    p.stream = o
                    out.mux(p)
    return path


def decoded(path):
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        f = next(c.decode(v))
        return {"rotation": f.rotation, "primaries": int(f.color_primaries),
                "trc": int(f.color_trc), "matrix": int(f.colorspace),
                "range": int(f.color_range), "sar": v.sample_aspect_ratio,
                "language": v.metadata.get("language"),
                "title": v.metadata.get("title") or v.metadata.get("name"),
                "file_title": c.metadata.get("title"),
                "chapters": [ch["metadata"].get("title") for ch in c.chapters()],
                "audio_language": [a.metadata.get("language") for a in c.streams.audio]}


@pytest.mark.parametrize("ext", ["mp4", "mov", "mkv"])
def test_phone_clip_keeps_rotation_colour_sar_tags_and_chapters(tmp_path, ext):
    src = phone_clip(tmp_path / "phone.mp4", audio_codec="aac")
    want = decoded(src)
    assert want["rotation"] == -90 and want["range"] == 2  # the fixture is what it claims
    out = tmp_path / f"out.{ext}"
    r = salcodec.encode(src, out, **FAST)
    assert r.frames_out == 10 and r.copied_streams == 1
    assert decoded(out) == want
    assert audio_payloads(out) == audio_payloads(src)


def test_flipped_display_matrix_is_copied_exactly(tmp_path):
    src = tmp_path / "flip.mkv"
    with av.open(str(src), "w") as out:
        v = out.add_stream("libx264", rate=30)
        v.width, v.height, v.pix_fmt = 176, 144, "yuv420p"
        v.set_display_rotation(90, hflip=True)
        for i, f in enumerate(frames(CARPHONE, 4)):
            g = f.reformat(format="yuv420p")
            g.pts, g.time_base = i, Fraction(1, 30)
            out.mux(v.encode(g))
        out.mux(v.encode(None))

    def matrix(path):
        with av.open(str(path)) as c:
            f = next(c.decode(video=0))
            return [struct.unpack("<9i", bytes(sd)) for sd in f.side_data
                    if sd.type.name == "DISPLAYMATRIX"]

    salcodec.encode(src, tmp_path / "o.mp4", **FAST)
    assert matrix(tmp_path / "o.mp4") == matrix(src) != []


def test_rotation_and_chapters_refused_where_the_container_cannot_store_them(tmp_path):
    src = phone_clip(tmp_path / "phone.mp4", chapters=False)
    with pytest.raises(salcodec.SalcodecError, match="rotated -90 degrees.*mpegts"):
        salcodec.encode(src, tmp_path / "o.ts", **FAST)
    flat = phone_clip(tmp_path / "flat.mp4", rotation=0, chapters=True)
    with pytest.raises(salcodec.SalcodecError, match="2 chapters.*mpegts"):
        salcodec.encode(flat, tmp_path / "o.ts", **FAST)
    assert not (tmp_path / "o.ts").exists()


def test_mp4_output_has_its_index_first(tmp_path):
    out = tmp_path / "o.mp4"
    salcodec.encode(BBB, out, **FAST)
    data = out.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # faststart: plays while downloading
    with open(BBB, "rb") as f:
        raw = f.read()
    assert raw.index(b"moov") > raw.index(b"mdat")  # the input was not


@pytest.mark.parametrize("codec, ext, words", [
    ("libvorbis", "mp4", ["audio stream #1 (vorbis)", "cannot go into mp4", ".mkv"]),
    ("vorbis", "mp4", ["audio stream #1 (vorbis)", "cannot go into mp4", ".mkv"]),
    ("libopus", "mp4", None),  # Opus in MP4 is standard: copied
    ("libopus", "mov", ["audio stream #1 (opus)", "cannot go into mov"]),  # MP4 only
])
def test_audio_the_container_cannot_hold_is_a_one_line_error(tmp_path, codec, ext, words):
    if codec not in av.codecs_available:
        pytest.skip(f"{codec} not in this FFmpeg")
    src = phone_clip(tmp_path / "in.mkv", rotation=0, audio_codec=codec)
    out = tmp_path / f"o.{ext}"
    if words is None:
        assert salcodec.encode(src, out, **FAST).copied_streams == 1
        return
    with pytest.raises(salcodec.SalcodecError) as err:
        salcodec.encode(src, out, **FAST)
    for w in words:
        assert w in str(err.value)
    assert not out.exists() and list(tmp_path.iterdir()) == [src]
    assert salcodec.encode(src, tmp_path / "o.mkv", **FAST).copied_streams == 1


def test_every_stream_that_does_not_fit_is_named_at_once(tmp_path):
    # One retry must be enough: all misfits in one line, and only containers
    # that hold them all (MOV holds PCM but not SubRip).
    pcm = phone_clip(tmp_path / "pcm.mkv", rotation=0, audio_codec="pcm_s16le")
    with pytest.raises(salcodec.SalcodecError) as err:
        salcodec.encode(pcm, tmp_path / "o.mp4", **FAST)
    assert "audio stream #1 (pcm_s16le) cannot go into mp4; use .mov" in str(err.value)
    both = with_subtitles(pcm, tmp_path / "both.mkv")
    with pytest.raises(salcodec.SalcodecError) as err:
        salcodec.encode(both, tmp_path / "o.mp4", **FAST)
    msg = str(err.value)
    assert "(pcm_s16le) and subtitle stream #2 (srt)" in msg and ".mkv" in msg, msg
    assert ".mov" not in msg and "nut" not in msg
    assert msg.endswith("or leave them out (encode -an -sn; drop= in Python)")
    assert salcodec.encode(pcm, tmp_path / "o.mov", **FAST).copied_streams == 1
    # Or left out, as ffmpeg's -an and -sn do: only the video goes in.
    r = salcodec.encode(both, tmp_path / "o.mp4", drop=("audio", "subtitle"), **FAST)
    assert r.copied_streams == 0 and r.frames_out == r.frames_in
    with av.open(str(tmp_path / "o.mp4")) as c:
        assert [s.type for s in c.streams] == ["video"]
    r = salcodec.encode(both, tmp_path / "o.mkv", drop=("subtitle",), **FAST)
    assert r.copied_streams == 1  # the audio is still copied
    with pytest.raises(salcodec.SalcodecError, match="cannot drop 'video' streams"):
        salcodec.encode(both, tmp_path / "o2.mkv", drop=("video",), **FAST)
    assert not (tmp_path / "o2.mkv").exists()


def test_an_attachment_is_refused_where_no_container_but_matroska_holds_it(tmp_path):
    # A font attachment fits Matroska only: NUT's muxer fails on it ("Invalid argument").
    src = tmp_path / "font.mkv"
    with av.open(str(CARPHONE)) as c, av.open(str(src), "w") as d:
        v = d.add_stream_from_template(c.streams.video[0])
        d.add_attachment("font.ttf", "application/x-truetype-font", b"\0" * 100)
        for p in c.demux(video=0):
            if p.dts is not None:
                p.stream = v
                d.mux(p)
    for out in ("o.mp4", "o.nut"):
        with pytest.raises(salcodec.SalcodecError) as err:
            salcodec.encode(src, tmp_path / out, **FAST)
        msg = str(err.value)
        assert "attachment stream #1" in msg and msg.endswith("use .mkv (-f matroska), which can "
                                                              "hold it"), msg
    assert salcodec.encode(src, tmp_path / "o.mkv", **FAST).copied_streams == 1


def test_subrip_into_mp4_names_mov_text_and_mkv(tmp_path):
    src = with_subtitles(phone_clip(tmp_path / "v.mkv", rotation=0), tmp_path / "in.mkv")
    with pytest.raises(salcodec.SalcodecError, match=r"subtitle stream #1 .*mov_text"):
        salcodec.encode(src, tmp_path / "o.mp4", **FAST)
    assert salcodec.encode(src, tmp_path / "o.mkv", **FAST).copied_streams == 1


def packed_bframe_avi(path, n=20):
    """An old DivX-style AVI: MPEG-4 ASP with B-frames packed into the P-frame's chunk.

    Encoded with FFmpeg's mpeg4 encoder (one B-frame), then packed as DivX 5
    did: each B-frame rides in the chunk of the P-frame before it, its own
    slot holds a not-coded VOP, and 'DivX503b1393p' user data says so. The AVI
    demuxer then gives out-of-order pts; the dts are right."""
    cc = av.CodecContext.create("mpeg4", "w")
    cc.width, cc.height, cc.pix_fmt = 176, 144, "yuv420p"
    cc.time_base, cc.framerate = Fraction(1, 30), 30
    cc.max_b_frames, cc.gop_size = 1, 12
    packets = []
    for i, f in enumerate(frames(CARPHONE, n)):
        g = f.reformat(format="yuv420p")
        g.pts, g.time_base, g.pict_type = i, Fraction(1, 30), 0
        packets += cc.encode(g)
    packets += cc.encode(None)
    # Not-coded P-VOP: type 01, modulo 0, marker, 5-bit increment (rate 30), marker, coded 0.
    bits = "01" + "0" + "1" + "00000" + "1" + "0"
    bits += "0" + "1" * ((8 - (len(bits) + 1) % 8) % 8)
    nvop = b"\x00\x00\x01\xb6" + int(bits, 2).to_bytes(len(bits) // 8, "big")
    chunks, i = [], 0
    while i < len(packets):
        if i + 1 < len(packets) and packets[i + 1].pts < packets[i].pts:
            chunks += [bytes(packets[i]) + bytes(packets[i + 1]), nvop]
            i += 2
        else:
            chunks.append(bytes(packets[i]))
            i += 1
    vop = b"\x00\x00\x01\xb6"
    chunks[0] = chunks[0].replace(vop, b"\x00\x00\x01\xb2DivX503b1393p" + vop, 1)
    with av.open(str(path), "w") as out:
        s = out.add_stream("mpeg4", rate=30)
        s.width, s.height, s.time_base = 176, 144, Fraction(1, 30)
        s.codec_context.codec_tag = "XVID"
        for k, c in enumerate(chunks):
            p = av.Packet(c)
            p.pts = p.dts = k
            p.time_base, p.stream, p.is_keyframe = Fraction(1, 30), s, k == 0
            out.mux(p)
    return path


def test_packed_bframe_avi_encodes_with_best_effort_timestamps(tmp_path):
    src = packed_bframe_avi(tmp_path / "divx.avi")
    with av.open(str(src)) as c:  # the fixture really has the defect
        pts = [f.pts for f in c.decode(video=0)]
    assert len(pts) == 20 and any(b <= a for a, b in zip(pts, pts[1:], strict=False))
    out = tmp_path / "o.mp4"
    r = salcodec.encode(src, out, **FAST)
    assert r.frames_in == r.frames_out == 20 == count_video_packets(out)
    with av.open(str(out)) as c:
        v = c.streams.video[0]
        got = [float(f.pts * v.time_base) for f in c.decode(v)]
    np.testing.assert_allclose(np.diff(got), 1 / 30, atol=1e-3)  # a steady 30 fps


def test_saliency_overlay_keeps_the_rotation(tmp_path):
    # The overlay is drawn into each decoded frame, so its display matrix is kept.
    from salcodec.cli import main

    src = phone_clip(tmp_path / "phone.mp4")
    out = tmp_path / "overlay.mp4"
    assert main(["saliency", str(src), str(out), "--model", "lc"]) == 0
    assert decoded(out)["rotation"] == decoded(src)["rotation"] == -90


def test_saliency_overlay_leaves_the_decoders_frames_alone(tmp_path):
    # A codec that decodes to rgb24 (QuickTime Animation) hands its own frame to
    # reformat, and builds the next frames on it: the overlay must not be drawn there.
    from salcodec.commands.saliency import _overlays

    src = tmp_path / "anim.mov"
    base = (np.indices((64, 96)).sum(0) % 200).astype(np.uint8)
    with av.open(str(src), "w") as c:
        s = c.add_stream("qtrle", rate=10)
        s.width, s.height, s.pix_fmt = 96, 64, "rgb24"
        for i in range(20):
            a = np.stack([base] * 3, -1)
            a[:8, :8] = i * 12  # only a corner changes: the rest is carried over
            c.mux(s.encode(av.VideoFrame.from_ndarray(a, format="rgb24")))
        c.mux(s.encode(None))
    with av.open(str(src)) as c:
        fresh = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    seen = []

    def model(rgb):
        seen.append(rgb.copy())
        return np.ones(rgb.shape[:2], np.float32)

    with av.open(str(src)) as c:
        list(_overlays(c, c.streams.video[0], src, model, 0.5))
    assert len(seen) == 20 and all(np.array_equal(a, b) for a, b in zip(fresh, seen, strict=True))


def test_saliency_overlay_of_a_packed_bframe_avi_is_timed_like_encode(tmp_path):
    from salcodec.cli import main

    src = packed_bframe_avi(tmp_path / "divx.avi")
    out = tmp_path / "overlay.mkv"
    assert main(["saliency", str(src), str(out), "--model", "lc"]) == 0
    assert count_video_packets(out) == 20
    with av.open(str(out)) as c:
        v = c.streams.video[0]
        got = [float(f.pts * v.time_base) for f in c.decode(v)]
    np.testing.assert_allclose(np.diff(got), 1 / 30, atol=1e-3)


def test_raw_h264_without_timestamps_gets_frame_rate_timing(tmp_path):
    src = tmp_path / "raw.h264"
    with av.open(str(src), "w", format="h264") as out:
        v = out.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = 176, 144, "yuv420p"
        for i, f in enumerate(frames(CARPHONE, 12)):
            g = f.reformat(format="yuv420p")
            g.pts, g.time_base, g.pict_type = i, Fraction(1, 25), 0
            out.mux(v.encode(g))
        out.mux(v.encode(None))
    r = salcodec.encode(src, tmp_path / "o.mkv", **FAST)
    assert r.frames_out == 12
    with av.open(str(tmp_path / "o.mkv")) as c:
        v = c.streams.video[0]
        got = [float(p.pts * v.time_base) for p in c.demux(v) if p.size]
    assert sorted(got) == pytest.approx([i / 25 for i in range(12)], abs=2e-3)


def test_best_effort_clock_holds_frames_only_until_the_first_is_timed():
    from types import SimpleNamespace

    from salcodec.transcode import BestEffortClock

    stream = SimpleNamespace(average_rate=Fraction(30), guessed_rate=Fraction(30),
                             time_base=Fraction(1, 30))
    clock = BestEffortClock(stream, "x.avi", window=8)
    # Packed B-frames: pts out of order from the start, dts right.
    pts = [0, 2, 1, 4, 3, 6, 5, 8, 7] + list(range(9, 40))
    released = []
    for k, p in enumerate(pts):
        out = clock.push(SimpleNamespace(pts=p, dts=k))
        released += out
        if k < 8:
            assert out == []  # the first window waits for the counts
        else:
            assert len(clock._held) == 0  # then every frame goes out as it comes
    released += clock.flush()
    assert [f.pts for f in released] == list(range(40))  # all timed by dts
