"""``intermittent``: cycles of an on and an off phase, after an optional delay.

``{"kind": "intermittent", "on": 14, "off": 14, "first": "on", "delay": 0, "on_exposure": "on",
"off_exposure": "off"}``: during ``[0, delay)`` the off exposure is in force; then cycles of the
``first`` phase (``"on"`` or ``"off"``, default ``"on"``) and the other phase, of durations ``on``
and ``off`` days, for ever. The phases use the exposures ``on_exposure`` (default ``"on"``) and
``off_exposure`` (default ``"off"``, also the one that is not treatment); ``first`` names a phase,
not an exposure.
"""

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from ..errors import InvalidScheduleError
from ._common import exposure_name, number
from ._kind import Params
from ._segments import SegmentKind, SegmentTable

if TYPE_CHECKING:
    from ..model import Model

__all__ = ["Intermittent"]

PHASES: Final = ("on", "off")


class Intermittent(SegmentKind):
    """On and off phases repeating with period ``on + off``."""

    name = "intermittent"
    keys = ("kind", "on", "off", "first", "delay", "on_exposure", "off_exposure")

    def normalise_fields(self, spec: Mapping[str, Any]) -> Params:
        for key in PHASES:
            if key not in spec:
                raise InvalidScheduleError(
                    f"intermittent schedule has no {key!r} (duration of the {key} phase, days)"
                )
        first = spec.get("first", "on")
        if first not in PHASES:
            raise InvalidScheduleError(
                f"intermittent first is {first!r}; expected 'on' or 'off' (the phase to start "
                "with; the exposure names are set by on_exposure/off_exposure)"
            )
        on_exp = exposure_name(spec.get("on_exposure", "on"), "intermittent on_exposure")
        off_exp = exposure_name(spec.get("off_exposure", "off"), "intermittent off_exposure")
        return {
            "kind": self.name,
            "on": number(spec["on"], "intermittent on", positive=True),
            "off": number(spec["off"], "intermittent off", positive=True),
            "first": first,
            "delay": number(spec.get("delay", 0.0), "intermittent delay", positive=False),
            "on_exposure": on_exp,
            "off_exposure": off_exp,
        }

    def off_exposure(self, params: Params, model: "Model") -> str | None:
        return str(params["off_exposure"])

    def segments(self, params: Params) -> SegmentTable:
        on, off = params["on_exposure"], params["off_exposure"]
        first, second = (on, off) if params["first"] == "on" else (off, on)
        first_duration = params["on"] if params["first"] == "on" else params["off"]
        period = params["on"] + params["off"]
        d = params["delay"]
        if d > 0:
            return SegmentTable([0.0, d, d + first_duration], [off, first, second], 1, period)
        return SegmentTable([0.0, first_duration], [first, second], 0, period)
