"""``model:NAME[:width=PX]``: saliency of the reference frame from a registered model."""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

from ...errors import SalcodecError
from .base import WeightSource

if TYPE_CHECKING:
    from ..video import FramePair
    from .spec import WeightSpec


class ModelWeights(WeightSource):
    """Saliency of the reference frame from a registered model."""

    def __init__(self, spec: WeightSpec, width: int, height: int):
        super().__init__(spec, width, height)
        from ...saliency import get_model

        try:
            self.model = get_model(spec.target)
        except ValueError as exc:
            raise SalcodecError(f"--weights {spec}: {exc}") from None
        self.analysis: tuple[int, int] | None = None
        if "width" in spec.options:
            try:
                aw = int(spec.options["width"])
            except ValueError:
                aw = 0
            if aw < 2:
                raise SalcodecError(f"--weights {spec}: width must be an integer >= 2")
            if aw < width:
                self.analysis = (aw, max(2, round(height * aw / width)))

    def raw(self, pair: FramePair) -> np.ndarray:
        if self.analysis is None:
            return self.model(pair.ref.frame.to_ndarray(format="rgb24"))
        aw, ah = self.analysis
        rgb = cv2.resize(pair.ref.frame.to_ndarray(format="rgb24"), (aw, ah),
                         interpolation=cv2.INTER_AREA)
        return cv2.resize(self.model(rgb), (self.width, self.height),
                          interpolation=cv2.INTER_LINEAR)

    def describe(self) -> dict:
        d = {**super().describe(), "computed_on": "reference"}
        if self.analysis is not None:
            d["analysis_size"] = list(self.analysis)
        return d
