"""Pharmacokinetic dosing and the new schedule kinds against exact results (oracles O8, O10), at
two tiers, in the style of test_statistics.py.

Each check returns a z-score of an ensemble statistic against the exact value of the correct model.
It must be small for the correct model and large (|z| > 3.29) for a model whose drug effect E_max
(on − off) is off by 20% (CI tier) or 5% (deep tier, ``DTP_DEEP=1``). Seeds are fixed.

In pure-death models the cells die independently, so the survivors of ``n_rep`` replicates of
``n0`` cells are Binomial(n_rep·n0, p): many cells per replicate give power cheaply.
"""

import itertools
import math

import dtp_gillespie as dg
import numpy as np
import pytest
from oracles import (
    O10_DAILY_INTEGRAL_7,
    O10_DAILY_MEAN_7,
    O10_DAILY_SURVIVAL_7,
    O10_INTEGRAL_3,
    O10_P0_3,
    O10_P0_3_EMAX_105,
    O10_SURVIVAL_3,
    Z_CRIT,
    bd_extinction_and_moments,
    bolus_concentration,
    hill,
    hill_integral_single_dose,
    integrate_rate,
    kendall_inhomogeneous_p0,
    pk_rate,
    z_mean,
    z_proportion,
)
from scipy import optimize

CI, DEEP = "ci", "deep"


def tiers(ci_n: int, deep_n: int) -> list:
    return [
        pytest.param(1.20, ci_n, id=CI),
        pytest.param(1.05, deep_n, id=DEEP, marks=pytest.mark.deep),
    ]


def one_state(death_off: float, death_on: float, birth: float = 0.0) -> dict:
    return {
        "states": ["N"],
        "exposures": ["off", "on"],
        "division": {"N": birth},
        "death": {"N": {"off": death_off, "on": death_on}},
    }


def o10_schedule(**changes: object) -> dict:
    spec = {"kind": "pk", "dose": 10.0, "dose_times": [0.0], "half_life": 1.5, "hill": 2.0}
    return {**spec, **changes}


def final(ds, state: str = "N") -> np.ndarray:
    return ds["count"].sel(cell_state=state).isel(time=-1).to_numpy()


def survivors_z(
    model: dict, schedule: dict, t_end: float, p: float, n_cells: int, seed: int, reps: int = 20
) -> float:
    """z of the surviving fraction of n_cells independent cells (pure death) against p."""
    n0 = n_cells // reps
    ds = dg.simulate(model, schedule, initial={"N": n0}, t_end=t_end, n_replicates=reps, seed=seed)
    return z_proportion(int(final(ds).sum()), n0 * reps, p)


# --- O10: one decaying dose with a Hill death rate -----------------------------------------------
def test_o10_closed_form_reproduces_the_oracle_table() -> None:
    k = math.log(2) / 1.5
    assert hill_integral_single_dose(10.0, 1.0, 2.0, k, 3.0) == pytest.approx(
        O10_INTEGRAL_3, abs=1e-6
    )
    assert math.exp(-0.1 * 3 - O10_INTEGRAL_3) == pytest.approx(O10_SURVIVAL_3, rel=1e-5)
    birth = lambda s: 0.5  # noqa: E731
    p0, _, _ = bd_extinction_and_moments(birth, pk_rate(0.1, 1.1, 1, 2, 10, [0.0], 1.5), 3, [0])
    assert p0 == pytest.approx(O10_P0_3, abs=1e-6)
    p0_wrong, _, _ = bd_extinction_and_moments(
        birth, pk_rate(0.1, 1.15, 1, 2, 10, [0.0], 1.5), 3, [0]
    )
    assert p0_wrong == pytest.approx(O10_P0_3_EMAX_105, abs=1e-6)


def o10_survival_z(emax: float, n_cells: int, seed: int = 101) -> float:
    return survivors_z(
        one_state(0.1, 0.1 + emax), o10_schedule(), 3.0, O10_SURVIVAL_3, n_cells, seed
    )


@pytest.mark.parametrize(("factor", "n"), tiers(ci_n=20_000, deep_n=100_000))
def test_o10_pure_death_survival(factor: float, n: int) -> None:
    assert abs(o10_survival_z(1.0, n)) < Z_CRIT
    assert abs(o10_survival_z(factor, n)) > Z_CRIT


