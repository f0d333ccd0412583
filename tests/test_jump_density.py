"""``method="jump"`` on density-dependent models: the labelled approximation
``jump+density(midpoint)`` against exact SSA of the same model.

The logistic example of the design note: one type, division ``b = 0.8``, death
``d(N) = d0 + (b − d0) N/K`` (a capacity on death), ``d0 = 0.1``, ``K = 1000``, ``N0 = 20``. The
jump runs force every pool into the jump regime (``jump_threshold=0``) with the default step
``Δ = 0.5`` day against SSA's mean and variance, and ``Δ = 1`` (the step of the note's
comparison) for the contrast with rates frozen at the step's start. Means and variances are
compared with an exact-SSA ensemble of the same model by two-sample z-scores (α = 0.001); each
comparison has a rejection twin (the division rate 20% off in the CI tier, 5% in the deep tier).
"""

import math
from typing import Any

import dtp_gillespie as dg
import numpy as np
import pytest
from dtp_gillespie.simulate import prepare
from oracles import Z_CRIT, tiers

K = 1000.0
TIMES = [2.0, 4.0, 6.0]
FORCED: dict[str, Any] = {"method": "jump", "jump_threshold": 0.0, "jump_step": 1.0}
# The default step: at Δ = 1 the variance is about 5% too high, which the deep tier detects.
FORCED_HALF: dict[str, Any] = {**FORCED, "jump_step": 0.5}


def logistic(b: float = 0.8, k: float = K) -> dict[str, Any]:
    return {
        "states": ["N"],
        "exposures": ["off"],
        "division": {"N": b},
        "death": {"N": 0.1},
        "capacity": {"K": k, "on": "death"},
    }


def counts(ds: Any) -> np.ndarray:
    """Counts of N at ``TIMES`` (replicate × time)."""
    return ds["count"].sel(cell_state="N", time=TIMES).to_numpy().astype(float)


def run(b: float, n: int, seed: int, initial: int = 20, **options: Any) -> np.ndarray:
    ds = dg.simulate(
        logistic(b), "off", initial={"N": initial}, t_end=6.0, times=TIMES, n_replicates=n,
        seed=seed, **options,
    )  # fmt: skip
    return counts(ds)


