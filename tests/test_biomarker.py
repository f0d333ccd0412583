"""The biomarker: closed-form values on the record grid, adaptive rules that switch at its exact
threshold crossings (replayed event by event from ``dg.trace`` by an independent Python
controller), the output contract and the errors of the new spec keys."""

import math
from typing import Any

import dtp_gillespie as dg
import numpy as np
import pytest
from dtp_gillespie.errors import InvalidModelError, InvalidRunError, InvalidScheduleError
from hypothesis import given
from hypothesis import strategies as st
from oracles import Z_CRIT
from scipy import integrate, optimize
from strategies import seeds

ADAPTIVE = {
    "kind": "adaptive",
    "monitor": "biomarker",
    "reference": "treatment_start",
    "stop_below": 0.5,
    "resume_above": 1.0,
}


def frozen(initial: float | str = 100.0, production: Any = 1.0) -> dict[str, Any]:
    """One state whose cells never divide or die, with a biomarker."""
    return {
        "states": ["S"],
        "biomarker": {
            "name": "PSA",
            "units": "ng/mL",
            "production": {"S": production},
            "decay": 0.5,
            "initial": initial,
        },
    }


def test_constant_counts_switch_at_the_closed_form_crossing_time() -> None:
    # 10 cells making 1 unit per day, clearance 0.5/day: y relaxes from 100 to 20 and reaches
    # half its treatment-start value, 50, at ln((100 - 20) / (50 - 20)) / 0.5 days.
    crossing = math.log(80 / 30) / 0.5
    times = [0.0, 1.0, crossing, 2.0, 5.0, 10.0]
    ds = dg.simulate(frozen(), ADAPTIVE, initial={"S": 10}, t_end=10.0, times=times, seed=1)
    assert float(ds["time_on_drug"][0]) == pytest.approx(crossing, rel=1e-12)
    assert int(ds["n_switches"][0]) == 1
    # Right-continuous: at the crossing time itself the switch has happened.
    assert ds["exposure"][0].values.tolist() == [1, 1, 0, 0, 0, 0]
    y = ds["biomarker"][0].values
    exact = 20 + 80 * np.exp(-0.5 * np.array(times))
    np.testing.assert_allclose(y, exact, rtol=1e-12)
    assert y[2] == pytest.approx(50.0, rel=1e-12)
    assert ds["biomarker"].attrs["units"] == "ng/mL"
    assert ds["biomarker"].attrs["long_name"].startswith("PSA")
    tr = dg.trace(frozen(), ADAPTIVE, initial={"S": 10}, t_end=10.0, seed=1)
    assert tr["switch_exposure"].tolist() == [0]
    assert tr["switch_time"][0] == pytest.approx(crossing, rel=1e-12)


def test_steady_initial_value_and_exposure_dependent_production() -> None:
    # Production 1 per cell off drug and 0.2 on: starting on (steady state 4) with y(0) = 10,
    # the biomarker cycles between 5 and 10 with closed-form half-periods.
    model = frozen(initial=10.0, production={"off": 1.0, "on": 0.2})
    tr = dg.trace(model, ADAPTIVE, initial={"S": 10}, t_end=30.0, seed=1)
    down, up = math.log(6.0) / 0.5, math.log(1.5) / 0.5
    expected = []
    t = 0.0
    while True:
        t += down
        if t > 30:
            break
        expected.append(t)
        t += up
        if t > 30:
            break
        expected.append(t)
    np.testing.assert_allclose(tr["switch_time"], expected, rtol=1e-12)
    assert tr["switch_exposure"].tolist() == [0, 1] * (len(expected) // 2) + [0] * (
        len(expected) % 2
    )
    # "steady" starts at sum p_i n_i / decay under the initial exposure: 10 x 0.2 / 0.5 = 4,
    # which never falls to 2 -- no switch.
    steady = dg.simulate(
        frozen(initial="steady", production={"off": 1.0, "on": 0.2}),
        ADAPTIVE,
        initial={"S": 10},
        t_end=5.0,
        seed=1,
    )
    assert steady["biomarker"].values.tolist() == [[4.0, 4.0]]
    assert int(steady["n_switches"][0]) == 0


