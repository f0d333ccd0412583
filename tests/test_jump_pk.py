"""``method="jump"`` under pharmacokinetic dosing, through ``dg.simulate``: exact in law.

Oracle O10 (a decaying drug with a Hill response, ``tests/oracles.py``) with every pool jumped:
the extinction chance of one cell after one bolus and the mean under daily boluses, against
scipy's quadrature of Kendall's time-inhomogeneous formulas (independent of the engine), each
with a rejection twin (E_max 20% off in the CI tier, 5% in the deep tier ``DTP_DEEP=1``) whose
power is checked from its exact value. Two-sample KS tests against exact SSA on a schedule with
small pools, mutation and extinction (with a twin rejected with a margin for power); the drug's
record equal to SSA's; bit-identity across threads and blocks; the attributes; ``method="auto"``
(which keeps SSA under pk dosing and says why) and the refusals.
"""

import math
from pathlib import Path
from typing import Any

import dtp_gillespie as dg
import numpy as np
import pytest
from dtp_gillespie._auto import PK_REASON
from models import README_SPR
from oracles import (
    O10_DAILY_MEAN_7,
    O10_P0_3,
    Z_CRIT,
    bd_extinction_and_moments,
    pk_rate,
    tiers,
    z_mean,
    z_proportion,
)

# One-sided quantile for 99.9% power.
Z_POWER = 3.09
# c(α) of the two-sample Kolmogorov–Smirnov test at α = 0.001.
KS_CRIT = math.sqrt(-math.log(0.001 / 2) / 2)
# Every pool jumped; a table tail of 1e-12 per ancestor and step keeps the time-dependent tables
# small (a draw into the tail would fail loudly, never inexactly).
JUMPED: dict[str, Any] = {"method": "jump", "jump_threshold": 0.0, "jump_tolerance": 1e-12}


def one_state(e_max: float, birth: float) -> dict[str, Any]:
    """O10's model: death 0.1 off drug and 0.1 + E_max at full response."""
    return {
        "states": ["N"],
        "exposures": ["off", "on"],
        "division": {"N": birth},
        "death": {"N": {"off": 0.1, "on": 0.1 + e_max}},
    }


def o10_schedule(dose_times: list[float]) -> dg.Schedule:
    return dg.Schedule.pk(dose=10.0, dose_times=dose_times, half_life=1.5, hill=2.0)


def o10_oracle(e_max: float, dose_times: list[float], t: float) -> tuple[float, float, float]:
    """P(N(t) = 0), E[N(t)] and Var[N(t)] from one cell, birth 0.5 (scipy quadrature)."""
    death = pk_rate(0.1, 0.1 + e_max, 1.0, 2.0, 10.0, dose_times, 1.5)
    result: tuple[float, float, float] = bd_extinction_and_moments(
        lambda s: 0.5, death, t, dose_times
    )
    return result


@pytest.mark.parametrize(("factor", "n"), tiers(ci_n=6_000, deep_n=40_000))
def test_o10_extinction_from_one_cell_with_every_pool_jumped(factor: float, n: int) -> None:
    def extinct(e_max: float, seed: int) -> int:
        ds = dg.simulate(
            one_state(e_max, 0.5),
            o10_schedule([0.0]),
            initial={"N": 1},
            t_end=3.0,
            record_every=1.0,
            n_replicates=n,
            seed=seed,
            jump_step=0.4,
            **JUMPED,
        )
        return int((ds["count"].isel(time=-1).to_numpy() == 0).sum())

    assert o10_oracle(1.0, [0.0], 3.0)[0] == pytest.approx(O10_P0_3, abs=1e-6)
    assert abs(z_proportion(extinct(1.0, 201), n, O10_P0_3)) < Z_CRIT
    twin_p0 = o10_oracle(factor, [0.0], 3.0)[0]
    spread = math.sqrt(O10_P0_3 * (1 - O10_P0_3) / n)
    twin_spread = math.sqrt(twin_p0 * (1 - twin_p0) / n)
    assert abs(twin_p0 - O10_P0_3) >= Z_CRIT * spread + Z_POWER * twin_spread, "not powered"
    assert abs(z_proportion(extinct(factor, 202), n, O10_P0_3)) > Z_CRIT


@pytest.mark.parametrize(("factor", "n"), tiers(ci_n=1_000, deep_n=12_000))
def test_o10_daily_bolus_mean_with_every_pool_jumped(factor: float, n: int) -> None:
    n0, doses = 1_000, [float(d) for d in range(7)]

    def finals(e_max: float, seed: int) -> np.ndarray:
        ds = dg.simulate(
            one_state(e_max, 0.5),
            o10_schedule(doses),
            initial={"N": n0},
            t_end=7.0,
            n_replicates=n,
            seed=seed,
            **JUMPED,
        )
        return np.asarray(ds["count"].isel(time=-1).to_numpy(), dtype=float).ravel()

    _, mean, var = o10_oracle(1.0, doses, 7.0)
    assert mean == pytest.approx(O10_DAILY_MEAN_7, rel=1e-5)
    assert abs(z_mean(finals(1.0, 203), n0 * mean, n0 * var)) < Z_CRIT
    _, twin_mean, twin_var = o10_oracle(factor, doses, 7.0)
    power = Z_CRIT * math.sqrt(n0 * var / n) + Z_POWER * math.sqrt(n0 * twin_var / n)
    assert n0 * abs(twin_mean - mean) >= power, "not powered"
    assert abs(z_mean(finals(factor, 204), n0 * mean, n0 * var)) > Z_CRIT


