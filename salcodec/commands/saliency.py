"""``salcodec saliency INPUT OUTPUT [--model M]``: see what a model sees.

Writes the input with the model's saliency map laid over it as a heat map
(red = salient): a PNG for an image input; for a video, H.264 in any container
`encode` writes, with the audio and other streams copied (through
:func:`salcodec.encode_frames`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError, SalcodecError
from ..saliency import available_models, get_model
from .options import add_examples, add_overwrite, add_progress

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
    from ..io.safeio import atomic_output

    bgr = cv2.imread(str(args.input), cv2.IMREAD_COLOR)
    if bgr is None:
        raise InputError(f"{args.input}: cannot read as an image")
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    out = overlay(rgb, model(rgb), args.alpha)
    with atomic_output(args.output) as tmp:
        # cv2 picks the encoder from the extension, which the temporary name keeps.
        if not cv2.imwrite(str(tmp), cv2.cvtColor(out, cv2.COLOR_RGB2BGR)):
            raise SalcodecError(f"{args.output}: cannot write an image of this type")
    return 0


def _overlays(src, vin, input, model, alpha: float):
    """The input's frames with the heat map drawn over them, timed as ``encode`` times them."""
    from ..transcode import timed_frames

    for frame in timed_frames(src, vin, input):
        # Drawn into the reformatted frame itself, which keeps the decoded frame's
        # side data: its display matrix is how the output learns the rotation.
        # An rgb24 frame comes back as itself, its buffer shared with the decoder
        # (whose next frames may build on it): written only once made our own.
        out = frame.reformat(format="rgb24")
        out.make_writable()
        plane = out.planes[0]
        pixels = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
        pixels = pixels[: out.height, : out.width * 3].reshape(out.height, out.width, 3)
        rgb = pixels.copy()
        pixels[:] = overlay(rgb, model(rgb), alpha)
        out.pts, out.time_base = frame.pts, frame.time_base
        yield out


def _video(args, model) -> int:
    """Encode the overlay like ``encode`` does: atomic, audio and other streams copied."""
    import av

    from ..io.decode import open_input, video_stream
    from ..pipeline import encode_frames

    with open_input(args.input) as src:
        vin = video_stream(src, args.input)
        vin.thread_type = "AUTO"
        try:
            encode_frames(_overlays(src, vin, args.input, model, args.alpha), args.output,
                          saliency=False, crf=20, preset="veryfast", copy_from=args.input,
                          overwrite=args.overwrite, progress=args.progress)
        except av.error.FFmpegError as exc:
            raise InputError(f"{args.input}: decoding failed ({exc})") from None
    return 0


def run(args: argparse.Namespace) -> int:
    from ..io.safeio import check_file_output, check_output_path

    args.input = Path(args.input)
    args.output = Path(args.output)
    if not args.input.is_file():
        raise InputError(f"{args.input}: no such file")
    if args.input.suffix.lower() in IMAGE_SUFFIXES:
        if args.output.suffix.lower() not in IMAGE_SUFFIXES:
            raise SalcodecError(f"{args.output}: an image input needs an image output (.png)")
        check_file_output(args.output, [args.input], args.overwrite)
        return _image(args, get_model(args.model))
    check_output_path(args.output, [args.input], args.overwrite)
    return _video(args, get_model(args.model))


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "saliency",
        help="draw a model's saliency map over an image or video",
        description="Write INPUT with its saliency heat map overlaid (PNG for an image, "
        "H.264 for a video, with its audio and other streams copied).",
    )
    p.add_argument("input", help="image (.png, .jpg, ...) or video file")
    p.add_argument("output", help="output image (.png, ... for an image input) or video "
                   "(.mp4, .mkv, .mov, .ts, .nut for a video input; audio is copied)")
    p.add_argument("--model", default="default", choices=available_models(),
                   help="saliency model (default: %(default)s)")
    p.add_argument("--alpha", type=float, default=0.5,
                   help="heat-map opacity in [0, 1] (default: %(default)s)")
    add_overwrite(p)
    p.add_argument("--overwrite", dest="overwrite", action="store_true",
                   help=argparse.SUPPRESS)  # the earlier spelling of -y
    add_progress(p)
    add_examples(
        p,
        'salcodec saliency in.mp4 heat.mp4 --model default',
        'salcodec saliency photo.jpg heat.png --alpha 0.6',
    )
    p.set_defaults(func=run)
