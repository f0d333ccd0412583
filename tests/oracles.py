"""Exact results that a correct exact simulator reproduces in distribution (copied from the
project's oracle notes, with the formulas to recompute them for perturbed models).

Every statistical test compares an ensemble statistic with an exact value through a z-score whose
standard error comes from the exact (or binomial) variance, at two-sided alpha = 0.001.
"""

import math

import numpy as np
import pytest
from scipy import integrate, linalg

Z_CRIT = 3.29  # two-sided alpha = 0.001

# Test ids of the two rejection tiers: a wrong model off by 20% (CI) or 5% (DTP_DEEP=1).
CI, DEEP = "ci", "deep"


def tiers(ci_n: int, deep_n: int) -> list:
    """(factor of the wrong model's rate, replicates) per tier, for ``pytest.mark.parametrize``."""
    return [
        pytest.param(1.20, ci_n, id=CI),
        pytest.param(1.05, deep_n, id=DEEP, marks=pytest.mark.deep),
    ]


def z_mean(sample: np.ndarray, mean: float, var: float) -> float:
    """z-score of a sample mean against the exact mean and variance of one observation."""
    return float((np.mean(sample) - mean) / math.sqrt(var / sample.size))


def z_proportion(hits: int, n: int, p: float) -> float:
    return (hits / n - p) / math.sqrt(p * (1 - p) / n)


# --- O1: linear birth-death (Kendall) ---
def kendall_mean(n0: int, lam: float, mu: float, t: float) -> float:
    return n0 * math.exp((lam - mu) * t)


def kendall_var(n0: int, lam: float, mu: float, t: float) -> float:
    r = lam - mu
    if r == 0:
        return 2 * n0 * lam * t
    e = math.exp(r * t)
    return n0 * (lam + mu) / r * e * (e - 1)


def kendall_alpha_beta(lam: float, mu: float, t: float) -> tuple[float, float]:
    e = math.exp((lam - mu) * t)
    return mu * (e - 1) / (lam * e - mu), lam * (e - 1) / (lam * e - mu)


def kendall_pmf_one(lam: float, mu: float, t: float, n_max: int) -> np.ndarray:
    """P(N(t) = n) for n = 0..n_max - 1 and the tail P(N >= n_max), from one ancestor."""
    a, b = kendall_alpha_beta(lam, mu, t)
    p = [a] + [(1 - a) * (1 - b) * b ** (n - 1) for n in range(1, n_max)]
    return np.array([*p, 1 - sum(p)])


# --- O3: two-state switching without growth ---
def p_in_p(k_sp: float, k_ps: float, t: float, start_in_p: float) -> float:
    """P(a cell is in P at t) when it is in P at time 0 with probability start_in_p."""
    kappa = k_sp + k_ps
    pi = k_sp / kappa
    return pi + (start_in_p - pi) * math.exp(-kappa * t)


# --- O4: multi-type linear branching means through the mean matrix ---
def spr_mean_matrix(r: dict[str, float]) -> np.ndarray:
    return np.array(
        [
            [r["b_S"] * (1 - r["mu_S"]) - r["d_S"] - r["k_SP"], r["k_PS"], 0.0],
            [r["k_SP"], r["b_P"] * (1 - r["mu_P"]) - r["d_P"] - r["k_PS"], 0.0],
            [r["b_S"] * r["mu_S"], r["b_P"] * r["mu_P"], r["b_R"] - r["d_R"]],
        ]
    )


def spr_mean(phases: list[tuple[dict[str, float], float]], n0: np.ndarray) -> np.ndarray:
    m = np.asarray(n0, dtype=float)
    for rates, duration in phases:
        m = linalg.expm(spr_mean_matrix(rates) * duration) @ m
    return m


O4_OFF = dict(
    b_S=0.7, d_S=0.1, k_SP=0.01, k_PS=0.2, b_P=0.1, d_P=0.05, mu_S=1e-3, mu_P=1e-3, b_R=0.3, d_R=0.2
)
O4_ON = dict(
    b_S=0.2,
    d_S=1.0,
    k_SP=0.1,
    k_PS=0.02,
    b_P=0.05,
    d_P=0.05,
    mu_S=1e-3,
    mu_P=1e-2,
    b_R=0.3,
    d_R=0.2,
)
O4_MEAN_30 = np.array([4.575050, 195.844229, 48.769727])
O4_SD_30 = np.array([2.502425, 37.090579, 56.407408])


def spr_model(off: dict[str, float], on: dict[str, float]) -> dict:
    """The S/P/R spec with mutation at division, from O4-style parameter tables."""

    def both(key: str) -> dict[str, float]:
        return {"off": off[key], "on": on[key]}

    return {
        "states": ["S", "P", {"name": "R", "genetic": True}],
        "exposures": ["off", "on"],
        "division": {"S": both("b_S"), "P": both("b_P"), "R": both("b_R")},
        "death": {"S": both("d_S"), "P": both("d_P"), "R": both("d_R")},
        "switch": [
            {"from": "S", "to": "P", "rate": both("k_SP")},
            {"from": "P", "to": "S", "rate": both("k_PS")},
        ],
        "mutation": [
            {"from": "S", "to": "R", "probability": both("mu_S")},
            {"from": "P", "to": "R", "probability": both("mu_P")},
        ],
    }