def test_o10_a_drug_frozen_at_its_dose_value_is_detected() -> None:
    # An engine that never lets C decay gives exp(-3 (0.1 + 100/101)) = 0.037995.
    frozen = math.exp(-3 * (0.1 + hill(10.0, 1.0, 2.0)))
    assert frozen == pytest.approx(0.037995, abs=1e-6)
    ds = dg.simulate(
        one_state(0.1, 1.1),
        o10_schedule(),
        initial={"N": 5000},
        t_end=3.0,
        n_replicates=20,
        seed=102,
    )
    hits = int(final(ds).sum())
    assert abs(z_proportion(hits, 100_000, O10_SURVIVAL_3)) < Z_CRIT
    assert abs(z_proportion(hits, 100_000, frozen)) > Z_CRIT


def o10_extinction_z(emax: float, n: int, seed: int = 103) -> float:
    ds = dg.simulate(
        one_state(0.1, 0.1 + emax, birth=0.5),
        o10_schedule(),
        initial={"N": 1},
        t_end=3.0,
        n_replicates=n,
        seed=seed,
    )
    return z_proportion(int(np.sum(final(ds) == 0)), n, O10_P0_3)


@pytest.mark.parametrize(("factor", "n"), tiers(ci_n=2000, deep_n=15_000))
def test_o10_extinction_with_birth(factor: float, n: int) -> None:
    assert abs(o10_extinction_z(1.0, n)) < Z_CRIT
    assert abs(o10_extinction_z(factor, n)) > Z_CRIT


# --- O10: daily boluses (superposition) ----------------------------------------------------------
DAILY = o10_schedule(dose_times=None, dose_every=1.0, first_dose=0.0)


def test_daily_bolus_doses_and_integral() -> None:
    model = dg.Model.from_dict(one_state(0.1, 1.1))
    sched = dg.Schedule.from_dict(DAILY)
    doses = sched.dose_times(7.0)
    assert doses == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    assert sched.compile(model, t_end=7.0)["dose_times"] == doses
    integral = integrate_rate(lambda s: pk_rate(0, 1, 1, 2, 10, doses, 1.5)(s), 7.0, doses)
    assert integral == pytest.approx(O10_DAILY_INTEGRAL_7, abs=1e-6)
    assert math.exp(-0.7 - integral) == pytest.approx(O10_DAILY_SURVIVAL_7, rel=1e-5)


def daily_survival_z(emax: float, n_cells: int, seed: int = 104) -> float:
    return survivors_z(
        one_state(0.1, 0.1 + emax), DAILY, 7.0, O10_DAILY_SURVIVAL_7, n_cells, seed, reps=50
    )


@pytest.mark.parametrize(("factor", "n"), tiers(ci_n=100_000, deep_n=1_000_000))
def test_o10_daily_bolus_pure_death_survival(factor: float, n: int) -> None:
    assert abs(daily_survival_z(1.0, n)) < Z_CRIT
    assert abs(daily_survival_z(factor, n)) > Z_CRIT


def daily_mean_z(emax: float, n: int, seed: int = 105) -> float:
    doses = [float(k) for k in range(8)]
    _, mean, var = bd_extinction_and_moments(
        lambda s: 0.5, pk_rate(0.1, 1.1, 1, 2, 10, doses, 1.5), 7.0, doses
    )
    assert mean == pytest.approx(O10_DAILY_MEAN_7, rel=1e-5)
    ds = dg.simulate(
        one_state(0.1, 0.1 + emax, birth=0.5),
        DAILY,
        initial={"N": 1000},
        t_end=7.0,
        n_replicates=n,
        seed=seed,
    )
    # 1000 independent founders: mean and variance are 1000 times those of one (exact).
    return z_mean(final(ds), 1000 * mean, 1000 * var)


@pytest.mark.parametrize(("factor", "n"), tiers(ci_n=50, deep_n=200))
def test_o10_daily_bolus_mean_with_birth(factor: float, n: int) -> None:
    assert abs(daily_mean_z(1.0, n)) < Z_CRIT
    assert abs(daily_mean_z(factor, n)) > Z_CRIT


