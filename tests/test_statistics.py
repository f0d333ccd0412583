"""Ensembles against exact results (see oracles.py), at two tiers.

Each check returns a z-score of an ensemble statistic against the exact value *of the correct
model*. It must be small for the correct model and large (|z| > 3.29) for a model with one rate off
by 20% (CI tier) or 5% (deep tier, ``DTP_DEEP=1``), with replicate counts chosen for that power.
Seeds are fixed, so every test is deterministic.
"""

import math

import dtp_gillespie as dg
import numpy as np
import pytest
from oracles import (
    O4_MEAN_30,
    O4_OFF,
    O4_ON,
    O4_SD_30,
    Z_CRIT,
    kendall_alpha_beta,
    kendall_inhomogeneous_p0,
    kendall_mean,
    kendall_pmf_one,
    kendall_var,
    p_in_p,
    spr_mean,
    spr_model,
    tiers,
    z_mean,
    z_proportion,
)
from scipy import stats


def birth_death(b: float, d: float) -> dict:
    return {"states": ["N"], "exposures": ["off"], "division": {"N": b}, "death": {"N": d}}


def final_counts(ds, state: str) -> np.ndarray:
    return ds["count"].sel(cell_state=state).isel(time=-1).to_numpy()


# --- O1 ---
def o1_mean_z(b: float, n: int, seed: int = 11) -> float:
    ds = dg.simulate(
        birth_death(b, 0.5), "off", initial={"N": 10}, t_end=2.0, n_replicates=n, seed=seed
    )
    return z_mean(
        final_counts(ds, "N"), kendall_mean(10, 1.0, 0.5, 2.0), kendall_var(10, 1.0, 0.5, 2.0)
    )


def o1_variance_z(b: float, n: int, seed: int = 12) -> float:
    ds = dg.simulate(
        birth_death(b, 0.5), "off", initial={"N": 10}, t_end=2.0, n_replicates=n, seed=seed
    )
    x = final_counts(ds, "N").astype(float)
    dev = x - x.mean()
    s2 = dev.var(ddof=1)
    # Standard error of the sample variance from the sample fourth central moment.
    se = math.sqrt((np.mean(dev**4) - s2**2) / n)
    return (s2 - kendall_var(10, 1.0, 0.5, 2.0)) / se


def o1_extinction_z(b: float, n: int, seed: int = 13) -> float:
    ds = dg.simulate(
        birth_death(b, 0.5), "off", initial={"N": 1}, t_end=2.0, n_replicates=n, seed=seed
    )
    p0, _ = kendall_alpha_beta(1.0, 0.5, 2.0)
    extinct = int(np.sum(final_counts(ds, "N") == 0))
    return z_proportion(extinct, n, p0)


def o1_pmf_chi2_p(b: float, n: int, seed: int = 14) -> float:
    ds = dg.simulate(
        birth_death(b, 0.5), "off", initial={"N": 1}, t_end=2.0, n_replicates=n, seed=seed
    )
    x = final_counts(ds, "N")
    observed = np.array([*(np.sum(x == k) for k in range(8)), np.sum(x >= 8)])
    expected = kendall_pmf_one(1.0, 0.5, 2.0, 8) * n
    return float(stats.chisquare(observed, expected).pvalue)


@pytest.mark.parametrize(("factor", "n"), tiers(ci_n=400, deep_n=1000))
def test_o1_mean(factor: float, n: int) -> None:
    assert abs(o1_mean_z(1.0, n)) < Z_CRIT
    assert abs(o1_mean_z(factor, n)) > Z_CRIT


@pytest.mark.parametrize(("factor", "n"), tiers(ci_n=2000, deep_n=8000))
def test_o1_variance(factor: float, n: int) -> None:
    assert abs(o1_variance_z(1.0, n)) < Z_CRIT
    assert abs(o1_variance_z(factor, n)) > Z_CRIT


@pytest.mark.parametrize(("factor", "n"), tiers(ci_n=5000, deep_n=120_000))
def test_o1_extinction_by_t(factor: float, n: int) -> None:
    assert abs(o1_extinction_z(1.0, n)) < Z_CRIT
    assert abs(o1_extinction_z(factor, n)) > Z_CRIT


@pytest.mark.parametrize(("factor", "n"), tiers(ci_n=2000, deep_n=8000))
def test_o1_pmf(factor: float, n: int) -> None:
    assert o1_pmf_chi2_p(1.0, n) > 0.001
    assert o1_pmf_chi2_p(factor, n) < 0.001


def test_o1_subcritical_mean_extinction_time() -> None:
    # b = 0.5, d = 1, one cell: E[T_ext] = 2 ln 2, sd 1.654120.
    def z(d: float) -> float:
        model = birth_death(0.5, d)
        ds = dg.simulate(model, "off", initial={"N": 1}, t_end=1e4, n_replicates=3000, seed=15)
        assert (ds["status"] == 1).all()
        return z_mean(ds["extinction_time"].to_numpy(), 2 * math.log(2), 1.654120**2)

    assert abs(z(1.0)) < Z_CRIT
    assert abs(z(1.2)) > Z_CRIT