# --- O8: time-inhomogeneous birth-death (Kendall 1948), piecewise-constant rates ---
def kendall_inhomogeneous_p0(segments: list[tuple[float, float, float]], t_end: float) -> float:
    """P(N(t_end) = 0) from one ancestor; segments are (start, birth, death), in time order."""

    def rates(s: float) -> tuple[float, float]:
        current = segments[0]
        for seg in segments:
            if seg[0] <= s:
                current = seg
        return current[1], current[2]

    breaks = [seg[0] for seg in segments if 0 < seg[0] < t_end]

    def rho(t: float) -> float:
        return integrate.quad(lambda s: rates(s)[1] - rates(s)[0], 0, t, points=breaks, limit=200)[
            0
        ]

    w = (
        1
        + integrate.quad(
            lambda s: rates(s)[1] * math.exp(rho(s)), 0, t_end, points=breaks, limit=200
        )[0]
    )
    return 1 - 1 / w


# --- O10: continuous time-varying propensity (decaying drug, Hill response) ---
O10_D0, O10_EMAX, O10_C0, O10_EC50, O10_HALF_LIFE, O10_HILL = 0.1, 1.0, 10.0, 1.0, 1.5, 2.0
O10_INTEGRAL_3 = 2.850173
O10_SURVIVAL_3 = 0.0428447  # pure death, one cell survives to 3
O10_P0_3 = 0.890710  # with birth b = 0.5, P(N(3) = 0) from one cell
O10_P0_3_EMAX_105 = 0.903179  # the same with E_max x 1.05
O10_DAILY_INTEGRAL_7 = 6.962786  # daily bolus of C0 (doses at 0, 1, ..., 6): integral of H to 7
O10_DAILY_SURVIVAL_7 = 4.69996e-4  # pure death, survival to 7 under the daily bolus
O10_DAILY_MEAN_7 = 0.0155641  # E[N(7)] / N0 with b = 0.5 under the daily bolus


def hill_integral_single_dose(c0: float, ec50: float, h: float, k: float, t: float) -> float:
    """Closed form of the integral of C^h / (EC50^h + C^h) over [0, t] for C = c0 exp(-k s)."""
    return math.log((ec50**h + c0**h) / (ec50**h + c0**h * math.exp(-h * k * t))) / (h * k)


def bolus_concentration(s: float, dose: float, dose_times: list[float], half_life: float) -> float:
    """C(s) of IV boluses with first-order elimination (superposition; a dose at s counts)."""
    k = math.log(2) / half_life
    return sum(dose * math.exp(-k * (s - t)) for t in dose_times if t <= s)


def hill(c: float, ec50: float, h: float) -> float:
    if c <= 0 or math.isinf(ec50):
        return 0.0
    x = (c / ec50) ** h
    return x / (1 + x)


def pk_rate(off: float, on: float, ec50: float, h: float, dose: float, doses, half_life):
    """rate(s) = off + (on - off) H(C(s)) as a function of time."""
    return lambda s: (
        off + (on - off) * hill(bolus_concentration(s, dose, doses, half_life), ec50, h)
    )


def integrate_rate(rate, t: float, breaks: list[float]) -> float:
    """Integral of a piecewise-smooth rate over [0, t] (breaks: its kinks, e.g. dose times)."""
    pts = [b for b in breaks if 0 < b < t]
    return integrate.quad(rate, 0, t, points=pts or None, limit=400)[0]


def bd_extinction_and_moments(birth, death, t: float, breaks: list[float]):
    """One ancestor of a time-inhomogeneous linear birth-death process (Kendall 1948).

    Returns P(N(t) = 0), E[N(t)] and Var[N(t)]: given N >= 1, N is geometric with success
    probability q = e^rho / W, so E[N^2] = (2 - q) / (W q^2).
    """
    pts = [b for b in breaks if 0 < b < t]

    def rho(s: float) -> float:
        if s <= 0:
            return 0.0
        inner = [b for b in pts if b < s]
        return integrate.quad(lambda u: death(u) - birth(u), 0, s, points=inner or None, limit=400)[
            0
        ]

    w = (
        1
        + integrate.quad(
            lambda s: death(s) * math.exp(rho(s)), 0, t, points=pts or None, limit=400
        )[0]
    )
    r = rho(t)
    q = math.exp(r) / w
    mean = math.exp(-r)
    second = (2 - q) / (w * q * q)
    return 1 - 1 / w, mean, second - mean * mean