def spr_model(s_death_on: float, mu: float = 0.01, s_birth_off: float = 0.7) -> dict[str, Any]:
    """S, P and a resistant R reached by mutant S divisions; the drug kills S and sends it to P."""
    return {
        "states": ["S", "P", {"name": "R", "genetic": True}],
        "exposures": ["off", "on"],
        "division": {"S": {"off": s_birth_off, "on": 0.7}, "P": 0.1, "R": 0.4},
        "death": {"S": {"off": 0.1, "on": s_death_on}, "P": 0.05, "R": 0.1},
        "switch": [
            {"from": "S", "to": "P", "rate": {"off": 0.02, "on": 0.2}},
            {"from": "P", "to": "S", "rate": {"off": 0.2, "on": 0.02}},
        ],
        "mutation": [{"from": "S", "to": "R", "probability": mu}],
    }


# Boluses every 2.5 days, t½ 0.5: the drug counts as on for 1.5 days after each dose.
SPR_SCHEDULE = dg.Schedule.pk(
    dose=8.0, dose_times=[0.0, 2.5, 5.0, 7.5], half_life=0.5, hill=2.0, on_threshold=0.5
)
SPR_RUN: dict[str, Any] = {"initial": {"S": 60, "P": 10}, "t_end": 9.0, "record_every": 3.0}


