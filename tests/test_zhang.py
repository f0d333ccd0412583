"""Zhang et al. 2017 preset and its reproduction script (examples/reproduce_zhang2017.py)."""

import math
from types import ModuleType
from typing import Any

import dtp_gillespie as dg
import numpy as np
import pytest
from dtp_gillespie import presets
from example_scripts import load_example
from oracles import Z_CRIT
from scipy.integrate import solve_ivp


def _example() -> ModuleType:
    return load_example("reproduce_zhang2017")


@pytest.fixture(scope="module")
def zhang_quick() -> dict[str, Any]:
    return _example().main(["--quick"])


def _zhang_scipy(schedule: str) -> float:
    """The ODE limit written out from the paper's equations (preset docstring), by scipy LSODA.

    dn_i/dt = r_i n_i (1 - sum_j alpha_ij n_j / K_i), K_T+ = 1 + 1.5 TP (0.5 TP on drug),
    K_TP = 10^4 (100 on drug), K_T- = 10^4; dPSA/dt = sum_i n_i - 0.5 PSA from its steady state;
    the adaptive switches are located exactly (terminal events on the PSA).
    """
    p = presets.zhang2017_adaptive(schedule)
    names = ("T+", "TP", "T-")
    r = np.array([presets.ZHANG_GROWTH[s] for s in names])
    alpha = np.array([[presets.ZHANG_ALPHA[i][j] for j in names] for i in names])
    size, t_end = p.run["progression"]["size"], p.run["t_end"]

    def rhs(on: bool):
        def f(_t: float, y: np.ndarray) -> list[float]:
            n = y[:3]
            k = np.array([1.0 + (0.5 if on else 1.5) * n[1], 100.0 if on else 1e4, 1e4])
            return [*(r * n * (1.0 - alpha @ n / k)), n.sum() - 0.5 * y[3]]

        return f

    def crossing(index: int, level: float, direction: int):
        def event(_t: float, y: np.ndarray) -> float:
            return y[index] - level

        event.terminal = True  # type: ignore[attr-defined]
        event.direction = direction  # type: ignore[attr-defined]
        return event

    y = np.array([*(float(p.run["initial"][s]) for s in names), 0.0])
    y[3] = psa0 = y[:3].sum() / 0.5
    t, on = 0.0, True
    while t < t_end:
        events = [crossing(2, size, 1)]
        if schedule == "adaptive":
            events.append(crossing(3, 0.5 * psa0 if on else psa0, -1 if on else 1))
        sol = solve_ivp(rhs(on), (t, t_end), y, events=events, method="LSODA", rtol=1e-10)
        if sol.t_events[0].size:
            return float(sol.t_events[0][0])
        if len(events) == 1 or not sol.t_events[1].size:
            break
        t, y, on = float(sol.t_events[1][0]), sol.y_events[1][0], not on
    return math.inf


def _median_agrees(lower: float, upper: float, limit: float) -> bool:
    """Whether ``limit`` lies in the 99.9% Brookmeyer-Crowley interval of a KM median: the
    two-sided test of median = limit at alpha = 0.001. NaN means not reached by t_end: an open
    upper limit, or a lower limit beyond t_end (the runs here extend at least to ``limit``)."""
    return (not math.isnan(lower) and lower <= limit) and (math.isnan(upper) or limit <= upper)


@pytest.mark.parametrize("schedule", ["adaptive", "continuous"])
def test_preset_validates_and_runs(schedule: str) -> None:
    p = presets.zhang2017_adaptive(schedule)
    model = dg.Model.from_dict(p.model)
    dg.Schedule.from_dict(p.schedule).compile(model, p.run["t_end"])
    assert set(p.to_dict()) == {"model", "schedule", "run"}
    assert model.biomarker is not None
    assert model.biomarker["decay"] == 0.5
    comp = model.competition
    assert comp is not None
    assert comp["states"]["T+"]["K_per_cell"] == {"TP": {"off": 1.5, "on": 0.5}}
    assert comp["states"]["TP"]["K"] == {"off": 10_000.0, "on": 100.0}
    ds = p.simulate(n_replicates=4, seed=1, t_end=400.0)
    assert (ds["count"] >= 0).all()
    assert np.isfinite(ds["biomarker"]).all()
    if schedule == "adaptive":
        # The first stop comes when PSA has halved: exactly half its value at treatment start.
        tr = dg.trace(p.model, p.schedule, initial=p.run["initial"], t_end=200.0, seed=1)
        assert tr["switch_exposure"][0] == 0
        assert (ds["n_switches"] >= 1).all()
    else:
        assert (ds["n_switches"] == 0).all()


def test_preset_rejects_unknown_schedules() -> None:
    with pytest.raises(ValueError, match="schedule is 'intermittent'"):
        presets.zhang2017_adaptive("intermittent")
    assert "zhang2017_adaptive" in presets.__all__