def z_means(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Two-sample z of the means, per column."""
    se = np.sqrt(x.var(axis=0, ddof=1) / len(x) + y.var(axis=0, ddof=1) / len(y))
    return np.asarray((x.mean(axis=0) - y.mean(axis=0)) / se)


def z_variances(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Two-sample z of the variances, per column (each from its squared deviations' SE)."""
    sx, sy = (x - x.mean(axis=0)) ** 2, (y - y.mean(axis=0)) ** 2
    se = np.sqrt(sx.var(axis=0, ddof=1) / len(x) + sy.var(axis=0, ddof=1) / len(y))
    return np.asarray((sx.mean(axis=0) - sy.mean(axis=0)) / se)


@pytest.fixture(scope="module")
def ssa() -> np.ndarray:
    """The exact reference: 4000 SSA replicates of the logistic example."""
    return run(0.8, 4000, seed=101)


@pytest.mark.parametrize(("factor", "n"), tiers(ci_n=4000, deep_n=40_000))
def test_midpoint_jumps_match_ssa_mean_and_variance(factor: float, n: int, ssa: np.ndarray) -> None:
    jumps = run(0.8, n, seed=102, **FORCED_HALF)
    assert np.all(np.abs(z_means(jumps, ssa)) < Z_CRIT), z_means(jumps, ssa)
    assert np.all(np.abs(z_variances(jumps, ssa)) < Z_CRIT), z_variances(jumps, ssa)
    # The twin: a division rate 20% (deep: 5%) off is seen in the mean at day 6.
    twin = run(0.8 * factor, n, seed=103, **FORCED_HALF)
    assert abs(z_means(twin, ssa)[-1]) > Z_CRIT


def test_midpoint_bias_is_much_smaller_than_frozen_rates(ssa: np.ndarray) -> None:
    # Frozen-at-step-start rates (OncoSimulR's BNB) overshoot by about 14% at Δ = 1 day; the
    # engine's run dict selects them (``jump_density_rates``), the public API does not.
    prep = prepare(
        logistic(), "off", initial={"N": 20}, t_end=6.0, times=TIMES, n_replicates=2000, seed=104,
        **FORCED,
    )  # fmt: skip
    day6 = {}
    for rates in ("midpoint", "frozen"):
        core_run = {**prep.core_run, "jump_density_rates": rates}
        out = dg._core.simulate_ensemble(prep.core_model, prep.core_schedule, core_run)
        day6[rates] = out["count"][:, -1, 0].astype(float)
    truth = ssa[:, -1].mean()
    bias = {k: v.mean() - truth for k, v in day6.items()}
    z_frozen = bias["frozen"] / math.sqrt(day6["frozen"].var() / 2000 + ssa[:, -1].var() / 4000)
    assert z_frozen > Z_CRIT
    assert bias["frozen"] > 0.08 * truth
    assert abs(bias["midpoint"]) < bias["frozen"] / 10


@pytest.mark.parametrize(("factor", "n"), tiers(ci_n=20_000, deep_n=300_000))
def test_steps_without_a_jumped_pool_are_exact_ssa(factor: float, n: int) -> None:
    # At the default threshold no pool of the logistic example reaches 1000 expected events in
    # a step, so every step is simulated event by event with the true rates: the extinction
    # probability from one cell (about d0/b = 1/8) equals exact SSA's.
    def extinct(b: float, seed: int, **options: Any) -> float:
        ds = dg.simulate(
            logistic(b), "off", initial={"N": 1}, t_end=3.0, n_replicates=n, seed=seed, **options
        )
        return float(np.mean(ds["status"].to_numpy() == dg.conventions.STATUS_CODES["extinct"]))

    p_ssa = extinct(0.8, 105)
    p_jump = extinct(0.8, 106, method="jump")
    pooled = (p_ssa + p_jump) / 2
    se = math.sqrt(2 * pooled * (1 - pooled) / n)
    assert abs(p_jump - p_ssa) / se < Z_CRIT
    p_twin = extinct(0.8 * factor, 107, method="jump")
    assert abs(p_twin - p_ssa) / se > Z_CRIT


def test_competition_models_run_as_the_same_approximation() -> None:
    # Two types on division competition (Lotka-Volterra), forced jumps against SSA at day 4.
    model = {
        "states": ["A", "B"],
        "exposures": ["off"],
        "division": {"A": 0.9, "B": 0.6},
        "death": {"A": 0.1, "B": 0.1},
        "competition": {
            "on": "division",
            "states": {
                "A": {"K": 2000.0, "alpha": {"A": 1.0, "B": 0.5}},
                "B": {"K": 1500.0, "alpha": {"A": 0.7, "B": 1.0}},
            },
        },
    }
    common: dict[str, Any] = {"initial": {"A": 50, "B": 50}, "t_end": 4.0, "n_replicates": 2000}
    exact = dg.simulate(model, "off", seed=108, **common)
    jumps = dg.simulate(model, "off", seed=109, **common, **FORCED)
    assert jumps.attrs["algorithm"] == "jump+density(midpoint)"
    final = [ds["count"].isel(time=-1).to_numpy().astype(float) for ds in (jumps, exact)]
    assert np.all(np.abs(z_means(*final)) < Z_CRIT), z_means(*final)


def test_attrs_label_the_approximation() -> None:
    ds = dg.simulate(logistic(), "off", initial={"N": 20}, t_end=6.0, seed=1, **FORCED)
    assert ds.attrs["algorithm"] == "jump+density(midpoint)"
    assert ds.attrs["density_quantum"] == 1e-4
    assert ds.attrs["jump_step"] == 1.0
    # Along the logistic curve with Δ = 1, death changes by up to ~25% across one step.
    assert 0.1 < ds.attrs["max_rate_change_per_step"] < 0.5
    # Rounding the crowding moves the death rate by at most 0.7 · 0.5e-4 (relative to >= 0.1).
    assert 0 <= ds.attrs["density_rate_error"] <= 0.7 * 0.5e-4 / 0.1
    coarse = dg.simulate(
        logistic(), "off", initial={"N": 20}, t_end=6.0, seed=1, jump_density_quantum=0.01,
        **FORCED,
    )  # fmt: skip
    assert coarse.attrs["density_quantum"] == 0.01
    assert coarse.attrs["density_rate_error"] > ds.attrs["density_rate_error"]
    assert '"jump_density_quantum": 0.01' in coarse.attrs["run"]
    again = dg.reproduce(coarse)
    assert np.array_equal(again["count"], coarse["count"])
    # A linear jump run keeps its label and adds none of the density attrs.
    linear = {**logistic(), "capacity": None}
    del linear["capacity"]
    lin = dg.simulate(linear, "off", initial={"N": 20}, t_end=1.0, seed=1, method="jump")
    assert lin.attrs["algorithm"] == "jump"
    assert not {"density_quantum", "max_rate_change_per_step"} & set(lin.attrs)
    assert "jump_density_quantum" not in lin.attrs["run"]


@pytest.mark.parametrize("value", [0.0, -1e-4, 0.2, math.nan, math.inf, "0.01", True])
def test_bad_density_quantum_is_refused_by_name(value: object) -> None:
    with pytest.raises(dg.errors.InvalidRunError, match=r"jump_density_quantum is .*\(0, 0\.1\]"):
        dg.simulate(
            logistic(), "off", initial={"N": 20}, t_end=1.0, method="jump",
            jump_density_quantum=value,
        )  # fmt: skip


def test_density_quantum_is_refused_where_it_does_not_apply() -> None:
    linear = {k: v for k, v in logistic().items() if k != "capacity"}
    with pytest.raises(dg.errors.InvalidRunError, match=r"jump_density_quantum is 0\.001.*linear"):
        dg.simulate(
            linear, "off", initial={"N": 20}, t_end=1.0, method="jump", jump_density_quantum=1e-3
        )
    with pytest.raises(dg.errors.InvalidRunError, match="applies to method='jump' only"):
        dg.simulate(logistic(), "off", initial={"N": 20}, t_end=1.0, jump_density_quantum=1e-3)
    # "auto" never runs the approximation, so the quantum would never apply.
    for model in (logistic(), linear):
        with pytest.raises(dg.errors.InvalidRunError, match="'auto' never chooses the density"):
            dg.simulate(
                model, "off", initial={"N": 20}, t_end=1.0, method="auto",
                jump_density_quantum=1e-3,
            )  # fmt: skip
    # On a density-dependent model auto runs exact SSA, and says why.
    auto = dg.simulate(logistic(), "off", initial={"N": 20}, t_end=1.0, method="auto", seed=2)
    ssa = dg.simulate(logistic(), "off", initial={"N": 20}, t_end=1.0, seed=2)
    assert auto.attrs["algorithm"] == "ssa"
    assert "density dependent" in auto.attrs["auto"]
    assert (auto["count"].values == ssa["count"].values).all()


def test_what_remains_unsupported_is_still_refused() -> None:
    with pytest.raises(dg.errors.InvalidRunError, match="does not monitor progression"):
        dg.simulate(
            logistic(), "off", initial={"N": 20}, t_end=1.0, method="jump",
            progression={"factor": 2.0, "min_size": 100},
        )  # fmt: skip
    prep = prepare(logistic(), "off", initial={"N": 20}, t_end=1.0, method="jump")
    bad = {**prep.core_run, "jump_density_rates": "endpoint"}
    with pytest.raises(dg.errors.InvalidRunError, match="jump_density_rates is endpoint"):
        dg._core.simulate_ensemble(prep.core_model, prep.core_schedule, bad)


def test_streamed_resumed_and_summary_runs_equal_the_in_memory_run(tmp_path: Any) -> None:
    run: dict[str, Any] = {
        "initial": {"N": 20},
        "t_end": 6.0,
        "record_every": 2.0,
        "n_replicates": 12,
        "seed": 42,
        **FORCED,
    }
    memory = dg.simulate(logistic(), "off", **run)
    streamed = dg.simulate(logistic(), "off", store=tmp_path / "s.zarr", block_size=5, **run)
    np.testing.assert_array_equal(streamed["count"].to_numpy(), memory["count"].to_numpy())
    for key in ("algorithm", "density_quantum", "max_rate_change_per_step", "density_rate_error"):
        assert streamed.attrs[key] == memory.attrs[key]
    resumed = dg.simulate(
        logistic(), "off", store=tmp_path / "s.zarr", block_size=5, resume=True, **run
    )
    np.testing.assert_array_equal(resumed["count"].to_numpy(), memory["count"].to_numpy())
    summary = dg.simulate(logistic(), "off", summary_only=True, block_size=5, **run)
    np.testing.assert_array_equal(
        summary["final_count"].to_numpy(), memory["count"].isel(time=-1).to_numpy()
    )
    assert summary.attrs["algorithm"] == "jump+density(midpoint)"
