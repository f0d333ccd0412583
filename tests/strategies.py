"""Hypothesis strategies for dtp-gillespie: random valid models, schedules, runs and seeds.

Everything is kept small so that one example runs in milliseconds: at most 4 states and 50 cells
per state at t = 0, rates in [0, 2] per day, t_end of at most 5 days, and every run capped by
``max_population`` (<= 2000) and ``max_events`` (<= 20 000).

Rates are either exactly 0 or at least 1e-3, so that scaling every rate by 2 is exact in floating
point (no subnormals); see the time-rescaling property.
"""

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import dtp_gillespie as dg
import numpy as np
import xarray as xr
from dtp_gillespie.errors import CrowdingWarning
from hypothesis import strategies as st

STATE_NAMES = ("S", "P", "R", "Q")
EXPOSURE_NAMES = ("off", "on", "high")
STATUS_CAPPED = (2, 3)  # max_events, max_population (README, "Output")

MAX_POPULATION = 2000
MAX_EVENTS = 20_000
MAX_INITIAL = 50
MAX_T_END = 5.0

# Durations and grid steps that land exactly on each other in decimal but not in binary
# floating point: they exercise the schedule's breakpoint arithmetic.
TRICKY_TIMES = (0.1, 0.2, 0.25, 0.3, 0.5, 0.7, 1.0, 1 / 3, 1.5)

rates = st.one_of(
    st.just(0.0),
    st.sampled_from([0.25, 0.5, 1.0, 2.0]),
    st.floats(min_value=1e-3, max_value=2.0),
)
"""A per-cell rate (per day): exact zeros, round values and arbitrary floats in [1e-3, 2]."""

seeds = st.integers(min_value=0, max_value=2**64 - 1)
"""A SPEC 7 integer seed."""


def rate_specs(exposures: Sequence[str], values: st.SearchStrategy[float] = rates):
    """A rate as one number or as a full ``{exposure: number}`` table."""
    return st.one_of(values, st.fixed_dictionaries({e: values for e in exposures}))


@st.composite
def model_specs(
    draw: st.DrawFn,
    *,
    min_states: int = 1,
    max_states: int = 4,
    max_exposures: int = 3,
    growth: bool = True,
    switches: bool = True,
    mutations: bool = True,
    capacity: bool = True,
) -> dict[str, Any]:
    """A valid model spec (plain dict, as a user would write it).

    ``growth=False`` leaves out division and death, ``switches=False`` the switches,
    ``mutations=False`` the mutations, ``capacity=False`` the density dependence.
    """
    n = draw(st.integers(min_states, max_states))
    names = list(STATE_NAMES[:n])
    genetic = [draw(st.booleans()) if i > 0 else False for i in range(n)]
    n_exp = draw(st.integers(1, max_exposures))
    exposures = list(EXPOSURE_NAMES[:n_exp])
    spec: dict[str, Any] = {
        "states": [
            {"name": s, "genetic": True} if g else s for s, g in zip(names, genetic, strict=True)
        ],
        "exposures": exposures,
    }
    if growth:
        for process in ("division", "death"):
            chosen = draw(st.lists(st.sampled_from(names), unique=True, max_size=n))
            spec[process] = {s: draw(rate_specs(exposures)) for s in chosen}
    # A transition out of a genetic state may only go to another genetic state.
    pairs = [
        (i, j) for i in range(n) for j in range(n) if i != j and not (genetic[i] and not genetic[j])
    ]
    if switches and pairs:
        chosen_pairs = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=4))
        spec["switch"] = [
            {"from": names[i], "to": names[j], "rate": draw(rate_specs(exposures))}
            for i, j in chosen_pairs
        ]
    if mutations and pairs:
        chosen_pairs = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=3))
        out = []
        for i, j in chosen_pairs:
            # Σ_j p_ij <= 1 per source: each of the k mutations out of i gets at most 1/k.
            k = sum(1 for a, _ in chosen_pairs if a == i)
            probability = st.one_of(
                st.just(0.0),
                st.just(1.0 / k),
                st.sampled_from([0.05 / k, 0.2 / k, 0.5 / k]),
                st.floats(min_value=0.0, max_value=1.0 / k),
            )
            out.append(
                {
                    "from": names[i],
                    "to": names[j],
                    "probability": draw(rate_specs(exposures, probability)),
                }
            )
        spec["mutation"] = out
    if capacity and draw(st.integers(0, 3)) == 0:
        spec["capacity"] = {
            "K": draw(st.sampled_from([10.0, 100.0, 500.0, 2000.0])),
            "on": draw(st.sampled_from(["division", "death", "death_additive"])),
        }
        if spec["capacity"]["on"] == "death_additive":
            spec["capacity"]["slope"] = draw(st.sampled_from([0.0, 0.05, 0.5]))
    return spec


def _durations(max_time: float):
    return st.one_of(st.sampled_from(TRICKY_TIMES), st.floats(min_value=0.05, max_value=max_time))


