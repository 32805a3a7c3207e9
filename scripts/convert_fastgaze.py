#!/usr/bin/env python3
"""Convert FastGaze's ``fastgaze.vxm`` (Twitter's image-crop-analysis) to ONNX.

FastGaze (Theis et al. 2018, "Faster gaze prediction with dense networks and
Fisher pruning", arXiv 1801.05787) is a pruned, distilled DeepGaze II. Twitter
published the weights as ``bin/fastgaze.vxm`` in the Apache-2.0 repository
``twitter-research/image-crop-analysis``, with a closed-source C++ runner
(``bin/mac/candidate_crops``, NNPACK inside). This script reads the container
and rebuilds the network as ONNX so that ``cv2.dnn`` runs it.

What was read from the runner's machine code (see docs/saliency.md):

- layer ``Type`` 0 is a convolution (weights ``w`` O x I x kh x kw, bias
  ``b``), zero padding ``k // 2`` on each side, stride 1, run by NNPACK's
  ``nnp_convolution_inference`` (cross-correlation, like ONNX ``Conv``);
  every convolution is followed by a ReLU, except those with ``Act`` 4, whose
  negative part is multiplied by the stored scalar ``alpha`` (a leaky ReLU);
- ``Type`` 2 is a 2x2 max pooling with stride 2 and no padding, output size
  ``ceil(n / 2)`` (NNPACK's ``nnp_max_pooling_output``);
- ``Type`` 3 (``KernelSize``, ``Std``) is a Gaussian blur whose parameters
  the runner stores but never applies; it is not converted (salcodec smooths
  the map itself);
- the input is the RGBA image's first three bytes (R, G, B) as floats, minus
  103.939, 116.779 and 123.68 in that order (the runner's constants), and the
  output is one map at stride 16 (2 to the number of poolings).

The ONNX graph takes ``image``: float32 (1, 3, H, W), RGB in 0..255, does the
mean subtraction itself, and returns ``saliency``: (1, 1, ceil(H/16),
ceil(W/16)). Nothing else is changed: the weights are copied bit for bit.

Usage::

    python scripts/convert_fastgaze.py path/to/fastgaze.vxm [salcodec/data/fastgaze.onnx]

Needs the ``onnx`` package (``pip install -e '.[dev]'``) to write the ONNX file;
parsing and the plain-numpy reference forward pass (:func:`reference_forward`)
need numpy only.
"""

from __future__ import annotations

import argparse
import hashlib
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: First four bytes of a .vxm container.
MAGIC = b"\x01tPM"
#: Per-channel values the C++ runner adds to R, G, B (bytes 0, 1, 2 of RGBA).
INPUT_OFFSET = np.array([-103.939, -116.779, -123.68], dtype=np.float32)
CONV, POOL, BLUR = 0, 2, 3
RELU, LEAKY_RELU = 1, 4
DEFAULT_OUTPUT = Path(__file__).resolve().parents[1] / "salcodec" / "data" / "fastgaze.onnx"
OPSET = 13


class VxmError(ValueError):
    """The file is not a FastGaze .vxm container this converter understands."""


@dataclass(frozen=True)
class Conv:
    weight: np.ndarray  # (out, in, kh, kw) float32
    bias: np.ndarray  # (out,) float32
    alpha: float | None  # leaky-ReLU slope; None: plain ReLU


@dataclass(frozen=True)
class MaxPool:
    size: int = 2


@dataclass(frozen=True)
class Blur:
    kernel_size: int
    std: float


Layer = Conv | MaxPool | Blur


def read_vxm(data: bytes) -> dict[str, bytes]:
    """Split a .vxm container into its ``key -> raw value`` entries.

    The layout (read from the file itself): the magic ``01 74 50 4d``, a
    uint32 entry count, then per entry a uint32 length and the key (NUL
    terminated), a uint32 length and the value bytes; little-endian.
    """
    if data[:4] != MAGIC:
        raise VxmError(f"not a .vxm container (magic {data[:4]!r}, expected {MAGIC!r})")
    if len(data) < 8:
        raise VxmError("truncated header")
    (count,) = struct.unpack_from("<I", data, 4)
    entries: dict[str, bytes] = {}
    off = 8
    for i in range(count):
        parts = []
        for _ in range(2):
            if off + 4 > len(data):
                raise VxmError(f"truncated at entry {i} of {count}")
            (n,) = struct.unpack_from("<I", data, off)
            off += 4
            if off + n > len(data):
                raise VxmError(f"entry {i} of {count} runs past the end of the file")
            parts.append(data[off : off + n])
            off += n
        key = parts[0].rstrip(b"\0").decode("ascii")
        entries[key] = parts[1]
    if off != len(data):
        raise VxmError(f"{len(data) - off} unexpected bytes after {count} entries")
    return entries


