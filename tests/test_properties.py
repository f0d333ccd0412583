"""Property-based tests of the pathwise invariants (oracles §14) and the reproducibility contract
(README, "Reproducibility") on random small models, schedules and runs.

Every example runs with a seed drawn by hypothesis (or a fixed one), so failures are reproducible.
"""

import json
import math
import warnings

import dtp_gillespie as dg
import numpy as np
import pytest
import xarray as xr
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from oracles import Z_CRIT, tiers
from strategies import (
    STATUS_CAPPED,
    Case,
    cases,
    model_specs,
    model_states,
    run,
    seeds,
    without_created_at,
)

COMPLETED, EXTINCT = 0, 1
PER_REPLICATE = ("extinction_time", "first_mutant_time", "stop_time", "n_events", "status")


def known(ds: xr.Dataset) -> np.ndarray:
    """(replicate, time) mask of record times whose counts are known (not after a cap)."""
    return (ds["count"].values >= 0).all(axis=-1)


# --- counts ---------------------------------------------------------------------------------------
@given(cases())
def test_counts_are_never_negative_except_unknown_after_a_cap(case: Case) -> None:
    ds = run(case)
    count = ds["count"].values
    times = ds["time"].values
    status = ds["status"].values
    stop = ds["stop_time"].values
    assert np.all(count >= -1)
    for r in range(count.shape[0]):
        unknown = count[r] == -1
        rows = unknown.any(axis=1)
        # -1 fills whole rows, only for capped replicates, and only strictly after stop_time.
        assert np.array_equal(unknown, np.repeat(rows[:, None], count.shape[2], axis=1))
        if status[r] in STATUS_CAPPED:
            assert np.array_equal(rows, times > stop[r])
        else:
            assert not rows.any()


@given(cases(), st.data())
def test_a_state_without_inflow_and_without_cells_stays_empty(
    case: Case, data: st.DataObject
) -> None:
    states = model_states(case.model)
    target = data.draw(st.sampled_from(states), label="target")
    model = json.loads(json.dumps(case.model))
    # Zero every switch and mutation into the target (sometimes remove it, sometimes set it to 0).
    for process, key in (("switch", "rate"), ("mutation", "probability")):
        entries = []
        for entry in model.get(process, []):
            if entry["to"] == target:
                if data.draw(st.booleans(), label=f"drop {process} into target"):
                    continue
                entry = {**entry, key: 0.0}
            entries.append(entry)
        model[process] = entries
    initial = {**case.initial, target: 0}
    ds = run(case.with_(model=model, initial=initial))
    counts = ds["count"].sel(cell_state=target).values
    assert np.all(counts[known(ds)] == 0)


def test_counts_near_the_int64_limit_never_wrap_negative() -> None:
    # 2**63 - 2 cells that divide: after two divisions the count no longer fits an int64. The run
    # must stop at a cap (status says so) rather than record negative counts and "completed".
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ds = dg.simulate(
            {"states": ["S"], "division": {"S": 1.0}},
            "on",
            initial={"S": 2**63 - 2},
            t_end=1.0,
            seed=1,
            max_events=3,
        )
    assert np.all(ds["count"].values >= -1), ds["count"].values
    assert ds["status"].values[0] in STATUS_CAPPED


@given(cases(models=model_specs(growth=False, mutations=False, capacity=False)))
def test_switch_only_models_conserve_the_total(case: Case) -> None:
    ds = run(case)
    total = ds["count"].sum("cell_state").values
    n0 = sum(case.initial.values())
    # Counts after a cap are unknown (-1); every known total is the initial one.
    assert np.all(total[known(ds)] == n0)
    if n0 < case.max_population:  # nothing but max_events can stop a run that cannot grow
        assert not np.any(ds["status"].values == 3)
    # A switch into a genetic state is a mutation per unit time; without one there is no mutant.
    genetic = {s["name"] for s in case.model["states"] if isinstance(s, dict)}
    if not any(e["to"] in genetic for e in case.model.get("switch", [])):
        assert np.all(np.isnan(ds["first_mutant_time"].values))


# --- reproducibility (README, "Reproducibility") ------------------------------------------------
@given(cases())
def test_same_seed_same_result_whatever_the_number_of_threads(case: Case) -> None:
    one = run(case, n_threads=1)
    two = run(case, n_threads=2)
    xr.testing.assert_identical(without_created_at(one), without_created_at(two))


