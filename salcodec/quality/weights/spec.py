"""Weight specs: ``KIND:VALUE[:key=val...]`` strings and the :class:`WeightSpec` they parse to."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ...errors import SalcodecError

if TYPE_CHECKING:
    from ..video import FramePair
    from .base import WeightSource

#: Weight kinds accepted in a spec string.
KINDS = ("model", "map", "density", "fixations", "gaze")
#: Options accepted per kind (``KIND:VALUE:key=val``).
_OPTIONS = {
    "model": {"width"},
    "map": set(),
    "density": set(),
    "fixations": {"sigma", "ppd", "units"},
    "gaze": {"sigma", "ppd", "pool"},
}


@dataclass(frozen=True)
class WeightSpec:
    """Where the weights come from: ``kind`` plus a model name or file path.

    Build one with :func:`parse_weights` (``"model:lc"``), directly
    (``WeightSpec("fixations", "fix.csv", {"sigma": "24"})``), or with
    :meth:`from_function` for maps computed by the caller.
    """

    kind: str
    target: str
    options: dict[str, str] = field(default_factory=dict)
    function: Callable[[FramePair], np.ndarray | None] | None = field(
        default=None, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        if self.kind == "function":
            if self.function is None:
                raise ValueError("a 'function' WeightSpec needs a callable")
            return
        if self.kind not in KINDS:
            raise SalcodecError(
                f"unknown weights kind {self.kind!r}; choose from {', '.join(KINDS)}"
            )
        bad = set(self.options) - _OPTIONS[self.kind]
        if bad:
            raise SalcodecError(f"weights {self.kind}: unknown option(s) {', '.join(sorted(bad))}")

    @classmethod
    def from_function(
        cls, function: Callable[[FramePair], np.ndarray | None], name: str = "function"
    ) -> WeightSpec:
        """Weights from ``function(pair) -> (H, W) map or None`` (None: uniform)."""
        return cls("function", name, {}, function)

    def __str__(self) -> str:
        opts = "".join(f":{k}={v}" for k, v in sorted(self.options.items()))
        return f"{self.kind}:{self.target}{opts}"

    def open(self, width: int, height: int, fps: float | None) -> WeightSource:
        """A :class:`WeightSource` producing maps for frames of this size."""
        # Imported here: the sources need only this class's type, not the module.
        from .base import FunctionWeights
        from .fixations import FixationWeights
        from .gaze import GazeWeights
        from .maps import MapWeights
        from .model import ModelWeights

        if self.kind == "model":
            return ModelWeights(self, width, height)
        if self.kind in ("map", "density"):
            return MapWeights(self, width, height)
        if self.kind == "fixations":
            return FixationWeights(self, width, height, fps)
        if self.kind == "gaze":
            return GazeWeights(self, width, height)
        return FunctionWeights(self, width, height)


def parse_weights(spec: str) -> WeightSpec:
    """Parse ``KIND:VALUE[:key=val...]`` (e.g. ``fixations:fix.csv:sigma=20``).

    Trailing ``:key=val`` segments whose key is a known option are options;
    anything else belongs to the value, so paths may contain colons.

    Raises
    ------
    SalcodecError
        Unknown kind or option, or an empty value.
    """
    kind, sep, rest = spec.partition(":")
    kind = kind.strip().lower()
    if not sep or not rest:
        raise SalcodecError(
            f"--weights {spec!r}: expected KIND:VALUE with KIND one of {', '.join(KINDS)}"
        )
    if kind not in KINDS:
        raise SalcodecError(
            f"--weights {spec!r}: unknown kind {kind!r}; choose from {', '.join(KINDS)}"
        )
    parts = rest.split(":")
    options: dict[str, str] = {}
    while len(parts) > 1:
        m = re.fullmatch(r"([a-z_]+)=(.*)", parts[-1])
        if not m:
            break
        if m.group(1) not in _OPTIONS[kind]:
            allowed = ", ".join(sorted(_OPTIONS[kind])) or "none"
            raise SalcodecError(
                f"--weights {spec!r}: unknown option {m.group(1)!r} for {kind} "
                f"(allowed: {allowed})"
            )
        options[m.group(1)] = m.group(2)
        parts.pop()
    target = ":".join(parts)
    if not target:
        raise SalcodecError(f"--weights {spec!r}: missing model name or path")
    return WeightSpec(kind, target, options)