BIRTH_DEATH: dict[str, Any] = {
    "states": ["S", "R"],
    "exposures": ["off", "on"],
    "division": {"S": 0.3, "R": 0.25},
    "death": {"S": {"off": 0.1, "on": 0.6}, "R": 0.1},
    "biomarker": {"production": {"S": 1.0, "R": {"off": 2.0, "on": 0.5}}, "decay": 0.8},
}


def closed_form(t: float, t0: float, y0: float, production: float, decay: float) -> float:
    """The biomarker at ``t`` on a stretch of constant production that starts at ``(t0, y0)``."""
    steady = production / decay
    return steady + (y0 - steady) * math.exp(-decay * (t - t0))


def biomarker_segments(
    tr: dict[str, Any], model: dict[str, Any]
) -> tuple[list[tuple[float, float, float]], float]:
    """From a trace: ``(t0, y(t0), production)`` of each stretch between events and switches,
    and the decay (independent of the engine's code)."""
    m = dg.Model.from_dict(model)
    spec = m.to_dict()["biomarker"]
    exposures = list(m.exposures)
    decay = spec["decay"]

    def production(counts: np.ndarray, exposure: int) -> float:
        total = 0.0
        for s, n in zip(m.states, counts.tolist(), strict=True):
            p = spec["production"][s]
            total += n * (p[exposures[exposure]] if isinstance(p, dict) else p)
        return total

    changes = sorted(
        [(float(t), "event", k) for k, t in enumerate(tr["time"]) if k > 0]
        + [(float(t), "switch", k) for k, t in enumerate(tr["switch_time"])]
    )
    counts, exposure = tr["count"][0], int(tr["exposure"][0])
    p = production(counts, exposure)
    y0 = spec["initial"] if spec["initial"] != "steady" else p / decay
    out = [(0.0, float(y0), p)]
    for tc, kind, k in changes:
        y = closed_form(tc, *out[-1], decay)
        if kind == "event":
            counts = tr["count"][k]
        else:
            exposure = int(tr["switch_exposure"][k])
        out.append((tc, y, production(counts, exposure)))
    return out, decay


def replay_biomarker(tr: dict[str, Any], model: dict[str, Any], times: np.ndarray) -> np.ndarray:
    """The biomarker at ``times`` from a trace: piecewise closed form between events and switches
    (independent of the engine's code)."""
    segments, decay = biomarker_segments(tr, model)
    starts = [t0 for t0, _, _ in segments]
    out = []
    for t in times:
        stretch = segments[int(np.searchsorted(starts, t, side="right")) - 1]
        out.append(closed_form(t, *stretch, decay))
    return np.array(out)


@pytest.mark.parametrize(
    "schedule", [{"kind": "intermittent", "on": 3, "off": 2}, ADAPTIVE], ids=["fixed", "adaptive"]
)
def test_recorded_biomarker_matches_a_replay_of_the_trace(schedule: dict[str, Any]) -> None:
    kw: dict[str, Any] = {"initial": {"S": 40, "R": 5}, "t_end": 12.0, "seed": 5}
    times = np.linspace(0, 12, 49)
    ds = dg.simulate(BIRTH_DEATH, schedule, times=times, **kw)
    tr = dg.trace(BIRTH_DEATH, schedule, **kw)
    assert int(ds["n_switches"][0]) == len(tr["switch_time"]) >= 1
    np.testing.assert_allclose(
        ds["biomarker"][0].values, replay_biomarker(tr, BIRTH_DEATH, times), rtol=1e-9
    )


# --- the hypothesis property: switches exactly at crossings -------------------------------------