@given(cases(), st.integers(2, 8), st.data())
def test_same_seed_same_result_whatever_the_split_into_batches(
    case: Case, n_replicates: int, data: st.DataObject
) -> None:
    case = case.with_(n_replicates=n_replicates)
    k = data.draw(st.integers(1, case.n_replicates - 1), label="first batch size")
    whole = run(case)
    first = run(case.with_(n_replicates=k))
    second = run(case.with_(n_replicates=case.n_replicates - k), replicate_offset=k)
    assert list(second["replicate"].values) == list(range(k, case.n_replicates))
    joined = xr.concat([first, second], dim="replicate", data_vars="minimal", coords="minimal")
    xr.testing.assert_equal(joined, whole)
    for name in whole.variables:
        assert joined[name].attrs.keys() == whole[name].attrs.keys()
        assert joined[name].dtype == whole[name].dtype
    for key in ("model", "schedule", "seed", "rng", "dtp_gillespie_version", "schema_version"):
        assert first.attrs[key] == second.attrs[key] == whole.attrs[key]
    run_whole, run_second = json.loads(whole.attrs["run"]), json.loads(second.attrs["run"])
    assert run_second["replicate_offset"] == k
    assert run_second["n_replicates"] == case.n_replicates - k
    drop = ("replicate_offset", "n_replicates")
    assert {k_: v for k_, v in run_whole.items() if k_ not in drop} == {
        k_: v for k_, v in run_second.items() if k_ not in drop
    }


@given(cases(), st.data())
def test_a_coarser_record_grid_does_not_change_the_trajectory(
    case: Case, data: st.DataObject
) -> None:
    fine = run(case)
    times = fine["time"].values
    keep = data.draw(
        st.lists(st.integers(0, times.size - 1), min_size=1, unique=True), label="kept times"
    )
    coarse_times = times[np.sort(keep)]
    coarse = run(case.with_(grid={"times": list(coarse_times)}))
    np.testing.assert_array_equal(coarse["time"].values, coarse_times)
    xr.testing.assert_identical(coarse["count"], fine["count"].sel(time=coarse_times))
    xr.testing.assert_identical(coarse["exposure"], fine["exposure"].sel(time=coarse_times))
    for name in PER_REPLICATE:
        xr.testing.assert_identical(coarse[name], fine[name])


def _scaled_rate(value: object, c: float) -> object:
    if isinstance(value, dict):
        return {e: c * v for e, v in value.items()}
    return c * value  # type: ignore[operator]


def _rescaled(case: Case, c: float) -> Case:
    """Multiply every rate by ``c`` and divide every time by ``c``."""
    model = json.loads(json.dumps(case.model))
    for process in ("division", "death"):
        model[process] = {s: _scaled_rate(v, c) for s, v in model.get(process, {}).items()}
    model["switch"] = [{**e, "rate": _scaled_rate(e["rate"], c)} for e in model.get("switch", [])]
    schedule = dict(case.schedule)
    if schedule["kind"] == "intermittent":
        for key in ("on", "off", "delay"):
            schedule[key] = schedule[key] / c
    elif schedule["kind"] == "piecewise":
        schedule["segments"] = [[t / c, e] for t, e in schedule["segments"]]
    if "times" in case.grid:
        grid = {"times": [t / c for t in case.grid["times"]]}
    else:
        grid = {"record_every": case.grid["record_every"] / c}
    return case.with_(model=model, schedule=schedule, t_end=case.t_end / c, grid=grid)


@given(cases())
def test_time_rescaling_gives_the_same_jump_chain(case: Case) -> None:
    c = 2.0
    base = run(case)
    fast = run(_rescaled(case, c))
    np.testing.assert_array_equal(fast["time"].values, base["time"].values / c)
    np.testing.assert_array_equal(fast["count"].values, base["count"].values)
    np.testing.assert_array_equal(fast["exposure"].values, base["exposure"].values)
    np.testing.assert_array_equal(fast["n_events"].values, base["n_events"].values)
    np.testing.assert_array_equal(fast["status"].values, base["status"].values)
    for name in ("extinction_time", "first_mutant_time", "stop_time"):
        np.testing.assert_array_equal(fast[name].values, base[name].values / c)


# --- reversibility (oracles §14.14) ---------------------------------------------------------------
REVERSIBILITY_SEED = 20_251_126
switch_rates = st.floats(min_value=0.2, max_value=2.0)