@st.composite
def schedule_specs(
    draw: st.DrawFn, exposures: Sequence[str], max_time: float = MAX_T_END
) -> dict[str, Any]:
    """A valid schedule spec using only ``exposures``: continuous, intermittent or piecewise."""
    kind = draw(st.sampled_from(["continuous", "intermittent", "piecewise"]))
    pick = st.sampled_from(list(exposures))
    if kind == "continuous":
        return {"kind": "continuous", "exposure": draw(pick)}
    if kind == "intermittent":
        return {
            "kind": "intermittent",
            "on": draw(_durations(max_time)),
            "off": draw(_durations(max_time)),
            "first": draw(st.sampled_from(["on", "off"])),
            "delay": draw(st.one_of(st.just(0.0), _durations(max_time))),
            "on_exposure": draw(pick),
            "off_exposure": draw(pick),
        }
    starts = draw(
        st.lists(
            st.one_of(
                st.sampled_from(TRICKY_TIMES),
                st.floats(min_value=0.01, max_value=1.2 * max_time),
            ),
            unique=True,
            max_size=4,
        )
    )
    times = [0.0, *sorted(starts)]
    return {"kind": "piecewise", "segments": [[t, draw(pick)] for t in times]}


def initial_counts(states: Sequence[str], max_count: int = MAX_INITIAL):
    """Cells per state at t = 0 (0..max_count each; a state left out starts at 0).

    Mostly at least one cell in all; sometimes none (extinct at t = 0).
    """
    names = st.sampled_from(list(states))
    return st.one_of(
        st.dictionaries(names, st.integers(1, max_count), min_size=1),
        st.dictionaries(names, st.integers(0, max_count)),
    )


@st.composite
def record_grids(draw: st.DrawFn, t_end: float) -> dict[str, Any]:
    """``{"record_every": dt}`` or ``{"times": [...]}`` (strictly increasing, within [0, t_end])."""
    if draw(st.booleans()):
        step = draw(
            st.one_of(
                st.sampled_from([x for x in TRICKY_TIMES if x <= t_end]),
                st.floats(min_value=t_end / 60, max_value=t_end),
            )
        )
        return {"record_every": step}
    # No subnormal times: halving one (the time-rescaling property) would round it to 0.
    time = st.floats(min_value=0.0, max_value=t_end, allow_subnormal=False)
    inner = draw(st.lists(time, min_size=1, max_size=20, unique=True))
    return {"times": sorted(inner)}


def model_states(spec: dict[str, Any]) -> list[str]:
    return [s if isinstance(s, str) else s["name"] for s in spec["states"]]


@dataclass(frozen=True)
class Case:
    """One ``dg.simulate`` call; :meth:`kwargs` gives its keyword arguments."""

    model: dict[str, Any]
    schedule: dict[str, Any]
    initial: dict[str, int]
    t_end: float
    grid: dict[str, Any]
    n_replicates: int
    seed: int
    max_events: int = MAX_EVENTS
    max_population: int = MAX_POPULATION
    extra: dict[str, Any] = field(default_factory=dict)

    def kwargs(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "schedule": self.schedule,
            "initial": self.initial,
            "t_end": self.t_end,
            "n_replicates": self.n_replicates,
            "seed": self.seed,
            "max_events": self.max_events,
            "max_population": self.max_population,
            **self.grid,
            **self.extra,
        }

    def with_(self, **changes: Any) -> "Case":
        return replace(self, **changes)


@st.composite
def cases(
    draw: st.DrawFn,
    models: st.SearchStrategy[dict[str, Any]] | None = None,
    max_replicates: int = 6,
) -> Case:
    """A complete small run: model, schedule, initial counts, t_end, record grid, seed, caps."""
    model = draw(models if models is not None else model_specs())
    t_end = draw(st.one_of(st.sampled_from([1.0, 2.5, MAX_T_END]), st.floats(0.1, MAX_T_END)))
    return Case(
        model=model,
        schedule=draw(schedule_specs(model["exposures"], max_time=t_end)),
        initial=draw(initial_counts(model_states(model))),
        t_end=t_end,
        grid=draw(record_grids(t_end)),
        n_replicates=draw(st.integers(1, max_replicates)),
        seed=draw(seeds),
        max_events=draw(st.sampled_from([50, 500, MAX_EVENTS])),
        max_population=draw(st.sampled_from([100, MAX_POPULATION])),
    )


def run(case: Case, **overrides: Any) -> xr.Dataset:
    """``dg.simulate`` for a case; checks that a UserWarning comes iff a replicate is capped."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = dg.simulate(**{**case.kwargs(), **overrides})
    # Drawn models may crowd on death under d > b: that warning is about the model, not the run.
    caught = [w for w in caught if not issubclass(w.category, CrowdingWarning)]
    capped = bool(np.isin(ds["status"].values, STATUS_CAPPED).any())
    assert all(issubclass(w.category, UserWarning) for w in caught), [str(w) for w in caught]
    assert len(caught) == int(capped), [str(w.message) for w in caught]
    return ds


def without_created_at(ds: xr.Dataset) -> xr.Dataset:
    out = ds.copy()
    out.attrs = {k: v for k, v in ds.attrs.items() if k != "created_at"}
    return out