# --- thinning against the integrated hazard ---------------------------------------------------
# (off, on, ec50, hill, dose, dose times, half-life, t_end): a rate that falls with C and a
# non-integer Hill coefficient; and a rising rate with h < 1 and a first dose after t = 0.
THINNING_CASES = {
    "decreasing-h1.5": (1.0, 0.25, 2.0, 1.5, 6.0, [0.0, 1.3, 2.9], 0.8, 4.0),
    "increasing-h0.7": (0.2, 1.5, 3.0, 0.7, 5.0, [0.5, 2.0], 1.2, 3.0),
}


def thinning_z(case: str, factor: float, n_cells: int, seed: int = 106) -> float:
    off, on, ec50, h, dose, doses, half_life, t_end = THINNING_CASES[case]
    exact = math.exp(
        -integrate_rate(pk_rate(off, on, ec50, h, dose, doses, half_life), t_end, doses)
    )
    schedule = {
        "kind": "pk",
        "dose": dose,
        "dose_times": doses,
        "half_life": half_life,
        "hill": h,
        "ec50": ec50,
    }
    model = one_state(off, off + factor * (on - off))
    return survivors_z(model, schedule, t_end, exact, n_cells, seed)


@pytest.mark.parametrize("case", list(THINNING_CASES))
@pytest.mark.parametrize(
    ("factor", "n"),
    [
        pytest.param(1.20, 10_000, id=CI),
        pytest.param(1.05, 60_000, id=DEEP, marks=pytest.mark.deep),
    ],
)
def test_thinning_matches_the_integrated_hazard(case: str, factor: float, n: int) -> None:
    assert abs(thinning_z(case, 1.0, n)) < Z_CRIT
    assert abs(thinning_z(case, factor, n)) > Z_CRIT


def test_per_channel_ec50_override_is_used() -> None:
    # Death has its own ec50 = 10 (the schedule's default ec50 = 1 would kill far more).
    off, on, dose, half_life, t_end = 0.1, 2.0, 10.0, 1.0, 2.0
    schedule = {
        "kind": "pk",
        "dose": dose,
        "dose_times": [0.0],
        "half_life": half_life,
        "hill": 1.0,
        "rates": [{"process": "death", "state": "N", "ec50": 10.0, "hill": 2.5}],
    }
    right = math.exp(-integrate_rate(pk_rate(off, on, 10.0, 2.5, dose, [0.0], half_life), 2, [0]))
    wrong = math.exp(-integrate_rate(pk_rate(off, on, 1.0, 1.0, dose, [0.0], half_life), 2, [0]))
    ds = dg.simulate(
        one_state(off, on), schedule, initial={"N": 500}, t_end=t_end, n_replicates=20, seed=107
    )
    hits = int(final(ds).sum())
    assert abs(z_proportion(hits, 10_000, right)) < Z_CRIT
    assert abs(z_proportion(hits, 10_000, wrong)) > Z_CRIT


def test_missed_doses_mix_the_dose_patterns() -> None:
    # Pure death, one cell per replicate, doses at 0, 1, 2 each missed with probability 0.5: the
    # survival probability is the average of exp(-∫d) over the 8 equally likely dose patterns.
    doses, p_miss, t_end = [0.0, 1.0, 2.0], 0.5, 3.0
    exact = 0.0
    for taken in itertools.product([False, True], repeat=3):
        given = [t for t, g in zip(doses, taken, strict=True) if g]
        rate = pk_rate(0.1, 1.1, 1.0, 2.0, 10.0, given, 1.5)
        exact += 0.125 * math.exp(-integrate_rate(rate, t_end, doses))
    never_missed = math.exp(-integrate_rate(pk_rate(0.1, 1.1, 1, 2, 10, doses, 1.5), 3, doses))
    schedule = o10_schedule(dose_times=doses, missed_dose_probability=p_miss)
    n = 4000
    ds = dg.simulate(
        one_state(0.1, 1.1), schedule, initial={"N": 1}, t_end=t_end, n_replicates=n, seed=108
    )
    hits = int(np.sum(final(ds) == 1))
    assert abs(z_proportion(hits, n, exact)) < Z_CRIT
    assert abs(z_proportion(hits, n, never_missed)) > Z_CRIT


