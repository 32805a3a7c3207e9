from salcodec import bitstream
from salcodec.data import DEFAULT_CLIP


def test_nal_units_split_both_framings():
    units = [b"\x06sei", b"\x65" + b"\x00\x00\x03\x01" * 3, b"\x41p"]
    avcc = b"".join(len(u).to_bytes(4, "big") + u for u in units)
    annexb = b"".join(b"\x00\x00\x00\x01" + u for u in units)
    assert bitstream.nal_units(avcc, 4) == units
    assert bitstream.nal_units(annexb, None) == units


def test_payload_excludes_container_and_sei():
    import av

    with av.open(str(DEFAULT_CLIP)) as c:
        packets = sum(p.size for p in c.demux(c.streams.video[0]))
    payload = bitstream.video_payload_bytes(DEFAULT_CLIP)
    assert 0.9 * packets < payload < packets