class BiomarkerController:
    """The stop/resume rule on the biomarker, applied to a recorded history in pure Python."""

    def __init__(self, model: dict[str, Any], stop: float, resume: float) -> None:
        m = dg.Model.from_dict(model)
        self.spec = m.to_dict()["biomarker"]
        self.states, self.exposures = m.states, list(m.exposures)
        self.stop, self.resume = stop, resume

    def production(self, counts: np.ndarray, exposure: str) -> float:
        total = 0.0
        for s, n in zip(self.states, counts.tolist(), strict=True):
            p = self.spec["production"][s]
            total += n * (p[exposure] if isinstance(p, dict) else p)
        return total

    def replay(self, tr: dict[str, Any]) -> list[tuple[float, str]]:
        """Predicted switches (time, new exposure) and a check of the exposure at every event."""
        decay = self.spec["decay"]
        exposure, counts = "on", tr["count"][0]
        p = self.production(counts, exposure)
        y0 = self.spec["initial"]
        y0 = p / decay if y0 == "steady" else y0
        ref, t0 = y0, 0.0
        switches = []
        ends = [*tr["time"][1:].tolist(), float(tr["stop_time"])]
        for k, t_next in enumerate(ends, start=1):
            while True:
                steady = p / decay
                level = (self.stop if exposure == "on" else self.resume) * ref
                a, b = y0 - steady, level - steady
                if a == 0 or b == 0 or (a > 0) != (b > 0) or abs(b) >= abs(a):
                    break
                tc = t0 + math.log(a / b) / decay
                if tc >= t_next:
                    break
                exposure = "off" if exposure == "on" else "on"
                switches.append((tc, exposure))
                y0, t0 = level, tc
                p = self.production(counts, exposure)
            if k < len(tr["time"]):
                assert self.exposures[int(tr["exposure"][k])] == exposure, f"event {k}"
                y0 = closed_form(t_next, t0, y0, p, decay)
                t0, counts = t_next, tr["count"][k]
                p = self.production(counts, exposure)
        return switches


@given(
    b=st.floats(0.05, 0.6),
    d_on=st.floats(0.2, 1.5),
    p_r=st.floats(0.0, 3.0),
    decay=st.floats(0.1, 3.0),
    stop=st.floats(0.3, 0.9),
    gap=st.floats(0.05, 0.8),
    initial=st.one_of(st.just("steady"), st.floats(0.0, 200.0)),
    n0=st.integers(1, 60),
    seed=st.integers(0, 2**32 - 1),
)
def test_adaptive_biomarker_rule_switches_exactly_at_crossings(
    b: float,
    d_on: float,
    p_r: float,
    decay: float,
    stop: float,
    gap: float,
    initial: float | str,
    n0: int,
    seed: int,
) -> None:
    model = {
        "states": ["S", "R"],
        "exposures": ["off", "on"],
        "division": {"S": b, "R": 0.8 * b},
        "death": {"S": {"off": 0.05, "on": d_on}, "R": 0.05},
        "switch": [{"from": "S", "to": "R", "rate": 0.01}],
        "biomarker": {
            "production": {"S": 1.0, "R": {"off": p_r, "on": 0.5 * p_r}},
            "decay": decay,
            "initial": initial,
        },
    }
    schedule = {**ADAPTIVE, "stop_below": stop, "resume_above": stop + gap}
    tr = dg.trace(model, schedule, initial={"S": n0}, t_end=25.0, seed=seed, max_events=20_000)
    assert (tr["count"] >= 0).all()
    predicted = BiomarkerController(model, stop, stop + gap).replay(tr)
    got = list(zip(tr["switch_time"].tolist(), tr["switch_exposure"].tolist(), strict=True))
    assert len(got) == len(predicted), (got, predicted)
    for (t, e), (pt, pe) in zip(got, predicted, strict=True):
        assert t == pytest.approx(pt, rel=1e-9, abs=1e-9)
        assert ["off", "on"][e] == pe


