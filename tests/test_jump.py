"""``method="jump"``: exact population jumps against exact results and against exact SSA.

Every statistical test has fixed seeds, α = 0.001 and a rejection twin (one rate 20% off in the
CI tier, 5% in the deep tier ``DTP_DEEP=1``), run through the jump regime forced on
(``jump_threshold=0``: every pool is jumped) unless said otherwise. The no-emission probability
is checked against the Riccati system solved here by scipy, independently of the engine.
"""

import math
from typing import Any

import dtp_gillespie as dg
import numpy as np
import pytest
from dtp_gillespie.simulate import prepare
from oracles import (
    Z_CRIT,
    kendall_alpha_beta,
    kendall_inhomogeneous_p0,
    kendall_mean,
    kendall_var,
    tiers,
    z_mean,
    z_proportion,
)
from scipy import integrate, stats

JUMP: dict[str, Any] = {"method": "jump", "jump_threshold": 0.0, "jump_step": 0.25}


def birth_death(b: float, d: float) -> dict[str, Any]:
    return {"states": ["N"], "exposures": ["off"], "division": {"N": b}, "death": {"N": d}}


def final(ds: Any, state: str) -> np.ndarray:
    return ds["count"].sel(cell_state=state).isel(time=-1).to_numpy()


# --- O1 through the jump regime ---
@pytest.mark.parametrize("n0", [10, 1000, 1_000_000])
@pytest.mark.parametrize(("factor", "n"), tiers(ci_n=3000, deep_n=40_000))
def test_kendall_mean_and_variance_through_jumps(n0: int, factor: float, n: int) -> None:
    def z(b: float, seed: int) -> tuple[float, float]:
        ds = dg.simulate(
            birth_death(b, 0.5),
            "off",
            initial={"N": n0},
            t_end=1.0,
            n_replicates=n,
            seed=seed,
            **JUMP,
        )
        x = final(ds, "N").astype(float)
        mean, var = kendall_mean(n0, 1.0, 0.5, 1.0), kendall_var(n0, 1.0, 0.5, 1.0)
        squares = (x - mean) ** 2
        # The variance as the mean squared deviation from the true mean (its own sample SE).
        z_var = (squares.mean() - var) / (squares.std(ddof=1) / math.sqrt(n))
        return z_mean(x, mean, var), float(z_var)

    assert max(map(abs, z(1.0, 31))) < Z_CRIT
    assert abs(z(factor, 32)[0]) > Z_CRIT


@pytest.mark.parametrize(("factor", "n"), tiers(ci_n=5000, deep_n=120_000))
def test_kendall_extinction_from_one_cell_through_jumps(factor: float, n: int) -> None:
    p0, _ = kendall_alpha_beta(1.0, 0.5, 2.0)

    def z(b: float) -> float:
        ds = dg.simulate(
            birth_death(b, 0.5),
            "off",
            initial={"N": 1},
            t_end=2.0,
            n_replicates=n,
            seed=33,
            **JUMP,
        )
        return z_proportion(int(np.sum(final(ds, "N") == 0)), n, p0)

    assert abs(z(1.0)) < Z_CRIT
    assert abs(z(factor)) > Z_CRIT


# --- O8: piecewise-constant rates (breakpoints on the step grid) ---
@pytest.mark.parametrize(("factor", "n"), tiers(ci_n=6000, deep_n=120_000))
def test_time_inhomogeneous_extinction_through_jumps(factor: float, n: int) -> None:
    # Birth 1, death 0.4 off drug and 1.5 on it; on for [1, 2), off again to 3.
    model = {
        "states": ["N"],
        "exposures": ["off", "on"],
        "division": {"N": 1.0},
        "death": {"N": {"off": 0.4, "on": 1.5}},
    }
    schedule = dg.Schedule.piecewise([(0.0, "off"), (1.0, "on"), (2.0, "off")])
    truth = kendall_inhomogeneous_p0([(0.0, 1.0, 0.4), (1.0, 1.0, 1.5), (2.0, 1.0, 0.4)], 3.0)

    def z(death_on: float) -> float:
        m = {**model, "death": {"N": {"off": 0.4, "on": death_on}}}
        ds = dg.simulate(m, schedule, initial={"N": 1}, t_end=3.0, n_replicates=n, seed=34, **JUMP)
        return z_proportion(int(np.sum(final(ds, "N") == 0)), n, truth)

    assert abs(z(1.5)) < Z_CRIT
    assert abs(z(1.5 * factor)) > Z_CRIT