@settings(max_examples=min(settings.default.max_examples, 20))
@given(
    k_sp_on=switch_rates,
    k_ps_on=switch_rates,
    k_sp_off=switch_rates,
    k_ps_off=switch_rates,
    t_on=st.floats(min_value=0.1, max_value=5.0),
    s0=st.integers(0, 100),
    p0=st.integers(0, 100),
)
def test_persister_fraction_returns_to_the_off_equilibrium_after_withdrawal(
    k_sp_on: float,
    k_ps_on: float,
    k_sp_off: float,
    k_ps_off: float,
    t_on: float,
    s0: int,
    p0: int,
) -> None:
    assume(s0 + p0 >= 20)
    rates = {"sp_on": k_sp_on, "ps_on": k_ps_on, "sp_off": k_sp_off, "ps_off": k_ps_off}
    assert abs(reversibility_z(rates, t_on, s0, p0, 100, k_ps_off)) < Z_CRIT


def reversibility_z(
    rates: dict[str, float], t_on: float, s0: int, p0: int, n_rep: int, k_ps_off_true: float
) -> float:
    """z of the pooled P fraction long after withdrawal against the off equilibrium of a model
    whose off P -> S rate is ``k_ps_off_true`` (the simulated one is ``rates["ps_off"]``)."""
    model = {
        "states": ["S", "P"],
        "exposures": ["off", "on"],
        "switch": [
            {"from": "S", "to": "P", "rate": {"off": rates["sp_off"], "on": rates["sp_on"]}},
            {"from": "P", "to": "S", "rate": {"off": rates["ps_off"], "on": rates["ps_on"]}},
        ],
    }
    kappa = rates["sp_off"] + rates["ps_off"]
    # Long after withdrawal: the memory of the ON phase has decayed by exp(-12) < 1e-5.
    t_late = t_on + 12.0 / kappa
    ds = dg.simulate(
        model,
        {"kind": "piecewise", "segments": [[0.0, "on"], [t_on, "off"]]},
        initial={"S": s0, "P": p0},
        t_end=t_late,
        times=[t_late],
        n_replicates=n_rep,
        seed=REVERSIBILITY_SEED,
    )
    assert np.all(ds["count"].sum("cell_state").values == s0 + p0)
    # Without growth every cell switches independently: the P count over all replicates is
    # Binomial(n_cells, pi_off).
    n_cells = (s0 + p0) * n_rep
    in_p = int(ds["count"].sel(cell_state="P").sum())
    pi = rates["sp_off"] / (rates["sp_off"] + k_ps_off_true)
    return (in_p / n_cells - pi) / math.sqrt(pi * (1 - pi) / n_cells)


# The rejection twin: the off P -> S rate 20% high (5% deep) with pi_off = 1/2 moves the
# equilibrium to 0.455 (0.488): with 100 cells x 100 replicates the expected z is 9.1, and with
# 100 x 1000 it is 7.7 at 5%: power > 0.99999 for each.
@pytest.mark.parametrize(("factor", "n"), tiers(ci_n=100, deep_n=1000))
def test_reversibility_check_rejects_a_wrong_switch_rate(factor: float, n: int) -> None:
    rates = {"sp_on": 1.0, "ps_on": 0.2, "sp_off": 0.5, "ps_off": 0.5}
    assert abs(reversibility_z(rates, 2.0, 100, 0, n, 0.5)) < Z_CRIT
    wrong = dict(rates, ps_off=0.5 * factor)
    assert abs(reversibility_z(wrong, 2.0, 100, 0, n, 0.5)) > Z_CRIT


# --- exposure and status --------------------------------------------------------------------------
@given(cases())
def test_exposure_is_the_schedule_at_each_record_time(case: Case) -> None:
    ds = run(case)
    exposures = case.model["exposures"]
    expected = dg.Schedule.from_dict(case.schedule).exposure_at(ds["time"].values)
    codes = ds["exposure"].values
    assert codes.min() >= 0
    assert codes.max() < len(exposures)
    names = np.asarray(exposures)[codes]
    for r in range(codes.shape[0]):
        mismatch = np.nonzero(names[r] != expected)[0]
        assert mismatch.size == 0, (
            f"replicate {r}: at t = {ds['time'].values[mismatch].tolist()} the Dataset says "
            f"{names[r][mismatch].tolist()}, "
            f"Schedule.exposure_at says {expected[mismatch].tolist()}"
        )