def test_extinction_and_caps_in_the_record() -> None:
    model = {
        "states": ["S"],
        "death": {"S": 2.0},
        "biomarker": {"production": {"S": 1.0}, "decay": 0.5},
    }
    ds = dg.simulate(model, "off", initial={"S": 5}, t_end=30.0, times=[20.0, 30.0], seed=3)
    assert int(ds["status"][0]) == 1  # extinct
    y20, y30 = ds["biomarker"][0].values
    assert y20 > 0
    assert y30 == pytest.approx(y20 * math.exp(-5.0), rel=1e-12)
    grow = {**model, "division": {"S": 2.0}, "death": {"S": 0.0}}
    with pytest.warns(UserWarning, match="stopped early"):
        ds = dg.simulate(
            grow, "off", initial={"S": 5}, t_end=30.0, times=[0.0, 30.0], seed=3, max_population=100
        )
    assert np.isfinite(ds["biomarker"][0, 0])
    assert np.isnan(ds["biomarker"][0, 1])


def test_dataset_contract_reproduce_store_and_summary(tmp_path: Any) -> None:
    kw: dict[str, Any] = {
        "initial": {"S": 40, "R": 5},
        "t_end": 10.0,
        "record_every": 1.0,
        "n_replicates": 6,
        "seed": 9,
    }
    ds = dg.simulate(BIRTH_DEATH, ADAPTIVE, **kw)
    assert ds["biomarker"].dims == ("replicate", "time")
    assert ds["biomarker"].dtype == np.float64
    assert "biomarker" not in dg.simulate({"states": ["S"]}, "off", initial={"S": 1}, t_end=1.0)
    assert dg.reproduce(ds)["biomarker"].equals(ds["biomarker"])
    stored = dg.simulate(BIRTH_DEATH, ADAPTIVE, store=str(tmp_path / "run.zarr"), **kw)
    np.testing.assert_array_equal(stored["biomarker"].values, ds["biomarker"].values)
    assert stored["biomarker"].attrs["units"] == ds["biomarker"].attrs["units"]
    summary = dg.simulate(BIRTH_DEATH, ADAPTIVE, summary_only=True, **kw)
    assert "biomarker" not in summary
    # Progression defaults to every state when the schedule monitors the biomarker.
    prog = dg.simulate(BIRTH_DEATH, ADAPTIVE, progression={"size": 60}, **kw)
    assert prog.attrs["run"].count('"monitor": {"S": 1.0, "R": 1.0}') == 1


def _model_with(biomarker: Any) -> dict[str, Any]:
    return {"states": ["S", "R"], "division": {"S": 0.1}, "biomarker": biomarker}


@pytest.mark.parametrize(
    ("biomarker", "match"),
    [
        (5, "biomarker must be a table"),
        ({"production": {"S": 1}, "decay": 1, "color": "red"}, "unknown key 'color' in biomarker"),
        ({"decay": 0.5}, "biomarker has no 'production'"),
        ({"production": {"S": 1}}, "biomarker has no 'decay'"),
        ({"production": {"S": 1}, "decay": 0}, r"biomarker decay is 0; it must be a finite"),
        ({"production": {"S": 1}, "decay": float("inf")}, r"biomarker decay is inf"),
        ({"production": {"S": -1}, "decay": 1}, r"production of state 'S' is -1; coefficients"),
        ({"production": {"Q": 1}, "decay": 1}, r"production names unknown state 'Q'"),
        ({"production": {"S": 0}, "decay": 1}, "production is 0 for every state"),
        ({"production": [1, 2], "decay": 1}, r"production must be a table"),
        ({"production": {"S": 1}, "decay": 1, "initial": -3}, r"biomarker initial is -3"),
        ({"production": {"S": 1}, "decay": 1, "initial": "ss"}, r"biomarker initial is 'ss'"),
        ({"production": {"S": 1}, "decay": 1, "name": ""}, r"biomarker name is ''"),
        ({"production": {"S": 1}, "decay": 1, "units": 3}, r"biomarker units is 3"),
    ],
)
def test_biomarker_errors_name_the_field_and_value(biomarker: Any, match: str) -> None:
    with pytest.raises(InvalidModelError, match=match):
        dg.Model.from_dict(_model_with(biomarker))


