"""The baseline arm: plain libx264 through PyAV, written independently of salcodec.

Decode with PyAV (frame threads, as salcodec decodes), encode with libx264 at
the same CRF, preset and x264-params, copy audio/subtitle/data packets, mux.
It imports only PyAV, so a child process running it pays no numba/OpenCV
import: the overhead table measures exactly what salcodec adds.
"""

from __future__ import annotations

import os

import av


def x264_options(crf: float, preset: str, x264_params: str | None) -> dict[str, str]:
    """libx264 AVOptions, spelled as salcodec spells them (``crf`` as ``%g``)."""
    opts = {"crf": f"{crf:g}", "preset": preset}
    if x264_params:
        opts["x264-params"] = x264_params
    return opts


def transcode(input: str | os.PathLike, output: str | os.PathLike, crf: float = 23,
              preset: str = "medium", x264_params: str | None = None) -> dict:
    """Re-encode the first video stream with libx264 and copy the other streams.

    Returns
    -------
    dict
        ``frames``, ``bytes`` (file size), ``options`` (the libx264 options used).
    """
    options = x264_options(crf, preset, x264_params)
    frames = 0
    with av.open(str(input)) as src, av.open(str(output), "w") as dst:
        vin = src.streams.video[0]
        vin.thread_type = "AUTO"
        cc = vin.codec_context
        rate = vin.average_rate or vin.guessed_rate
        width, height = cc.width + cc.width % 2, cc.height + cc.height % 2
        vout = dst.add_stream("libx264", rate=rate)
        vout.width, vout.height, vout.pix_fmt = width, height, "yuv420p"
        vout.time_base = vin.time_base  # keep input timestamps exactly
        vout.codec_context.time_base = vin.time_base
        vout.codec_context.framerate = rate
        vout.options = options
        vout.codec_context.thread_type = "FRAME"  # as salcodec and the ffmpeg CLI
        copies = {s.index: dst.add_stream_from_template(s) for s in src.streams
                  if s.type in ("audio", "subtitle", "data")}
        for packet in src.demux([vin, *(src.streams[i] for i in copies)]):
            if packet.stream is vin:
                for frame in packet.decode():
                    # (odd sizes are rescaled here, padded by salcodec: benchmark clips are even)
                    if (frame.format.name != "yuv420p" or frame.width != width
                            or frame.height != height):
                        frame = frame.reformat(width=width, height=height, format="yuv420p")
                    # A decoded frame keeps its source picture type, which libx264
                    # obeys as a forced decision; the ffmpeg CLI clears it too.
                    frame.pict_type = 0
                    frames += 1
                    dst.mux(vout.encode(frame))
            elif packet.dts is not None:
                packet.stream = copies[packet.stream.index]
                dst.mux(packet)
        dst.mux(vout.encode(None))
    return {"frames": frames, "bytes": os.path.getsize(output), "options": options}