def _int(entries: dict[str, bytes], key: str) -> int:
    try:
        value = entries[key]
    except KeyError:
        raise VxmError(f"missing entry {key!r}") from None
    if len(value) != 4:
        raise VxmError(f"entry {key!r} is {len(value)} bytes, expected a 4-byte integer")
    return struct.unpack("<i", value)[0]


def _tensor(entries: dict[str, bytes], key: str) -> np.ndarray:
    dtype = entries.get(f"{key}.dtype", b"").rstrip(b"\0")
    if dtype != b"float32":
        raise VxmError(f"tensor {key!r} has dtype {dtype!r}, expected float32")
    ndims = _int(entries, f"{key}.ndims")
    if ndims == 1:
        shape: tuple[int, ...] = (_int(entries, f"{key}.shape"),)
    else:
        shape = tuple(_int(entries, f"{key}.shape[{i}]") for i in range(ndims))
    raw = entries.get(key)
    if raw is None or len(raw) != 4 * int(np.prod(shape)):
        raise VxmError(f"tensor {key!r} does not hold {shape} float32 values")
    return np.frombuffer(raw, dtype="<f4").reshape(shape).astype(np.float32)


def parse_layers(entries: dict[str, bytes]) -> list[Layer]:
    """The network described by a .vxm container, layer by layer."""
    if _int(entries, "modelType") != 2:
        raise VxmError(f"modelType {_int(entries, 'modelType')} is not FastGaze's (2)")
    layers: list[Layer] = []
    channels = 3
    for i in range(_int(entries, "layerCount")):
        kind = _int(entries, f"{i}Type")
        if kind == CONV:
            weight = _tensor(entries, f"{i}w")
            bias = _tensor(entries, f"{i}b")
            act = _int(entries, f"{i}Act")
            if weight.ndim != 4 or weight.shape[1] != channels:
                raise VxmError(f"layer {i}: weights {weight.shape} do not take {channels} channels")
            if bias.shape != (weight.shape[0],):
                raise VxmError(f"layer {i}: bias {bias.shape} for {weight.shape[0]} outputs")
            if weight.shape[2] % 2 == 0 or weight.shape[3] % 2 == 0:
                raise VxmError(f"layer {i}: even kernel {weight.shape[2:]} has no centre")
            if act == RELU:
                alpha = None
            elif act == LEAKY_RELU:
                alpha = float(_tensor(entries, f"{i}alpha").reshape(-1)[0])
            else:
                raise VxmError(f"layer {i}: activation {act} is not one the runner knows")
            layers.append(Conv(weight, bias, alpha))
            channels = weight.shape[0]
        elif kind == POOL:
            layers.append(MaxPool())
        elif kind == BLUR:
            layers.append(Blur(_int(entries, f"{i}KernelSize"), float(_int(entries, f"{i}Std"))))
        else:
            raise VxmError(f"layer {i}: unsupported layer type {kind}")
    if channels != 1:
        raise VxmError(f"the last convolution gives {channels} channels, expected 1")
    return layers


def load_layers(path: str | Path) -> list[Layer]:
    """Read and parse a .vxm file."""
    return parse_layers(read_vxm(Path(path).read_bytes()))


def stride(layers: list[Layer]) -> int:
    """Output stride of the network (2 per pooling)."""
    return 2 ** sum(isinstance(layer, MaxPool) for layer in layers)