def test_schedule_and_run_errors() -> None:
    plain = {"states": ["S"], "division": {"S": 0.1}}
    with pytest.raises(InvalidScheduleError, match="monitor is 'biomarker', but the model has no"):
        dg.simulate(plain, ADAPTIVE, initial={"S": 1}, t_end=1.0)
    with pytest.raises(InvalidScheduleError, match="adaptive monitor is 'psa'; expected"):
        dg.Schedule.from_dict({**ADAPTIVE, "monitor": "psa"})
    with pytest.raises(InvalidScheduleError, match="pk schedules do not support a model biomarker"):
        dg.simulate(
            BIRTH_DEATH,
            {"kind": "pk", "dose": 1, "dose_every": 1, "half_life": 1},
            initial={"S": 1},
            t_end=1.0,
        )
    with pytest.raises(InvalidRunError, match="monitor is 'biomarker', but the model has no"):
        dg.simulate(
            plain,
            "off",
            initial={"S": 1},
            t_end=1.0,
            progression={"size": 5, "monitor": "biomarker"},
        )


# --- progression on the biomarker --------------------------------------------------------------


def test_biomarker_progression_at_the_closed_form_crossing() -> None:
    # 10 frozen cells make 1 unit a day each, clearance 0.5: y rises from 10 towards 20 and
    # reaches 15 (the size, and 1.5 x the nadir 10) after ln(2) / 0.5 days.
    expected = math.log(2.0) / 0.5
    for progression in (
        {"size": 15.0},
        {"factor": 1.5, "min_size": 0},
        {"factor": 1.5, "size": 18.0, "min_size": 0},
    ):
        ds = dg.simulate(
            frozen(initial=10.0),
            "off",
            initial={"S": 10},
            t_end=5.0,
            seed=1,
            progression={**progression, "monitor": "biomarker"},
        )
        assert float(ds["progression_time"][0]) == pytest.approx(expected, rel=1e-12)
    # Already at the size at time 0; never reached when the steady state is below it.
    at_zero = dg.simulate(
        frozen(initial=10.0),
        "off",
        initial={"S": 10},
        t_end=5.0,
        seed=1,
        progression={"size": 9.0, "monitor": "biomarker"},
    )
    assert float(at_zero["progression_time"][0]) == 0.0
    never = dg.simulate(
        frozen(initial=10.0),
        "off",
        initial={"S": 10},
        t_end=5.0,
        seed=1,
        progression={"size": 20.0, "monitor": "biomarker"},
    )
    assert math.isnan(float(never["progression_time"][0]))


def test_biomarker_progression_from_the_nadir_after_a_switch() -> None:
    # On drug the cells make 0.2 a day each (steady state 4 < y(0) = 10, falling); off drug from
    # day 2, 1 a day (steady state 20, rising). The nadir is y(2); progression at 2 x y(2).
    model = frozen(initial=10.0, production={"off": 1.0, "on": 0.2})
    model["exposures"] = ["off", "on"]
    schedule = {"kind": "piecewise", "segments": [[0, "on"], [2, "off"]]}
    y2 = 4.0 + 6.0 * math.exp(-0.5 * 2.0)
    expected = 2.0 + math.log((y2 - 20.0) / (2.0 * y2 - 20.0)) / 0.5
    ds = dg.simulate(
        model,
        schedule,
        initial={"S": 10},
        t_end=10.0,
        seed=1,
        progression={"factor": 2.0, "min_size": 0, "monitor": "biomarker"},
    )
    assert float(ds["progression_time"][0]) == pytest.approx(expected, rel=1e-12)


