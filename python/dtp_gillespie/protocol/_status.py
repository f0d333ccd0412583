"""What a flask's ``flask_status`` says at a count: alive, extinct (known empty), or why its cells
are unknown from then on."""

from typing import Final

from .. import conventions as cv

__all__ = ["ABSENT", "ALIVE", "EXTINCT", "FLASK_STATUS", "SHORT"]

ALIVE: Final = cv.STATUS_COMPLETED
EXTINCT: Final = cv.STATUS_EXTINCT
SHORT: Final = 5
ABSENT: Final = -2

FLASK_STATUS: Final[dict[str, int]] = {
    "alive": ALIVE,
    "extinct": EXTINCT,
    "max_events": cv.STATUS_MAX_EVENTS,
    "max_population": cv.STATUS_MAX_POPULATION,
    "rate_overflow": cv.STATUS_RATE_OVERFLOW,
    "short": SHORT,
    "absent": ABSENT,
}
"""Codes of ``flask_status``: ``alive`` (cells counted, > 0), ``extinct`` (known to hold no
cell), the engine's caps ``max_events``, ``max_population``, ``rate_overflow`` (a grow step
stopped early: the flask is unknown from then on), ``short`` (a bottleneck found fewer cells
than it keeps: unknown from then on) and ``absent`` (the flask does not exist yet at that count:
a later split makes it)."""

UNKNOWN_CODES: Final = (
    cv.STATUS_MAX_EVENTS,
    cv.STATUS_MAX_POPULATION,
    cv.STATUS_RATE_OVERFLOW,
    SHORT,
)
"""Statuses after which a flask's cells are unknown."""
