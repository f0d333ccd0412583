"""The registry of schedule kinds: every kind a spec may name, in the order messages list them.

A new kind is one module implementing :class:`~._kind.ScheduleKind` and one entry here
(CONTRIBUTING.md, "Adding a schedule kind").
"""

from collections.abc import Mapping
from typing import Final

from ..errors import InvalidScheduleError
from ._kind import Params, ScheduleKind
from .adaptive import Adaptive
from .combination import Combination
from .cyclic import Cyclic
from .intermittent import Intermittent
from .piecewise import Continuous, Piecewise
from .pk import Pk

__all__ = ["FIXED_KINDS", "KINDS", "REGISTRY", "kind_of", "normalise"]

_SEGMENT_KINDS: Final = (Continuous(), Intermittent(), Piecewise(), Cyclic())
"""Kinds given by a table of segments; they are also what a combination's drugs may use."""

REGISTRY: Final[dict[str, ScheduleKind]] = {
    kind.name: kind for kind in (*_SEGMENT_KINDS, Combination(_SEGMENT_KINDS), Adaptive(), Pk())
}
KINDS: Final = tuple(REGISTRY)
FIXED_KINDS: Final = tuple(kind.name for kind in _SEGMENT_KINDS)


def kind_of(params: Params) -> ScheduleKind:
    """The kind of normalised parameters."""
    return REGISTRY[params["kind"]]


def normalise(spec: object, where: str = "schedule") -> Params:
    """Check a spec of any kind and return its parameters (see ``ScheduleKind.normalise``)."""
    if not isinstance(spec, Mapping):
        raise InvalidScheduleError(f"a schedule spec must be a table/dict, got {spec!r}")
    if "kind" not in spec:
        raise InvalidScheduleError(f"{where} has no 'kind' (one of {', '.join(KINDS)})")
    kind = spec["kind"]
    if not isinstance(kind, str) or kind not in REGISTRY:
        raise InvalidScheduleError(
            f"unknown schedule kind {kind!r}; expected one of {', '.join(KINDS)}"
        )
    return REGISTRY[kind].normalise(spec)