def replay_progression(
    tr: dict[str, Any],
    model: dict[str, Any],
    factor: float | None,
    t_end: float,
    size: float | None = None,
    min_size: float = 0.0,
) -> float:
    """First time the biomarker of a trace rises to the progression level (``factor`` x its
    nadir so far, or ``size``, and at least ``min_size``). Between events and switches the closed
    form is monotone, so the nadir is at a stretch's start and the level is crossed upwards on a
    stretch exactly when it lies in ``(y(t0), y(t1)]``; the crossing is found by root-finding on
    the closed form (independent of the engine's log formula). Checks that change nothing play no
    part."""
    segments, decay = biomarker_segments(tr, model)
    nadir = math.inf
    ends = [t for t, _, _ in segments[1:]] + [t_end]
    for (t0, y0, p), t1 in zip(segments, ends, strict=True):
        nadir = min(nadir, y0)
        level = max(min(math.inf if factor is None else factor * nadir, size or math.inf), min_size)
        if y0 >= level and y0 > 0:
            return t0

        def excess(t: float, stretch: tuple = (t0, y0, p), level: float = level) -> float:
            return closed_form(t, *stretch, decay) - level

        if t1 > t0 and excess(t1) >= 0:
            return float(optimize.brentq(excess, t0, t1, xtol=1e-13, rtol=1e-15))
    return math.nan


@pytest.mark.parametrize(
    "schedule", [{"kind": "intermittent", "on": 3, "off": 2}, ADAPTIVE], ids=["fixed", "adaptive"]
)
@given(seed=st.integers(0, 2**32 - 1), min_size=st.sampled_from([0.0, 60.0]))
def test_biomarker_progression_matches_a_replay_of_the_trace(
    schedule: dict[str, Any], seed: int, min_size: float
) -> None:
    kw: dict[str, Any] = {"initial": {"S": 40, "R": 5}, "t_end": 12.0, "seed": seed}
    progression = {"factor": 1.3, "min_size": min_size, "monitor": "biomarker"}
    ds = dg.simulate(BIRTH_DEATH, schedule, record_every=12.0, progression=progression, **kw)
    tr = dg.trace(BIRTH_DEATH, schedule, **kw)
    stop = float(ds["stop_time"][0])
    expected = replay_progression(tr, BIRTH_DEATH, 1.3, stop, min_size=min_size)
    got = float(ds["progression_time"][0])
    if math.isnan(expected):
        assert math.isnan(got)
    else:
        assert got == pytest.approx(expected, rel=1e-9, abs=1e-9)


# --- progression at checks that change nothing --------------------------------------------------

# Adaptive rules on the biomarker that never switch from "on" (it stays > 0 from a positive start).
NEVER_OFF = {
    "kind": "adaptive",
    "monitor": "biomarker",
    "reference": "absolute",
    "stop_below": 0.0,
    "resume_above": 1e18,
    "start": "on",
}


@st.composite
def schedules_that_never_switch(draw: st.DrawFn, t_end: float) -> dict[str, Any] | str:
    """The exposure "on" for all time, with checks that change nothing: none, same-exposure
    breakpoints, visits, or a timer (``min_on``) of a continuous rule."""
    kind = draw(st.sampled_from(["continuous", "breakpoints", "visits", "timer"]))
    if kind == "continuous":
        return "on"
    if kind == "breakpoints":
        starts = draw(st.lists(st.floats(0.05, t_end - 0.05), min_size=1, max_size=8, unique=True))
        return {"kind": "piecewise", "segments": [[t, "on"] for t in [0.0, *sorted(starts)]]}
    if kind == "visits":
        return {**NEVER_OFF, "check_every": draw(st.sampled_from([0.25, 0.5, 0.7, 1.0]))}
    return {**NEVER_OFF, "min_on": draw(st.floats(0.1, t_end))}