# --- O8 again: through a combination (kind "fixed") and through adaptive timer rules --------------
def o8_model(b_off: float) -> dict:
    return {
        "states": ["N"],
        "exposures": ["off", "on"],
        "division": {"N": {"off": b_off, "on": 0.2}},
        "death": {"N": {"off": 0.2, "on": 1.2}},
    }


O8_P0 = 0.843303
O8_SCHEDULES = {
    # One drug "on" over [2, 5): the combination compiles to one kind="fixed" table.
    "combination": {
        "kind": "combination",
        "drugs": {"on": {"kind": "piecewise", "segments": [[0, "off"], [2, "on"], [5, "off"]]}},
        "none": "off",
    },
    # Timers only: off for 2 days, on for 3, then off (the next switch, at 7, is after t_end).
    "adaptive-timers": {
        "kind": "adaptive",
        "start": "off",
        "reference": "absolute",
        "rules": [
            {"from": "off", "to": "on", "after": 2.0},
            {"from": "on", "to": "off", "after": 3.0},
        ],
    },
}


def o8_z(schedule: dict, b_off: float, n: int, seed: int = 109) -> float:
    ds = dg.simulate(
        o8_model(b_off), schedule, initial={"N": 1}, t_end=6.0, n_replicates=n, seed=seed
    )
    return z_proportion(int(np.sum(final(ds) == 0)), n, O8_P0)


def test_o8_exact_value() -> None:
    p0 = kendall_inhomogeneous_p0([(0, 1.0, 0.2), (2, 0.2, 1.2), (5, 1.0, 0.2)], 6.0)
    assert p0 == pytest.approx(O8_P0, abs=1e-6)


@pytest.mark.parametrize("kind", list(O8_SCHEDULES))
@pytest.mark.parametrize(("factor", "n"), tiers(ci_n=4000, deep_n=20_000))
def test_o8_through_the_new_kinds(kind: str, factor: float, n: int) -> None:
    schedule = O8_SCHEDULES[kind]
    assert abs(o8_z(schedule, 1.0, n)) < Z_CRIT
    assert abs(o8_z(schedule, factor, n)) > Z_CRIT


def test_o8_adaptive_schedule_that_never_switches_is_continuous() -> None:
    # Thresholds the burden of a pure-death process never reaches (resume at 1e9 cells, stop at
    # 0): the adaptive schedule stays "off"; P(N(2) = 0) from one cell with d = 0.5, b = 0 is
    # 1 - exp(-1), and the wrong (d x 1.2) model is rejected.
    schedule = {
        "kind": "adaptive",
        "start": "off",
        "reference": "absolute",
        "stop_below": 0.0,
        "resume_above": 1e9,
    }

    def z(d: float) -> float:
        ds = dg.simulate(
            one_state(d, 5.0), schedule, initial={"N": 1}, t_end=2.0, n_replicates=3000, seed=110
        )
        assert np.all(ds["exposure"].to_numpy() == 0)
        assert np.all(ds["n_switches"].to_numpy() == 0)
        return z_proportion(int(np.sum(final(ds) == 0)), 3000, 1 - math.exp(-1.0))

    assert abs(z(0.5)) < Z_CRIT
    assert abs(z(0.6)) > Z_CRIT


# --- Exposure by the drug's effect, and the areas under C and the response -----------------------
# The example: three doses with t1/2 = 0.25 d over 30 days. With "on" whenever C > 0 it
# reported 30 days on drug and one switch. These outcomes are deterministic (they do not depend on
# the cells), so they are checked against independent references (root finding, quadrature) to
# 1e-8; a reference with the half-life 20% off is rejected by the same check.
THREE_DOSES = {"kind": "pk", "dose": 10.0, "dose_times": [0.0, 1.0, 2.0], "half_life": 0.25}
EXACT_TOL = 1e-8


