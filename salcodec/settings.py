"""The knobs of one encode, in one place (used by encode, compare, crf-search)."""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import asdict, dataclass, fields, replace

from .errors import SalcodecError
from .qpmap import ANCHOR_SHARPNESS, DEFAULT_CLAMP, DEFAULT_STRENGTH

#: What ``crf`` means for the saliency arm (see :class:`EncodeSettings`).
BUDGETS = ("attended", "size", "zero-mean")
#: Earlier names of the budgets, still accepted.
BUDGET_ALIASES = {"match": "size", "crf": "zero-mean"}


@dataclass(frozen=True)
class EncodeSettings:
    """Encoder settings plus the saliency-to-QP mapping.

    Attributes
    ----------
    crf, preset, params
        Constant rate factor (0..51; VP9: whole numbers 0..63), preset (VP9:
        realtime speed 5..9 or an x264 preset name) and extra ``K=V:K=V``
        encoder parameters (x264's or x265's own names, FFmpeg's libvpx-vp9
        option names), each checked by that encoder (see :mod:`salcodec.codecs`).
    x264_params
        The x264 spelling of ``params`` (libx264 only); kept equal to it.
    codec : {"libx264", "libx265", "libvpx-vp9"}
        The encoder; every other is refused with the reason.
    pix_fmt : {"yuv420p", "yuv420p10le"}
        Output pixel format; 10-bit where the encoder in PyAV's build has it.
    saliency : bool
        False = the plain encoder with the same settings (the baseline arm).
    model : str
        Saliency model name.
    strength, clamp, smoothing, bias
        QP offset per standard deviation of importance, the largest offset
        either way, temporal smoothing of offsets, and a QP added to every
        offset (set by bit-budget calibration).
    budget : {"attended", "size", "zero-mean"}
        What the CRF means. ``attended`` (default): plain libx264's CRF quality
        where people look (the offsets are anchored on where the map expects
        eyes: its peak keeps or beats plain x264's QP), fewer bits elsewhere,
        so the file is smaller than plain x264 at the same CRF. ``size``: the
        same size as plain x264 at that CRF, bits moved to where people look
        (a QP bias calibrated on samples of the video). ``zero-mean``: offsets
        that average zero QP in every frame (the size moves either way).
    sharpness : float
        How tightly the ``attended`` anchor sits on the most salient blocks
        (see :func:`salcodec.qpmap.attended_weights`).
    map_source : str, optional
        External maps instead of the model: a greyscale video, a folder of
        images, or a map sidecar whose offsets are applied as given (see
        :mod:`salcodec.saliency.external`).
    """

    crf: float = 23
    preset: str = "medium"
    x264_params: str | None = None
    codec: str = "libx264"
    pix_fmt: str = "yuv420p"
    params: str | None = None
    saliency: bool = True
    model: str = "default"
    strength: float = DEFAULT_STRENGTH
    clamp: float = DEFAULT_CLAMP
    smoothing: float = 0.6
    bias: float = 0.0
    budget: str = "attended"
    sharpness: float = ANCHOR_SHARPNESS
    map_source: str | None = None

    def __post_init__(self) -> None:
        budget = BUDGET_ALIASES.get(self.budget, self.budget)
        if budget not in BUDGETS:
            raise SalcodecError(f"unknown budget {self.budget!r}; choose from "
                                f"{', '.join(BUDGETS)}")
        object.__setattr__(self, "budget", budget)
        if not (self.sharpness >= 0 and math.isfinite(self.sharpness)):
            raise SalcodecError(f"sharpness must be a number >= 0, got {self.sharpness:g}")
        # Checked here so every entry point (CLI, API, compare) refuses the same way.
        from .codecs import get_codec

        spec = get_codec(self.codec)
        params = self.params
        if self.x264_params is not None:
            if self.codec != "libx264":
                raise SalcodecError(f"--x264-params is for libx264; give {self.codec}'s "
                                    "parameters with --params")
            if params is not None and params != self.x264_params:
                raise SalcodecError(f"--params {params!r} and --x264-params "
                                    f"{self.x264_params!r} conflict; give one")
            params = self.x264_params
        object.__setattr__(self, "params", params)
        object.__setattr__(self, "x264_params", params if self.codec == "libx264" else None)
        spec.check(self.crf, self.pix_fmt)
        with warnings.catch_warnings():  # the stream warns when it is made
            warnings.simplefilter("ignore")
            spec.options(self.crf, self.preset, params, self.saliency)
        if not (self.strength >= 0 and math.isfinite(self.strength)):
            raise SalcodecError(f"strength must be a number >= 0, got {self.strength:g}")
        if not self.clamp > 0:
            raise SalcodecError(f"clamp must be > 0, got {self.clamp:g}")
        if not 0 <= self.smoothing < 1:
            raise SalcodecError(f"smoothing must be within [0, 1), got {self.smoothing:g}")
        if not math.isfinite(self.bias):
            raise SalcodecError(f"bias must be a finite number, got {self.bias}")
        if self.map_source is not None:
            if not os.path.exists(self.map_source):
                raise SalcodecError(f"{self.map_source}: no such map file or folder")
            if self.budget == "size" and self.saliency:
                raise SalcodecError(f"{self.map_source}: --budget size calibrates on samples "
                                    "of the video, which external maps cannot follow; use "
                                    "attended or zero-mean")
        from .saliency import available_models

        if self.model not in ("default", *available_models()):
            raise SalcodecError(f"unknown saliency model {self.model!r}; choose from "
                                f"{', '.join(available_models())}")

    def with_(self, **changes) -> EncodeSettings:
        """A copy with some fields changed; unknown names are a user error."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise SalcodecError(f"unknown encode setting(s): {', '.join(unknown)}")
        # params and x264_params are one setting: changing either replaces both.
        if "x264_params" in changes and "params" not in changes:
            changes["params"] = changes["x264_params"]
        elif "params" in changes and "x264_params" not in changes:
            changes["x264_params"] = None
        elif "codec" in changes and changes["codec"] != "libx264":
            changes.setdefault("x264_params", None)
        return replace(self, **changes)

    def baseline(self) -> EncodeSettings:
        """The plain-encoder arm with otherwise identical settings."""
        return replace(self, saliency=False)

    def stage_options(self) -> dict:
        """Keyword arguments of :class:`salcodec.encoder.SaliencyEncoder`."""
        return {"model": self.model, "strength": self.strength, "clamp": self.clamp,
                "smoothing": self.smoothing, "bias": self.bias, "enabled": self.saliency,
                "anchor": "attended" if self.budget == "attended" else "mean",
                "sharpness": self.sharpness, "maps": self.map_source}

    def as_dict(self) -> dict:
        return asdict(self)
