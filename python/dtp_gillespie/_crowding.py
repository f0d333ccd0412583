"""Warnings for density dependence that stops being biological under some exposure.

Two declared forms do, and both are accepted (they are the textbook forms) with a
:class:`~dtp_gillespie.errors.CrowdingWarning` naming the state and the exposure:

- crowding on death, ``max(0, d + (b − d)·x)``, where ``d > b`` (a drug that kills the state):
  crowding then *lowers* death, to 0 at ``x = d / (d − b)``, so a crowded tumour survives the
  drug better (``capacity.on = "death_additive"`` adds death instead);
- crowding on division, ``b·max(0, 1 − x)``, with death rate 0 under an exposure whose capacity
  is lower than another's: cells above that capacity neither divide nor die, so the population
  stays frozen above it while the logistic ODE declines to it.
"""

import warnings
from collections.abc import Iterable, Sequence

from .errors import CrowdingWarning

__all__ = ["warn_frozen_above_capacity", "warn_lowered_death"]

Table = tuple[float, ...]


def warn_lowered_death(
    what: str,
    states: Sequence[str],
    exposures: Sequence[str],
    division: Sequence[Table],
    death: Sequence[Table],
    crowded: Iterable[int],
    remedy: str,
) -> None:
    """Warn if crowding on death (``d + (b − d)·x``) lowers the death of a ``crowded`` state.

    ``what`` names the declaration (e.g. ``"capacity on death"``), ``remedy`` the form to use.
    """
    found = [
        f"state {states[i]!r} under exposure {exposures[e]!r} (death {death[i][e]!r} > division "
        f"{division[i][e]!r}: the death rate falls to 0 at crowding "
        f"{death[i][e] / (death[i][e] - division[i][e]):.3g})"
        for i in crowded
        for e in range(len(exposures))
        if death[i][e] > division[i][e]
    ]
    if found:
        warnings.warn(
            f"{what}: crowding lowers the death rate of {'; '.join(found)}, so a crowded "
            f"population survives better. {remedy}",
            CrowdingWarning,
            stacklevel=4,
        )


def warn_frozen_above_capacity(
    states: Sequence[str],
    exposures: Sequence[str],
    division: Sequence[Table],
    death: Sequence[Table],
    rows: Iterable[tuple[int, Table, Sequence[Table], Sequence[Table]]],
) -> None:
    """Warn if competition on division can freeze a state above a capacity an exposure lowered.

    ``rows`` are ``(state, K, K_per_cell per state, alpha per state)`` tables. A state is frozen
    under exposure ``e`` when it divides there, has death rate 0, and its crowding can be higher
    under ``e`` than under another exposure (a smaller ``K`` or ``K_per_cell``, a larger
    ``alpha``): a population at capacity under the other exposure is then above it under ``e``.
    """
    found = []
    for i, k0, per_cell, alpha in rows:
        for e in range(len(exposures)):
            if not (division[i][e] > 0 and death[i][e] == 0):
                continue
            tighter = [
                exposures[f]
                for f in range(len(exposures))
                if k0[e] < k0[f]
                or any(c[e] < c[f] for c in per_cell)
                or any(a[e] > a[f] for a in alpha)
            ]
            if tighter:
                found.append(
                    f"state {states[i]!r} under exposure {exposures[e]!r} (death rate 0, capacity "
                    f"lower than under {', '.join(map(repr, tighter))})"
                )
    if found:
        warnings.warn(
            f"competition on division: {'; '.join(found)}. Cells above the lowered capacity "
            "neither divide nor die, so the population stays frozen above it (the logistic ODE "
            "declines to it). Give the state a death rate > 0 under that exposure, or use "
            'on = "death".',
            CrowdingWarning,
            stacklevel=4,
        )