# --- O2 ---
def o2_z(b: float, n: int, seed: int = 21) -> float:
    ds = dg.simulate(
        birth_death(b, 0.8),
        "off",
        initial={"N": 3},
        t_end=1e4,
        n_replicates=n,
        seed=seed,
        max_population=200,
    )
    status = ds["status"].to_numpy()
    # Every replicate is absorbed at 0 or stopped at the cap (truncation bias 0.8**200 = 4e-20).
    assert set(np.unique(status)) <= {1, 3}
    return z_proportion(int(np.sum(status == 1)), n, 0.8**3)


@pytest.mark.parametrize(("factor", "n"), tiers(ci_n=1000, deep_n=3000))
def test_o2_ultimate_extinction(factor: float, n: int) -> None:
    with pytest.warns(UserWarning, match="max_population"):
        assert abs(o2_z(1.0, n)) < Z_CRIT
    with pytest.warns(UserWarning, match="max_population"):
        assert abs(o2_z(factor, n)) > Z_CRIT


# --- O3 ---
def two_state(k_ps_off: float) -> dict:
    return {
        "states": ["S", "P"],
        "exposures": ["off", "on"],
        "switch": [
            {"from": "S", "to": "P", "rate": {"off": 0.1, "on": 0.5}},
            {"from": "P", "to": "S", "rate": {"off": k_ps_off, "on": 0.05}},
        ],
    }


def o3_binomial_z(k_ps: float, n: int, seed: int = 31) -> float:
    ds = dg.simulate(
        two_state(k_ps), "off", initial={"S": 1000}, t_end=2.0, n_replicates=n, seed=seed
    )
    p = p_in_p(0.1, 0.4, 2.0, 0.0)
    return z_mean(final_counts(ds, "P"), 1000 * p, 1000 * p * (1 - p))


def o3_withdrawal_z(k_ps: float, n: int, seed: int = 32) -> float:
    schedule = {"kind": "piecewise", "segments": [[0, "on"], [10, "off"]]}
    ds = dg.simulate(
        two_state(k_ps),
        schedule,
        initial={"S": 1000},
        times=[10.0, 12.0],
        t_end=12.0,
        n_replicates=n,
        seed=seed,
    )
    p = p_in_p(0.1, 0.4, 2.0, p_in_p(0.5, 0.05, 10.0, 0.0))
    assert p == pytest.approx(0.459493, abs=1e-6)
    return z_mean(final_counts(ds, "P"), 1000 * p, 1000 * p * (1 - p))


@pytest.mark.parametrize(("factor", "n"), tiers(ci_n=200, deep_n=1200))
def test_o3_binomial_at_t(factor: float, n: int) -> None:
    assert abs(o3_binomial_z(0.4, n)) < Z_CRIT
    assert abs(o3_binomial_z(0.4 * factor, n)) > Z_CRIT


@pytest.mark.parametrize(("factor", "n"), tiers(ci_n=50, deep_n=200))
def test_o3_binomial_after_withdrawal(factor: float, n: int) -> None:
    assert abs(o3_withdrawal_z(0.4, n)) < Z_CRIT
    assert abs(o3_withdrawal_z(0.4 * factor, n)) > Z_CRIT


def o3_tail_z(k_ps: float, n: int, seed: int = 33) -> float:
    """z of the fraction of replicates with P(2) <= 110 against the correct binomial tail."""
    ds = dg.simulate(
        two_state(k_ps), "off", initial={"S": 1000}, t_end=2.0, n_replicates=n, seed=seed
    )
    x = final_counts(ds, "P")
    p = p_in_p(0.1, 0.4, 2.0, 0.0)
    # P(P(2) <= 110) = 0.062776 for Bin(1000, 0.126424).
    tail = stats.binom.cdf(110, 1000, p)
    assert tail == pytest.approx(0.062776, abs=1e-6)
    return z_proportion(int(np.sum(x <= 110)), x.size, tail)


# Power of the rejection: k_PS 20% high moves the tail to 0.2222 (expected z 29 at 2000
# replicates); 5% high to 0.0908, expected z 7.3 at 4000 (power 0.99997).
@pytest.mark.parametrize(("factor", "n"), tiers(ci_n=2000, deep_n=4000))
def test_o3_full_distribution_is_binomial(factor: float, n: int) -> None:
    assert abs(o3_tail_z(0.4, n)) < Z_CRIT
    assert abs(o3_tail_z(0.4 * factor, n)) > Z_CRIT


# --- O4 ---
O4_SCHEDULE = {"kind": "piecewise", "segments": [[0, "off"], [5, "on"], [15, "off"], [20, "on"]]}


def o4_final(n: int, seed: int, k_ps_scale: float = 1.0) -> np.ndarray:
    off = dict(O4_OFF, k_PS=O4_OFF["k_PS"] * k_ps_scale)
    on = dict(O4_ON, k_PS=O4_ON["k_PS"] * k_ps_scale)
    ds = dg.simulate(
        spr_model(off, on),
        O4_SCHEDULE,
        initial={"S": 100},
        times=[5, 15, 20, 30],
        t_end=30.0,
        n_replicates=n,
        seed=seed,
    )
    return ds["count"].to_numpy()