@given(
    b=st.floats(0.0, 0.5),
    d=st.floats(0.01, 0.5),
    p_r=st.floats(0.0, 3.0),
    decay=st.floats(0.2, 3.0),
    initial=st.floats(0.5, 200.0),
    n0=st.integers(1, 30),
    factor=st.floats(1.05, 3.0),
    size=st.one_of(st.none(), st.floats(2.0, 300.0)),
    schedule=schedules_that_never_switch(8.0),
    seed=seeds,
)
def test_biomarker_progression_is_the_first_upward_crossing_whatever_the_checks(
    b: float,
    d: float,
    p_r: float,
    decay: float,
    initial: float,
    n0: int,
    factor: float,
    size: float | None,
    schedule: dict[str, Any] | str,
    seed: int,
) -> None:
    model = {
        "states": ["S", "R"],
        "exposures": ["off", "on"],
        "division": {"S": b, "R": 0.8 * b},
        "death": {"S": d, "R": 0.5 * d},
        "switch": [{"from": "S", "to": "R", "rate": 0.05}],
        "biomarker": {"production": {"S": 1.0, "R": p_r}, "decay": decay, "initial": initial},
    }
    progression = {"factor": factor, "min_size": 0, "monitor": "biomarker"}
    if size is not None:
        progression["size"] = size
    kw: dict[str, Any] = {"initial": {"S": n0}, "t_end": 8.0, "seed": seed}
    ds = dg.simulate(model, schedule, record_every=8.0, progression=progression, **kw)
    assert int(ds["n_switches"][0]) == 0
    tr = dg.trace(model, schedule, **kw)
    expected = replay_progression(tr, model, factor, float(ds["stop_time"][0]), size)
    got = float(ds["progression_time"][0])
    if math.isnan(expected):
        assert math.isnan(got), got
    else:
        assert got == pytest.approx(expected, rel=1e-9, abs=1e-9)
    # The checks change no draw and no progression time, bit for bit.
    plain = dg.simulate(model, "on", record_every=8.0, progression=progression, **kw)
    assert plain["progression_time"].equals(ds["progression_time"])


# The issue's model: 5 frozen cells (rare deaths) whose biomarker can only fall, from 100 towards 5.
FALLING: dict[str, Any] = {
    "states": ["S"],
    "exposures": ["off", "on"],
    "division": {"S": 0.0},
    "death": {"S": 0.01},
    "biomarker": {"production": {"S": 1.0}, "decay": 1.0, "initial": 100.0},
}
NEVER_SWITCHING = {
    "continuous": "on",
    "breakpoints": {"kind": "piecewise", "segments": [[0, "on"], [1, "on"], [2, "on"], [3, "on"]]},
    "visits": {**NEVER_OFF, "check_every": 0.5},
    "timer": {**NEVER_OFF, "min_on": 1.0},
}


def progression_times(model: dict[str, Any], schedule: dict[str, Any] | str) -> np.ndarray:
    """Progression times (1.5 x the biomarker's nadir) of 1000 replicates over 5 days."""
    ds = dg.simulate(
        model,
        schedule,
        initial={"S": 5},
        t_end=5.0,
        record_every=5.0,
        n_replicates=1000,
        seed=12,
        progression={"factor": 1.5, "min_size": 0, "monitor": "biomarker"},
    )
    assert (ds["n_switches"].values == 0).all()
    return ds["progression_time"].values


@pytest.mark.parametrize("schedule", NEVER_SWITCHING.values(), ids=NEVER_SWITCHING.keys())
def test_a_falling_biomarker_never_progresses_at_checks_that_change_nothing(
    schedule: dict[str, Any] | str,
) -> None:
    # It passes 1.5 x every later nadir on its way down: that is not progression.
    assert np.isnan(progression_times(FALLING, schedule)).all()


@pytest.mark.parametrize("schedule", NEVER_SWITCHING.values(), ids=NEVER_SWITCHING.keys())
def test_a_growing_twin_progresses_at_the_same_times_whatever_the_checks(
    schedule: dict[str, Any] | str,
) -> None:
    # Positive control: dividing cells make the biomarker fall to a nadir, then rise past 1.5 x it.
    growing = {**FALLING, "division": {"S": 1.0}}
    times = progression_times(growing, schedule)
    assert np.mean(~np.isnan(times)) >= 0.99
    np.testing.assert_array_equal(times, progression_times(growing, "on"))


# --- ensemble mean against the exact mean ------------------------------------------------------

# Linear birth-death with a biomarker, off drug for 2 days, then on (more death, less production).
# Rates per exposure: (division, death, production per cell); decay 0.8/day, y(0) = 5, n(0) = 20.
MEAN_RATES = {"off": (0.5, 0.2, 1.0), "on": (0.5, 0.9, 0.4)}
MEAN_PHASES = [("off", 0.0), ("on", 2.0)]
MEAN_TIMES = [0.5, 1.0, 2.0, 3.0, 5.0]