def _conv_numpy(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Zero-padded 'same' cross-correlation of (C, H, W) with (O, C, kh, kw)."""
    kh, kw = weight.shape[2:]
    padded = np.pad(x, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw), axis=(1, 2))
    out = np.einsum("chwij,ocij->ohw", windows, weight, optimize=True)
    return out + bias[:, None, None]


def _maxpool_numpy(x: np.ndarray) -> np.ndarray:
    """2x2, stride 2, ceil mode: a partial window at an odd edge takes the max of what it has."""
    c, h, w = x.shape
    padded = np.full((c, h + h % 2, w + w % 2), -np.inf, dtype=x.dtype)
    padded[:, :h, :w] = x
    return padded.reshape(c, padded.shape[1] // 2, 2, padded.shape[2] // 2, 2).max(axis=(2, 4))


def reference_forward(layers: list[Layer], rgb: np.ndarray) -> np.ndarray:
    """FastGaze on one RGB image in plain numpy (the converter's reference).

    Parameters
    ----------
    layers : list
        From :func:`load_layers`.
    rgb : ndarray, shape (H, W, 3)
        RGB image, uint8 or float in 0..255.

    Returns
    -------
    ndarray, shape (ceil(H/16), ceil(W/16)), float32
        The network's output map (the blur layer is not applied, as in the
        C++ runner).
    """
    x = np.asarray(rgb, dtype=np.float32).transpose(2, 0, 1) + INPUT_OFFSET[:, None, None]
    for layer in layers:
        if isinstance(layer, Conv):
            x = _conv_numpy(x, layer.weight, layer.bias).astype(np.float32)
            slope = 0.0 if layer.alpha is None else np.float32(layer.alpha)
            x = np.where(x < 0, x * slope, x).astype(np.float32)
        elif isinstance(layer, MaxPool):
            x = _maxpool_numpy(x)
    return x[0]


def build_onnx(layers: list[Layer], doc: str = ""):
    """The ONNX model of ``layers`` (needs the ``onnx`` package)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    inits = [
        numpy_helper.from_array(INPUT_OFFSET.reshape(1, 3, 1, 1).copy(), "rgb_offset"),
    ]
    nodes = [helper.make_node("Add", ["image", "rgb_offset"], ["x0"], name="offset")]
    cur = "x0"
    n_conv = n_pool = 0
    for layer in layers:
        if isinstance(layer, Conv):
            w, b = f"conv{n_conv}.weight", f"conv{n_conv}.bias"
            inits.append(numpy_helper.from_array(layer.weight, w))
            inits.append(numpy_helper.from_array(layer.bias, b))
            kh, kw = layer.weight.shape[2:]
            nodes.append(
                helper.make_node(
                    "Conv",
                    [cur, w, b],
                    [f"conv{n_conv}"],
                    name=f"conv{n_conv}",
                    kernel_shape=[kh, kw],
                    pads=[kh // 2, kw // 2, kh // 2, kw // 2],
                    strides=[1, 1],
                )
            )
            out = f"act{n_conv}"
            if layer.alpha is None:
                nodes.append(helper.make_node("Relu", [f"conv{n_conv}"], [out], name=out))
            else:
                nodes.append(
                    helper.make_node(
                        "LeakyRelu", [f"conv{n_conv}"], [out], name=out, alpha=layer.alpha
                    )
                )
            cur = out
            n_conv += 1
        elif isinstance(layer, MaxPool):
            out = f"pool{n_pool}"
            nodes.append(
                # ceil_mode: an odd edge keeps its partial window, as NNPACK does.
                helper.make_node(
                    "MaxPool", [cur], [out], name=out,
                    kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1,
                )
            )
            cur = out
            n_pool += 1
    nodes.append(helper.make_node("Identity", [cur], ["saliency"], name="output"))
    graph = helper.make_graph(
        nodes,
        "fastgaze",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, "height", "width"])],
        [helper.make_tensor_value_info("saliency", TensorProto.FLOAT, [1, 1, None, None])],
        initializer=inits,
    )
    model = helper.make_model(
        graph,
        producer_name="salcodec scripts/convert_fastgaze.py",
        opset_imports=[helper.make_opsetid("", OPSET)],
        doc_string=doc,
    )
    model.ir_version = 7
    blur = [layer for layer in layers if isinstance(layer, Blur)]
    meta = {"stride": str(stride(layers)), "input": "RGB float32 0..255, NCHW"}
    if blur:
        meta["unapplied_blur"] = f"kernel_size={blur[0].kernel_size} std={blur[0].std:g}"
    helper.set_model_props(model, meta)
    onnx.checker.check_model(model)
    return model


def convert(source: str | Path, target: str | Path = DEFAULT_OUTPUT) -> dict:
    """Convert ``source`` (.vxm) to ``target`` (.onnx); returns what was done."""
    data = Path(source).read_bytes()
    layers = parse_layers(read_vxm(data))
    digest = hashlib.sha256(data).hexdigest()
    doc = (
        "FastGaze (Theis et al. 2018, arXiv 1801.05787) from "
        "twitter-research/image-crop-analysis bin/fastgaze.vxm "
        f"({len(data)} bytes, sha256 {digest}), Apache License 2.0, "
        "(c) Twitter, Inc. Converted by salcodec's scripts/convert_fastgaze.py: "
        "weights unchanged; input offset moved into the graph; blur layer not applied."
    )
    model = build_onnx(layers, doc)
    Path(target).write_bytes(model.SerializeToString())
    n_params = sum(
        layer.weight.size + layer.bias.size + (layer.alpha is not None)
        for layer in layers
        if isinstance(layer, Conv)
    )
    return {
        "source": str(source),
        "source_bytes": len(data),
        "source_sha256": digest,
        "target": str(target),
        "target_sha256": hashlib.sha256(Path(target).read_bytes()).hexdigest(),
        "convolutions": sum(isinstance(layer, Conv) for layer in layers),
        "poolings": sum(isinstance(layer, MaxPool) for layer in layers),
        "parameters": int(n_params),
        "stride": stride(layers),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("vxm", type=Path, help="fastgaze.vxm")
    parser.add_argument("onnx", type=Path, nargs="?", default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    try:
        info = convert(args.vxm, args.onnx)
    except (OSError, VxmError) as exc:
        print(f"convert_fastgaze: error: {args.vxm}: {exc}", file=sys.stderr)
        return 1
    except ImportError:
        print("convert_fastgaze: error: needs the onnx package (pip install -e '.[dev]')",
              file=sys.stderr)
        return 1
    for key, value in info.items():
        print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
