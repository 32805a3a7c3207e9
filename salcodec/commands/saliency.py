"""``salcodec saliency INPUT OUTPUT [--model M]``: see what a model sees.

Writes the input with the model's saliency map laid over it as a heat map
(red = salient): a PNG for an image input, an H.264 MP4 for a video.
"""

from __future__ import annotations

import argparse
import os
import sys
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError, SalcodecError
from ..saliency import available_models, get_model

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


def overlay(rgb: np.ndarray, saliency: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Blend a JET-coloured saliency map over an RGB uint8 frame.

    Parameters
    ----------
    rgb : ndarray, shape (H, W, 3), uint8
    saliency : ndarray, shape (H, W), values in [0, 1]
    alpha : float
        Weight of the heat map (0 = frame only, 1 = heat map only).

    Returns
    -------
    ndarray, shape (H, W, 3), uint8
    """
    if saliency.shape != rgb.shape[:2]:
        raise ValueError(f"map {saliency.shape} does not match frame {rgb.shape[:2]}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    heat = (np.clip(saliency, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    colour = cv2.cvtColor(cv2.applyColorMap(heat, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
    return cv2.addWeighted(rgb, 1.0 - alpha, colour, alpha, 0.0)


def _image(args, model) -> int:
    bgr = cv2.imread(str(args.input), cv2.IMREAD_COLOR)
    if bgr is None:
        raise InputError(f"{args.input}: cannot read as an image")
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    out = overlay(rgb, model(rgb), args.alpha)
    tmp = args.output.with_name(f".{args.output.name}.part{args.output.suffix}")
    try:
        if not cv2.imwrite(str(tmp), cv2.cvtColor(out, cv2.COLOR_RGB2BGR)):
            raise SalcodecError(f"{args.output}: cannot write an image of this type")
        os.replace(tmp, args.output)
    finally:
        tmp.unlink(missing_ok=True)
    return 0


def _video(args, model) -> int:
    import av

    try:
        src = av.open(str(args.input))
    except (av.error.FFmpegError, OSError) as exc:
        raise InputError(f"{args.input}: cannot open as a video ({exc})") from None
    tmp = args.output.with_name(f".{args.output.name}.part.mp4")
    try:
        with src:
            if not src.streams.video:
                raise InputError(f"{args.input}: has no video stream")
            vin = src.streams.video[0]
            rate = vin.average_rate or vin.guessed_rate or Fraction(25)
            with av.open(str(tmp), "w", format="mp4") as dst:
                vout = None
                n = 0
                try:
                    frames = src.decode(vin)
                    for frame in frames:
                        rgb = frame.to_ndarray(format="rgb24")
                        h, w = rgb.shape[:2]
                        if vout is None:
                            vout = dst.add_stream("libx264", rate=rate)
                            vout.width, vout.height = w - w % 2, h - h % 2
                            vout.pix_fmt = "yuv420p"
                            vout.options = {"crf": "20", "preset": "veryfast"}
                        out = overlay(rgb, model(rgb), args.alpha)[: vout.height, : vout.width]
                        for packet in vout.encode(av.VideoFrame.from_ndarray(out, format="rgb24")):
                            dst.mux(packet)
                        n += 1
                        if n % 50 == 0:
                            print(f"{n} frames", file=sys.stderr)
                except av.error.FFmpegError as exc:
                    raise InputError(f"{args.input}: decoding failed ({exc})") from None
                if vout is None:
                    raise InputError(f"{args.input}: no frames decoded")
                for packet in vout.encode():
                    dst.mux(packet)
        os.replace(tmp, args.output)
    finally:
        tmp.unlink(missing_ok=True)
    return 0


def run(args: argparse.Namespace) -> int:
    args.input = Path(args.input)
    args.output = Path(args.output)
    if not args.input.is_file():
        raise InputError(f"{args.input}: no such file")
    if args.output.exists() and not args.overwrite:
        raise SalcodecError(f"{args.output}: exists (use --overwrite to replace it)")
    if args.output.resolve() == args.input.resolve():
        raise SalcodecError(f"{args.output}: output would overwrite the input")
    model = get_model(args.model)
    if args.input.suffix.lower() in IMAGE_SUFFIXES:
        if args.output.suffix.lower() not in IMAGE_SUFFIXES:
            raise SalcodecError(f"{args.output}: an image input needs an image output (.png)")
        return _image(args, model)
    if args.output.suffix.lower() != ".mp4":
        raise SalcodecError(f"{args.output}: a video input needs an .mp4 output")
    return _video(args, model)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "saliency",
        help="draw a model's saliency map over an image or video",
        description="Write INPUT with its saliency heat map overlaid (PNG for an image, "
        "MP4 for a video).",
    )
    p.add_argument("input", help="image (.png, .jpg, ...) or video file")
    p.add_argument("output", help="output .png (image input) or .mp4 (video input)")
    p.add_argument("--model", default="default", choices=available_models(),
                   help="saliency model (default: %(default)s)")
    p.add_argument("--alpha", type=float, default=0.5,
                   help="heat-map opacity in [0, 1] (default: %(default)s)")
    p.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    p.set_defaults(func=run)