def mean_model(scale: str = "", factor: float = 1.0) -> dict[str, Any]:
    """The model above, with ``division``, ``production`` or ``decay`` multiplied by ``factor``."""

    def f(key: str) -> float:
        return factor if key == scale else 1.0

    return {
        "states": ["S"],
        "exposures": ["off", "on"],
        "division": {"S": {e: b * f("division") for e, (b, _, _) in MEAN_RATES.items()}},
        "death": {"S": {e: d for e, (_, d, _) in MEAN_RATES.items()}},
        "biomarker": {
            "production": {"S": {e: p * f("production") for e, (_, _, p) in MEAN_RATES.items()}},
            "decay": 0.8 * f("decay"),
            "initial": 5.0,
        },
    }


def biomarker_mean(t: float, n0: float = 20.0, y0: float = 5.0, decay: float = 0.8) -> float:
    """E[y(t)] of the correct model: E[n] grows as exp(r s) within a phase, and the linear ODE
    dE[y]/ds = p E[n] - decay E[y] gives, from (M, Y) at the phase start,
    Y exp(-decay s) + p M (exp(r s) - exp(-decay s)) / (r + decay)."""
    m, y = n0, y0
    ends = [start for _, start in MEAN_PHASES[1:]] + [math.inf]
    for (exposure, start), end in zip(MEAN_PHASES, ends, strict=True):
        b, d, p = MEAN_RATES[exposure]
        r, s = b - d, min(t, end) - start
        y = y * math.exp(-decay * s) + p * m * (math.exp(r * s) - math.exp(-decay * s)) / (
            r + decay
        )
        m *= math.exp(r * s)
        if t <= end:
            break
    return y


def test_biomarker_mean_closed_form_by_quadrature() -> None:
    # The closed form against a direct quadrature of y(t) = y0 e^{-ct} + int p(s) E[n](s)
    # e^{-c(t-s)} ds (independent of the phase-by-phase algebra).
    def en(s: float) -> float:
        return 20.0 * math.exp(0.3 * s) if s < 2 else 20.0 * math.exp(0.6 - 0.4 * (s - 2))

    for t in MEAN_TIMES:
        integral, _ = integrate.quad(
            lambda s, t=t: (1.0 if s < 2 else 0.4) * en(s) * math.exp(-0.8 * (t - s)),
            0.0,
            t,
            points=[2.0] if t > 2 else None,
            epsabs=0.0,
            epsrel=1e-12,
        )
        assert biomarker_mean(t) == pytest.approx(5.0 * math.exp(-0.8 * t) + integral, rel=1e-9)


def biomarker_z(model: dict[str, Any], n: int, seed: int) -> np.ndarray:
    """z = (sample mean - exact mean of the correct model) / (sd / sqrt(n)) at MEAN_TIMES."""
    ds = dg.simulate(
        model,
        {"kind": "piecewise", "segments": [[start, e] for e, start in MEAN_PHASES]},
        initial={"S": 20},
        t_end=MEAN_TIMES[-1],
        times=MEAN_TIMES,
        n_replicates=n,
        seed=seed,
    )
    y = ds["biomarker"].values  # (replicate, time)
    exact = np.array([biomarker_mean(t) for t in MEAN_TIMES])
    return (y.mean(axis=0) - exact) / (y.std(axis=0, ddof=1) / math.sqrt(n))


def test_ensemble_mean_biomarker_matches_the_exact_mean() -> None:
    z = biomarker_z(mean_model(), 4000, seed=17)
    assert (np.abs(z) < Z_CRIT).all(), z


@pytest.mark.parametrize("scale", ["division", "production", "decay"])
def test_the_same_check_rejects_a_biomarker_rate_off_by_20_percent(scale: str) -> None:
    z = biomarker_z(mean_model(scale, 1.2), 4000, seed=17)
    assert (np.abs(z) > Z_CRIT).any(), z