def ks_distance(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Two-sample KS distance and its critical value at α = 0.001."""
    grid = np.union1d(a, b)
    cdf = lambda x: np.searchsorted(np.sort(x), grid, side="right") / x.size  # noqa: E731
    d = float(np.max(np.abs(cdf(a) - cdf(b))))
    return d, KS_CRIT * math.sqrt((a.size + b.size) / (a.size * b.size))


def samples(ds: Any) -> dict[str, np.ndarray]:
    last = ds["count"].isel(time=-1)
    out = {s: last.sel(cell_state=s).to_numpy().astype(float) for s in ("S", "P", "R")}
    out["N"] = last.sum("cell_state").to_numpy().astype(float)
    out["first_mutant_time"] = np.nan_to_num(ds["first_mutant_time"].to_numpy(), nan=np.inf)
    out["extinction_time"] = np.nan_to_num(ds["extinction_time"].to_numpy(), nan=np.inf)
    return out


@pytest.mark.parametrize(("factor", "n"), tiers(ci_n=2_000, deep_n=32_000))
def test_pk_jumps_agree_with_exact_ssa_in_law(factor: float, n: int) -> None:
    # Small pools, emitting lineages (about half the replicates mutate), extinction (a few
    # replicates), every pool jumped and mixed regimes.
    run = {**SPR_RUN, "n_replicates": n}
    ssa = samples(dg.simulate(spr_model(1.6), SPR_SCHEDULE, seed=31, **run))
    assert 0.25 < np.isfinite(ssa["first_mutant_time"]).mean() < 0.75
    for options in (
        {"jump_step": 0.5, **JUMPED},
        {**JUMPED, "jump_threshold": 30.0, "jump_step": 1.0},
    ):
        jump = samples(dg.simulate(spr_model(1.6), SPR_SCHEDULE, seed=32, **run, **options))
        for name, values in jump.items():
            d, critical = ks_distance(values, ssa[name])
            assert d < critical, (options, name, d, critical)
    # The twin: S dies faster on drug. Rejected with the margin of the Dvoretzky–Kiefer–Wolfowitz
    # deviation of both samples, so a fresh twin sample is rejected with probability ≥ 99.9%.
    twin = samples(dg.simulate(spr_model(1.6 * factor), SPR_SCHEDULE, seed=33, **run, **JUMPED))
    d, critical = ks_distance(twin["N"], ssa["N"])
    assert d >= critical + KS_CRIT * math.sqrt(2 / n), (d, critical)


@pytest.mark.parametrize(("factor", "n"), tiers(ci_n=3_000, deep_n=48_000))
def test_extinction_times_inside_jumped_pk_steps_are_exact_ssas(factor: float, n: int) -> None:
    run: dict[str, Any] = {"initial": {"S": 12}, "t_end": 10.0, "n_replicates": n}

    def times(s_death_on: float, seed: int, **options: Any) -> np.ndarray:
        model = spr_model(s_death_on, mu=0.0, s_birth_off=0.3)
        return samples(dg.simulate(model, SPR_SCHEDULE, seed=seed, **run, **options))[
            "extinction_time"
        ]

    ssa = times(2.5, 34)
    assert np.isfinite(ssa).mean() > 0.5
    # Half-day steps: the grid is every multiple of 0.5 days.
    got = times(2.5, 35, jump_step=0.5, **JUMPED)
    d, critical = ks_distance(got, ssa)
    assert d < critical, (d, critical)
    at_end = np.where(np.isfinite(got), np.ceil(got * 2) / 2, got)
    d, critical = ks_distance(at_end, ssa)
    assert d >= critical, "the step's end instead of the drawn time is not told apart"
    # The twin: S dies faster on drug; rejected with the DKW margin for power.
    twin = times(2.5 * factor, 36, jump_step=0.5, **JUMPED)
    d, critical = ks_distance(twin, ssa)
    assert d >= critical + KS_CRIT * math.sqrt(2 / n), (d, critical)


def test_the_drug_record_attrs_and_bit_identity(tmp_path: Path) -> None:
    # Large enough that no replicate dies out: the same doses, switches and areas throughout.
    run = {**SPR_RUN, "initial": {"S": 500, "P": 50}, "n_replicates": 6, "seed": 7}
    run["record_every"] = 0.5
    ssa = dg.simulate(spr_model(1.6), SPR_SCHEDULE, **run)
    options = {**JUMPED, "jump_threshold": 20.0, **run}
    jump = dg.simulate(spr_model(1.6), SPR_SCHEDULE, **options)
    assert jump.attrs["algorithm"] == "jump"
    assert jump.attrs["jump_threshold"] == 20.0
    # The dose clock is exact SSA's.
    for name in ("exposure", "concentration"):
        np.testing.assert_array_equal(jump[name].to_numpy(), ssa[name].to_numpy(), name)
    for name in ("n_switches", "time_on_drug", "auc_concentration", "auc_response"):
        np.testing.assert_allclose(jump[name].to_numpy(), ssa[name].to_numpy(), rtol=1e-12)
    one = dg.simulate(spr_model(1.6), SPR_SCHEDULE, n_threads=1, **options)
    two = dg.simulate(spr_model(1.6), SPR_SCHEDULE, n_threads=2, **options)
    # Blocks are a streamed run's (a plain run is one engine call).
    store = tmp_path / "blocks.zarr"
    blocks = dg.simulate(spr_model(1.6), SPR_SCHEDULE, block_size=4, store=store, **options).load()
    for other in (two, blocks):
        for name in one.data_vars:
            np.testing.assert_array_equal(one[name].to_numpy(), other[name].to_numpy(), name)


def test_auto_keeps_ssa_under_pk_dosing_and_says_why() -> None:
    run = {**SPR_RUN, "n_replicates": 2, "seed": 3}
    auto = dg.simulate(spr_model(1.6), SPR_SCHEDULE, method="auto", **run)
    assert auto.attrs["algorithm"] == "ssa"
    assert PK_REASON in auto.attrs["auto"]
    ssa = dg.simulate(spr_model(1.6), SPR_SCHEDULE, **run)
    for name in ssa.data_vars:
        np.testing.assert_array_equal(auto[name].to_numpy(), ssa[name].to_numpy(), name)


@pytest.mark.parametrize(
    ("model", "schedule", "match"),
    [
        (
            spr_model(1.6),
            dg.Schedule.pk(dose=8.0, dose_every=2.5, half_life=0.5, missed_dose_probability=0.3),
            "missed_dose_probability is 0.3",
        ),
        (
            {**spr_model(1.6), "capacity": {"K": 1e4}},
            SPR_SCHEDULE,
            "pk schedules on linear models only",
        ),
    ],
)
def test_what_jumps_cannot_run_under_pk_is_refused_by_name(
    model: dict[str, Any], schedule: dg.Schedule, match: str
) -> None:
    with pytest.raises(dg.errors.InvalidScheduleError, match=match):
        dg.simulate(model, schedule, **SPR_RUN, n_replicates=2, method="jump")
    # method="auto" runs them with SSA, saying why.
    auto = dg.simulate(model, schedule, **SPR_RUN, n_replicates=2, method="auto")
    assert auto.attrs["algorithm"] == "ssa"


def test_a_drug_faster_than_the_step_is_refused_naming_jump_step() -> None:
    """t½ = 0.05 day against steps of 0.5: the tables cannot follow the concentration to their
    tolerance, and the run says so (not an engine-internal check); shorter steps run."""
    schedule = dg.Schedule.pk(dose=5.0, dose_every=1.0, half_life=0.05)
    run: dict[str, Any] = {"initial": {"S": 10**6}, "t_end": 1.0, "n_replicates": 1, "seed": 1}
    with pytest.raises(dg.errors.InvalidRunError, match="changes too fast") as info:
        dg.simulate(README_SPR, schedule, method="jump", **run)
    assert "jump_step" in str(info.value)
    assert "method='ssa'" in str(info.value)
    ds = dg.simulate(README_SPR, schedule, method="jump", jump_step=0.01, **run)
    assert ds.attrs["algorithm"].startswith("jump")
    assert int(ds["status"].item()) == 0