# --- P(no emission in [0, t]) = Π φ_X(t)^{n_X}, φ from the Riccati system ---
def sp_model(mu: float) -> dict[str, Any]:
    return {
        "states": ["S", "P", {"name": "R", "genetic": True}],
        "exposures": ["off"],
        "division": {"S": 1.0, "P": 0.2, "R": 0.6},
        "death": {"S": 0.3, "P": 0.05, "R": 0.1},
        "switch": [
            {"from": "S", "to": "P", "rate": 0.2},
            {"from": "P", "to": "S", "rate": 0.3},
        ],
        "mutation": [
            {"from": "S", "to": "R", "probability": mu},
            {"from": "P", "to": "R", "probability": mu},
        ],
    }


def riccati_no_emission(mu: float, t: float) -> tuple[float, float]:
    """φ_S(t), φ_P(t): no mutation in the lineage of one S (one P) cell, by scipy's DOP853."""
    b_s, d_s, k_sp, b_p, d_p, k_ps = 1.0, 0.3, 0.2, 0.2, 0.05, 0.3

    def rhs(_: float, phi: np.ndarray) -> list[float]:
        s, p = phi
        return [
            b_s * (1 - mu) * s * s + d_s + k_sp * p - (b_s + d_s + k_sp) * s,
            b_p * (1 - mu) * p * p + d_p + k_ps * s - (b_p + d_p + k_ps) * p,
        ]

    sol = integrate.solve_ivp(rhs, (0.0, t), [1.0, 1.0], method="DOP853", rtol=1e-12, atol=1e-14)
    return float(sol.y[0, -1]), float(sol.y[1, -1])


@pytest.mark.parametrize(("factor", "n"), tiers(ci_n=20_000, deep_n=300_000))
def test_no_emission_probability_is_the_riccati_product(factor: float, n: int) -> None:
    phi_s, phi_p = riccati_no_emission(0.02, 2.0)
    truth = phi_s**40 * phi_p**5

    def z(mu: float) -> float:
        ds = dg.simulate(
            sp_model(mu),
            "off",
            initial={"S": 40, "P": 5},
            t_end=2.0,
            n_replicates=n,
            seed=35,
            method="jump",
            jump_threshold=0.0,
            jump_step=0.5,
        )
        silent = int(np.isnan(ds["first_mutant_time"].to_numpy()).sum())
        return z_proportion(silent, n, truth)

    assert abs(z(0.02)) < Z_CRIT
    assert abs(z(0.02 * factor)) > Z_CRIT


# --- jump against exact SSA, two-sample ---
@pytest.mark.parametrize("jump_step", [0.25, 2.0])
def test_jumps_and_ssa_agree_in_law(jump_step: float) -> None:
    n = 6000
    run: dict[str, Any] = {"initial": {"S": 40, "P": 5}, "t_end": 2.0, "n_replicates": n}
    ssa = dg.simulate(sp_model(0.02), "off", seed=36, **run)
    jump = dg.simulate(
        sp_model(0.02),
        "off",
        seed=37,
        method="jump",
        jump_step=jump_step,
        jump_threshold=0.0,
        **run,
    )
    for state in ["S", "P", "R"]:
        assert stats.ks_2samp(final(ssa, state), final(jump, state)).pvalue > 0.001, state
    first = [np.nan_to_num(d["first_mutant_time"].to_numpy(), nan=np.inf) for d in (ssa, jump)]
    assert stats.ks_2samp(*first).pvalue > 0.001
    # The twin: S division 20% faster, jumped; rejected against the SSA sample.
    twin_model = {**sp_model(0.02), "division": {"S": 1.2, "P": 0.2, "R": 0.6}}
    twin = dg.simulate(
        twin_model, "off", seed=38, method="jump", jump_step=jump_step, jump_threshold=0.0, **run
    )
    assert stats.ks_2samp(final(ssa, "S"), final(twin, "S")).pvalue < 0.001


def test_numerics_at_1e11_cells() -> None:
    # One step of 0.5 from 1e11 cells: Kendall's mean, to its standard error (about 2e-6); the
    # twin's birth rate is 20% higher.
    n0 = 100_000_000_000
    mean, var = kendall_mean(n0, 0.5, 0.4, 0.5), kendall_var(n0, 0.5, 0.4, 0.5)

    def z(b: float) -> float:
        ds = dg.simulate(
            birth_death(b, 0.4), "off", initial={"N": n0}, t_end=0.5, n_replicates=800,
            seed=39, method="jump", jump_step=0.5,
        )  # fmt: skip
        return z_mean(final(ds, "N").astype(float), mean, var)

    assert abs(z(0.5)) < Z_CRIT
    assert abs(z(0.6)) > Z_CRIT