def test_o4_exact_means_reproduce_the_oracle_table() -> None:
    phases = [(O4_OFF, 5), (O4_ON, 10), (O4_OFF, 5), (O4_ON, 10)]
    np.testing.assert_allclose(spr_mean(phases, np.array([100, 0, 0])), O4_MEAN_30, rtol=1e-6)


@pytest.mark.parametrize(("factor", "n"), tiers(ci_n=800, deep_n=4000))
def test_o4_spr_means_under_schedule(factor: float, n: int) -> None:
    counts = o4_final(n, seed=41)
    for state in range(3):
        assert abs(z_mean(counts[:, -1, state], O4_MEAN_30[state], O4_SD_30[state] ** 2)) < Z_CRIT
    # Intermediate times against the mean-matrix method, with the sample variance.
    for k, t_index in O4_INTERMEDIATE:
        for state in range(2):
            assert abs(o4_intermediate_z(counts, k, t_index, state)) < Z_CRIT, (k, state)
    wrong = o4_final(n, seed=41, k_ps_scale=factor)
    assert abs(z_mean(wrong[:, -1, 1], O4_MEAN_30[1], O4_SD_30[1] ** 2)) > Z_CRIT
    # The intermediate S and P checks reject the wrong model at t = 20 (the end of the second
    # off phase). Expected z (measured): S +12.8 and P -34.5 at 20% with 800 replicates, +8.9
    # and -17.4 at 5% with 4000: power > 1 - 1e-8 for each.
    for state in range(2):
        assert abs(o4_intermediate_z(wrong, 20, 2, state)) > Z_CRIT, state


# (time, index among the record times 5, 15, 20, 30) of the intermediate checks.
O4_INTERMEDIATE = ((5, 0), (15, 1), (20, 2))


def o4_intermediate_z(counts: np.ndarray, k: float, t_index: int, state: int) -> float:
    """z of the mean count of ``state`` at time ``k`` against the correct model's mean matrix."""
    phases = [(O4_OFF, 5), (O4_ON, 10), (O4_OFF, 5), (O4_ON, 10)]
    elapsed, kept = 0.0, []
    for rates, d in phases:
        if elapsed < k:
            kept.append((rates, min(d, k - elapsed)))
        elapsed += d
    exact = spr_mean(kept, np.array([100, 0, 0]))
    x = counts[:, t_index, state]
    return z_mean(x, exact[state], x.var(ddof=1))


def test_o4_breakpoints_half_a_day_late_are_detected() -> None:
    late = {"kind": "piecewise", "segments": [[0, "off"], [5.5, "on"], [15.5, "off"], [20.5, "on"]]}
    ds = dg.simulate(
        spr_model(O4_OFF, O4_ON), late, initial={"S": 100}, t_end=30.0, n_replicates=100, seed=42
    )
    x = ds["count"].sel(cell_state="P").isel(time=-1).to_numpy()
    assert abs(z_mean(x, O4_MEAN_30[1], O4_SD_30[1] ** 2)) > Z_CRIT


# --- O8 ---
def on_off_birth_death(b_off: float) -> dict:
    return {
        "states": ["N"],
        "exposures": ["off", "on"],
        "division": {"N": {"off": b_off, "on": 0.2}},
        "death": {"N": {"off": 0.2, "on": 1.2}},
    }


def o8_z(b_off: float, n: int, seed: int = 81) -> float:
    schedule = {"kind": "piecewise", "segments": [[0, "off"], [2, "on"], [5, "off"]]}
    ds = dg.simulate(
        on_off_birth_death(b_off), schedule, initial={"N": 1}, t_end=6.0, n_replicates=n, seed=seed
    )
    p0 = kendall_inhomogeneous_p0([(0, 1.0, 0.2), (2, 0.2, 1.2), (5, 1.0, 0.2)], 6.0)
    assert p0 == pytest.approx(0.843303, abs=1e-6)
    return z_proportion(int(np.sum(final_counts(ds, "N") == 0)), n, p0)


@pytest.mark.parametrize(("factor", "n"), tiers(ci_n=4000, deep_n=20_000))
def test_o8_time_inhomogeneous_extinction(factor: float, n: int) -> None:
    assert abs(o8_z(1.0, n)) < Z_CRIT
    assert abs(o8_z(factor, n)) > Z_CRIT


def pure_death_survival_z(late_death: float, n: int = 500) -> float:
    model = {
        "states": ["N"],
        "exposures": ["off", "on"],
        "death": {"N": {"off": 0.1, "on": late_death}},
    }
    schedule = {"kind": "piecewise", "segments": [[0, "off"], [1, "on"]]}
    ds = dg.simulate(model, schedule, initial={"N": 1}, t_end=2.0, n_replicates=n, seed=82)
    survived = int(np.sum(final_counts(ds, "N") == 1))
    return z_proportion(survived, n, math.exp(-1.1))


def test_o8_pure_death_breakpoint_sentinel() -> None:
    assert abs(pure_death_survival_z(1.0)) < Z_CRIT
    assert abs(pure_death_survival_z(1.2, n=2000)) > Z_CRIT