def reference_pk_outcomes(
    schedule: dict, t_stop: float, half_life: float | None = None
) -> dict[str, float]:
    """time on drug, switches and areas under C and H up to t_stop, by root finding and quadrature
    on C(s) = sum of decaying doses, the drug on while H(C) >= on_threshold."""
    hl = schedule["half_life"] if half_life is None else half_life
    dose, doses = schedule["dose"], [t for t in schedule["dose_times"] if t <= t_stop]
    ec50, h = schedule.get("ec50", 1.0), schedule.get("hill", 1.0)
    theta = schedule.get("on_threshold", 0.05)

    def conc(s: float, given: list[float] = doses) -> float:
        return bolus_concentration(s, dose, given, hl)

    on_time, switches, was_on = 0.0, 0, False
    ends = [*doses[1:], t_stop] if doses else []
    for n, (start, end) in enumerate(zip(doses, ends, strict=True)):
        # C only falls until the next dose: the drug is on from `start` until H(C) = theta.
        def above(s: float, given: list[float] = doses[: n + 1]) -> float:
            return hill(conc(s, given), ec50, h) - theta

        on = above(start) >= 0
        switches += on != was_on
        if on:
            off = end if above(end) >= 0 else optimize.brentq(above, start, end, xtol=1e-14)
            on_time += off - start
            switches += off < end
            was_on = off == end
        else:
            was_on = False
    return {
        "time_on_drug": on_time,
        "n_switches": float(switches),
        "auc_concentration": integrate_rate(conc, t_stop, doses),
        "auc_response": integrate_rate(lambda s: hill(conc(s), ec50, h), t_stop, doses),
    }


def pk_outcomes(ds) -> dict[str, np.ndarray]:
    return {k: ds[k].to_numpy() for k in ("time_on_drug", "n_switches", *PK_AREAS)}


PK_AREAS = ("auc_concentration", "auc_response")
PK_SCHEDULES = [
    pytest.param(THREE_DOSES, id="issue-example"),
    pytest.param({**THREE_DOSES, "hill": 2.5, "ec50": 3.0, "on_threshold": 0.3}, id="hill"),
    pytest.param({**THREE_DOSES, "half_life": 1.5, "dose": 2.0, "on_threshold": 0.5}, id="overlap"),
]
# A growing cell line without and with a capacity: the linear thinning loop and the density-
# dependent one (no replicate goes extinct, so every outcome runs to t_end).
PK_MODELS = {
    "linear": one_state(0.1, 0.4, birth=0.5),
    "capacity": {**one_state(0.1, 0.4, birth=0.5), "capacity": {"K": 200.0, "on": "division"}},
}


@pytest.mark.parametrize("model", PK_MODELS)
@pytest.mark.parametrize("schedule", PK_SCHEDULES)
def test_pk_exposure_and_areas_follow_the_closed_form(model: str, schedule: dict) -> None:
    ds = dg.simulate(
        PK_MODELS[model], schedule, initial={"N": 50}, t_end=30.0, n_replicates=4, seed=5
    )
    assert (ds["stop_time"] == 30.0).all()
    assert (ds["n_events"] > 0).all()
    ref = reference_pk_outcomes(schedule, 30.0)
    for name, got in pk_outcomes(ds).items():
        np.testing.assert_allclose(got, ref[name], rtol=EXACT_TOL, atol=EXACT_TOL, err_msg=name)
    # The recorded exposure (right-continuous at doses) is "on" exactly while the drug is.
    theta = schedule.get("on_threshold", 0.05)
    ec50, h = schedule.get("ec50", 1.0), schedule.get("hill", 1.0)
    doses, dose, half_life = schedule["dose_times"], schedule["dose"], schedule["half_life"]
    expected = [
        hill(bolus_concentration(s, dose, doses, half_life), ec50, h) >= theta
        for s in ds["time"].to_numpy()
    ]
    assert (ds["exposure"].to_numpy() == expected).all()
    assert (ds["treatment_start_time"] == 0.0).all()


def test_pk_closed_form_check_rejects_a_half_life_off_by_20_percent() -> None:
    ds = dg.simulate(
        PK_MODELS["linear"], THREE_DOSES, initial={"N": 50}, t_end=30.0, n_replicates=2, seed=5
    )
    wrong = reference_pk_outcomes(THREE_DOSES, 30.0, half_life=0.25 * 1.2)
    for name in ("time_on_drug", *PK_AREAS):
        got = ds[name].to_numpy()
        assert not np.allclose(got, wrong[name], rtol=EXACT_TOL, atol=EXACT_TOL), name


def test_the_old_definition_of_on_drug_is_gone() -> None:
    # C > 0 for ever after the first dose (C = 2e-33 at day 30) no longer counts as on drug.
    ds = dg.simulate(
        PK_MODELS["linear"], THREE_DOSES, initial={"N": 50}, t_end=30.0, n_replicates=1, seed=5
    )
    last = ds.isel(replicate=0, time=-1)
    assert float(last["concentration"]) > 0
    assert float(last["time_on_drug"]) < 4.0
    assert int(last["exposure"]) == 0