def test_adaptive_psa_rule_stops_at_half_the_treatment_start_value() -> None:
    p = presets.zhang2017_adaptive("adaptive")
    tr = dg.trace(p.model, p.schedule, initial=p.run["initial"], t_end=100.0, seed=3)
    t_stop = float(tr["switch_time"][0])
    # Re-run with a record at the switch time: the PSA there is half its value at t = 0.
    ds = dg.simulate(
        p.model, p.schedule, initial=p.run["initial"], t_end=100.0, times=[0.0, t_stop], seed=3
    )
    y0, y_stop = ds["biomarker"][0].values
    assert y_stop == pytest.approx(0.5 * y0, rel=1e-9)


def test_example_quick_shows_adaptive_delaying_progression(zhang_quick: dict[str, Any]) -> None:
    out = zhang_quick
    c, a = out["schedules"]["continuous"], out["schedules"]["adaptive"]
    # The script's RK4 of the deterministic limit against scipy on the paper's equations. The
    # continuous limit has no switch and agrees to the solvers' precision; the RK4 applies each
    # adaptive switch at the end of the step where PSA crosses (up to dt = 0.1 day late, a
    # first-order error: about 1 day over the 5 switches, halving with dt).
    assert c["ode_ttp_days"] == pytest.approx(_zhang_scipy("continuous"), abs=1e-3)
    assert a["ode_ttp_days"] == pytest.approx(_zhang_scipy("adaptive"), abs=2.0)
    # Deterministic (no sampling error): adaptive delays progression by more than half.
    assert a["ode_ttp_days"] > 1.5 * c["ode_ttp_days"]
    # Each ensemble median agrees with the ODE limit at two-sided alpha = 0.001 (the limit lies in
    # its 99.9% interval). The ODE is the large-population limit; the exact medians differ from
    # it by about 1% (T- starts from 10 cells), far inside this interval at 40 replicates (±3%).
    for r in (c, a):
        assert _median_agrees(
            r["median_ttp_lower_999"], r["median_ttp_upper_999"], r["ode_ttp_days"]
        )
    # Adaptive progresses later: the log-rank test at alpha = 0.001, and the median ratio exceeds
    # 1.5 (adaptive's lower 99.9% limit above 1.5 x continuous' upper one: a one-sided error of
    # at most 0.0005 each).
    assert out["logrank_p"] < 0.001
    assert a["median_ttp_lower_999"] > 1.5 * c["median_ttp_upper_999"]
    # Adaptive is on drug less than half the time before progression: one-sided z at 0.001 of the
    # mean of per-replicate fractions in [0, 1] (variance at most 1/4) against 0.5.
    n = out["n_replicates"]
    assert (0.5 - a["on_drug_fraction_before_progression"]) / math.sqrt(0.25 / n) > Z_CRIT
    assert c["on_drug_fraction_before_progression"] == 1.0
    assert math.isfinite(out["seconds"])


@pytest.mark.parametrize("schedule", ["continuous", "adaptive"])
def test_median_check_rejects_a_wrong_growth_rate(
    zhang_quick: dict[str, Any], schedule: str
) -> None:
    # The check above rejects a model whose T- growth rate is 20% off (it progresses about 1/1.2
    # as late) with the script's quick size and the correct model's ODE limit. The check needs
    # follow-up only up to the limit (both interval ends are decided by the KM curve before it),
    # so the wrong model is simulated to the limit, not to t_end.
    correct = zhang_quick["schedules"][schedule]
    limit = correct["ode_ttp_days"]
    assert _median_agrees(correct["median_ttp_lower_999"], correct["median_ttp_upper_999"], limit)
    p = presets.zhang2017_adaptive(schedule)
    p.model["division"]["T-"] = presets.ZHANG_GROWTH["T-"] * 1.2
    ds = p.simulate(n_replicates=zhang_quick["n_replicates"], seed=7, t_end=math.ceil(limit))
    med = dg.analysis.median_time(ds, confidence=0.999)
    assert not _median_agrees(float(med["lower"]), float(med["upper"]), limit)


def test_example_names_which_published_numbers_it_reproduces(zhang_quick: dict[str, Any]) -> None:
    """The comparison with the paper is computed from the ODE limit by the stated rule, and says
    what the preset's docstring and the README say: the ratio of the times to progression is
    reproduced, the standard-dosing time and the cumulative dose are not."""
    example = _example()
    rows = {row["quantity"]: row for row in zhang_quick["published"]}
    c, a = zhang_quick["schedules"]["continuous"], zhang_quick["schedules"]["adaptive"]
    ratio = rows["adaptive / standard time to progression"]
    assert ratio["model"] == pytest.approx(a["ode_ttp_days"] / c["ode_ttp_days"])
    assert ratio["paper"] == pytest.approx(27.0 / 16.5)
    for row in rows.values():
        if row["kind"] == "at least":
            assert row["reproduced"] == (row["model"] >= row["paper"])
        else:
            close = abs(row["model"] / row["paper"] - 1.0) <= example.AGREEMENT_TOLERANCE
            assert row["reproduced"] == close
    assert ratio["reproduced"]
    assert not rows["standard-dosing time to progression (months)"]["reproduced"]
    assert not rows["adaptive cumulative dose (fraction of standard)"]["reproduced"]
    # The documented reason for the dose: short courses. The ODE's adaptive arm is on drug less
    # than 5% of the time before progression.
    assert rows["adaptive cumulative dose (fraction of standard)"]["model"] < 0.05