# --- the output says how it was made; SSA runs are unchanged ---
def test_attrs_name_the_algorithm_and_reproduce_repeats_a_jump_run() -> None:
    ds = dg.simulate(
        sp_model(0.02),
        "off",
        initial={"S": 400, "P": 50},
        t_end=2.0,
        record_every=0.5,
        n_replicates=8,
        seed=40,
        method="jump",
        jump_step=0.5,
    )
    assert ds.attrs["algorithm"] == "jump"
    assert ds.attrs["jump_step"] == 0.5
    assert ds.attrs["jump_tolerance"] == 1e-20
    assert ds.attrs["jump_threshold"] == 1000.0
    again = dg.reproduce(ds)
    np.testing.assert_array_equal(again["count"], ds["count"])
    np.testing.assert_array_equal(again["first_mutant_time"], ds["first_mutant_time"])
    ssa = dg.simulate(sp_model(0.02), "off", initial={"S": 4}, t_end=1.0, seed=1)
    assert not {"algorithm", "jump_step"} & set(ssa.attrs)


# --- refusals ---
BASE: dict[str, Any] = {"initial": {"S": 10}, "t_end": 1.0}


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"method": "tau"}, "method is 'tau'"),
        ({"method": "jump", "jump_tolerance": 0.0}, "jump_tolerance is 0.0"),
        ({"method": "jump", "jump_tolerance": 2e-6}, r"jump_tolerance is 2e-06.*\(0, 1e-6\]"),
        ({"method": "jump", "jump_step": 0.0}, "jump_step is 0.0"),
        ({"method": "jump", "jump_step": -1.0}, "jump_step is -1.0"),
        ({"method": "jump", "jump_threshold": -1.0}, "jump_threshold is -1.0"),
        ({"jump_step": 0.5}, "jump_step applies to method='jump' only"),
        ({"method": "jump", "max_events": 100}, "max_events is 100"),
        ({"method": "jump", "progression": {"size": 100}}, "progression"),
        ({"method": "jump", "barcodes": "founders"}, "does not track barcodes or clones"),
        ({"method": "jump", "clones": True}, "does not track barcodes or clones"),
    ],
)
def test_bad_method_options_are_refused_by_name(options: dict[str, Any], match: str) -> None:
    with pytest.raises(dg.errors.InvalidRunError, match=match):
        dg.simulate(sp_model(0.02), "off", **BASE, **options)


def test_the_engine_refuses_lineage_tracking_under_jumps() -> None:
    # The Python layer refuses it first; a direct call with lineages is refused by the engine.
    prep = prepare(sp_model(0.02), "off", initial={"S": 10}, t_end=1.0, method="jump")
    lineages = {"start": "founders", "times": [1.0], "clones": False}
    run = {**prep.core_run, "lineages": lineages}
    with pytest.raises(dg.errors.InvalidRunError, match="does not track barcodes or clones"):
        dg._core.simulate_ensemble(prep.core_model, prep.core_schedule, run)


def test_streamed_and_summary_runs_equal_the_in_memory_jump_run(tmp_path: Any) -> None:
    run: dict[str, Any] = {
        "initial": {"S": 4000, "P": 50},
        "t_end": 2.0,
        "record_every": 0.5,
        "n_replicates": 12,
        "seed": 41,
        "method": "jump",
        "jump_step": 0.5,
    }
    memory = dg.simulate(sp_model(0.001), "off", **run)
    streamed = dg.simulate(sp_model(0.001), "off", store=tmp_path / "s.zarr", block_size=5, **run)
    np.testing.assert_array_equal(streamed["count"].to_numpy(), memory["count"].to_numpy())
    assert streamed.attrs["algorithm"] == "jump"
    summary = dg.simulate(sp_model(0.001), "off", summary_only=True, block_size=5, **run)
    np.testing.assert_array_equal(
        summary["final_count"].to_numpy(), memory["count"].isel(time=-1).to_numpy()
    )


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("method", "tau", 'method is "tau"'),
        ("jump_step", 0.0, "jump_step is 0"),
        ("jump_tolerance", 1e-3, "jump_tolerance is 0.001"),
        ("jump_threshold", math.nan, "jump_threshold is NaN"),
    ],
)
def test_the_engine_refuses_bad_jump_keys_itself(key: str, value: object, match: str) -> None:
    # The Python layer refuses these first; the engine's own checks keep direct calls safe.
    prep = prepare(sp_model(0.02), "off", initial={"S": 10}, t_end=1.0, method="jump")
    run = {**prep.core_run, key: value}
    with pytest.raises(dg.errors.InvalidRunError, match=match):
        dg._core.simulate_ensemble(prep.core_model, prep.core_schedule, run)