def reference_exposure(schedule: dict, t: float, tol: float = 1e-9) -> str | None:
    """Exposure in force at ``t`` computed independently from the spec (README, "The model and
    its spec"), or None within ``tol`` of a breakpoint, where floating-point rounding decides."""
    near = lambda a, b: abs(a - b) <= tol * (1.0 + abs(b))  # noqa: E731
    if schedule["kind"] == "continuous":
        return schedule["exposure"]
    if schedule["kind"] == "piecewise":
        current = None
        for start, exposure in schedule["segments"]:
            if near(t, start) and start > 0:
                return None
            if start <= t:
                current = exposure
        return current
    on, off, delay = schedule["on"], schedule["off"], schedule["delay"]
    first_is_on = schedule["first"] == "on"
    first_duration = on if first_is_on else off
    phases = (schedule["on_exposure"], schedule["off_exposure"])
    if not first_is_on:
        phases = phases[::-1]
    if delay > 0 and near(t, delay):
        return None
    if t < delay:
        return schedule["off_exposure"]
    period = on + off
    u = t - delay
    k = math.floor(u / period)
    r = u - k * period
    if (u > 0 and (near(r, 0.0) or near(r, period))) or near(r, first_duration):
        return None
    return phases[0] if r < first_duration else phases[1]


@given(cases())
def test_exposure_matches_an_independent_reference_away_from_breakpoints(case: Case) -> None:
    ds = run(case)
    names = np.asarray(case.model["exposures"])[ds["exposure"].values]
    for i, t in enumerate(ds["time"].values):
        expected = reference_exposure(case.schedule, float(t))
        if expected is not None:
            assert set(names[:, i]) == {expected}, (float(t), names[:, i], expected)


@given(cases())
def test_status_agrees_with_extinction_and_stop_times(case: Case) -> None:
    ds = run(case)
    status = ds["status"].values
    ext = ds["extinction_time"].values
    stop = ds["stop_time"].values
    first_mutant = ds["first_mutant_time"].values
    times = ds["time"].values
    count = ds["count"].values
    assert set(np.unique(status)) <= {0, 1, 2, 3}
    np.testing.assert_array_equal(np.isnan(ext), status != EXTINCT)
    np.testing.assert_array_equal(stop == case.t_end, status == COMPLETED)
    assert np.all((stop >= 0) & (stop <= case.t_end))
    assert np.all(np.isnan(first_mutant) | (first_mutant <= stop))
    assert np.all(ds["n_events"].values >= 0)
    for r in np.nonzero(status == EXTINCT)[0]:
        assert ext[r] == stop[r]
        assert np.all(count[r, times >= ext[r]] == 0)
        assert np.all(count[r, times < ext[r]].sum(axis=-1) > 0)
    if sum(case.initial.values()) == 0:
        assert np.all(status == EXTINCT)
        assert np.all(ext == 0.0)
        assert np.all(ds["n_events"].values == 0)


@given(cases(max_replicates=3), seeds)
def test_different_seeds_keep_the_contract_and_reproduce(case: Case, seed: int) -> None:
    ds = run(case.with_(seed=seed))
    assert ds.attrs["seed"] == seed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # run() already checked the cap warning
        again = dg.reproduce(ds)
    xr.testing.assert_identical(without_created_at(again), without_created_at(ds))


# --- density dependence on death (README, "The model and its spec") ------------------------------
def test_logistic_death_with_zero_basal_death_rate_runs() -> None:
    # d + (b - d)·N/K with d = 0 is the textbook logistic death rate b·N/K: the model is valid
    # (Model accepts it) and must simulate, with the total fluctuating around K (not below it).
    k, n_replicates = 50.0, 5
    model = dg.Model.from_dict(
        {"states": ["S"], "division": {"S": 1.0}, "capacity": {"K": k, "on": "death"}}
    )
    ds = dg.simulate(model, "on", initial={"S": 10}, t_end=20.0, n_replicates=n_replicates, seed=1)
    assert np.all(ds["status"].values == COMPLETED)
    # Births n, deaths n^2/K: detailed balance gives pi_n ∝ K^n / (n · n!) (mean about K, SD
    # about sqrt(K)); the process relaxes at rate ~1/day, so by day 20 it is there (extinction
    # from near K takes ~e^K days). Every final count lies below the bound that all of them
    # exceed with probability 0.001 (per replicate 0.001 / 5): no fixed guess like 200.
    n = np.arange(1, 400)
    log_pi = n * math.log(k) - np.log(n) - np.array([math.lgamma(x + 1.0) for x in n])
    pi = np.exp(log_pi - log_pi.max())
    pi /= pi.sum()
    tail = np.cumsum(pi[::-1])[::-1]  # P(N >= n)
    bound = int(n[np.argmax(tail <= 0.001 / n_replicates)])
    assert bound < 2 * k  # the crowding holds the population near K
    assert np.all(ds["count"].values[:, -1, 0] < bound)