def test_missed_doses_leave_the_exposure_and_areas_of_the_doses_taken() -> None:
    # Each dose is missed with probability 1/2; a record at each dose time (right-continuous)
    # shows whether it was taken (C >= dose), and the outcomes are those of the doses taken.
    doses = [0.0, 1.0, 2.0, 3.0, 4.0]
    schedule = {**THREE_DOSES, "dose_times": doses, "missed_dose_probability": 0.5}
    ds = dg.simulate(
        PK_MODELS["linear"],
        schedule,
        initial={"N": 50},
        t_end=10.0,
        times=doses,
        n_replicates=30,
        seed=7,
    )
    patterns = set()
    for r in range(30):
        rep = ds.isel(replicate=r)
        taken = [t for t, c in zip(doses, rep["concentration"].to_numpy(), strict=True) if c >= 10]
        patterns.add(tuple(taken))
        ref = reference_pk_outcomes({**schedule, "dose_times": taken}, 10.0)
        for name, got in pk_outcomes(rep).items():
            assert math.isclose(float(got), ref[name], rel_tol=EXACT_TOL, abs_tol=EXACT_TOL), name
    assert len(patterns) > 5  # many dose patterns, including gaps that switch the drug off


def test_a_dose_below_the_threshold_is_never_on_but_has_an_area() -> None:
    # on_threshold 0.5 puts the on concentration at EC50 = 1: a dose of 0.8 never reaches it.
    schedule = {**THREE_DOSES, "dose": 0.8, "on_threshold": 0.5}
    ds = dg.simulate(
        PK_MODELS["linear"], schedule, initial={"N": 50}, t_end=5.0, n_replicates=2, seed=5
    )
    assert (ds["time_on_drug"] == 0).all()
    assert (ds["n_switches"] == 0).all()
    assert ds["treatment_start_time"].isnull().all()
    assert (ds["exposure"] == 0).all()
    ref = reference_pk_outcomes(schedule, 5.0)
    for name in PK_AREAS:
        np.testing.assert_allclose(ds[name].to_numpy(), ref[name], rtol=EXACT_TOL)


def test_pk_areas_stop_at_the_extinction_time() -> None:
    # Pure death under the drug: each replicate's areas run to its own stop_time.
    ds = dg.simulate(
        one_state(0.5, 3.0), THREE_DOSES, initial={"N": 5}, t_end=30.0, n_replicates=20, seed=6
    )
    stops = ds["stop_time"].to_numpy()
    assert (ds["status"] == 1).all()
    assert len(set(stops)) > 1
    for r, t_stop in enumerate(stops):
        ref = reference_pk_outcomes(THREE_DOSES, float(t_stop))
        for name in ("time_on_drug", *PK_AREAS):
            got = float(ds[name].isel(replicate=r))
            assert math.isclose(got, ref[name], rel_tol=EXACT_TOL, abs_tol=EXACT_TOL), name


def test_pk_areas_are_pk_only_and_kept_in_summary_mode() -> None:
    kw = {"initial": {"N": 50}, "t_end": 5.0, "n_replicates": 2, "seed": 5}
    fixed = dg.simulate(PK_MODELS["linear"], "on", **kw)
    assert not set(PK_AREAS) & set(fixed.data_vars)
    summary = dg.simulate(PK_MODELS["linear"], THREE_DOSES, summary_only=True, **kw)
    full = dg.simulate(PK_MODELS["linear"], THREE_DOSES, **kw)
    for name in PK_AREAS:
        assert summary[name].dims == ("replicate",)
        np.testing.assert_array_equal(summary[name].to_numpy(), full[name].to_numpy())
        assert full[name].attrs["units"] == "day"


@pytest.mark.parametrize("theta", [0, 1, 1.5, -0.1, "x", math.nan])
def test_on_threshold_must_be_a_fraction(theta: object) -> None:
    with pytest.raises(dg.errors.InvalidScheduleError, match="on_threshold"):
        dg.Schedule.from_dict({**THREE_DOSES, "on_threshold": theta})
