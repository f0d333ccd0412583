"""Literature presets: ready-made model, schedule and run specs from published DTP studies.

Each function returns a :class:`Preset`, three plain dicts (``model``, ``schedule``, ``run``) that
you may edit freely before simulating, plus a :meth:`Preset.simulate` convenience::

    >>> import dtp_gillespie as dg
    >>> p = dg.presets.sharma2010_preexisting()
    >>> p.run["n_replicates"] = 100
    >>> ds = p.simulate(seed=1)  # doctest: +SKIP

Units everywhere are the engine's: time in days (rates per day), populations in cells. Each
docstring says which numbers come from the paper and which are illustrative choices needed to
make the model complete; treat the illustrative ones as placeholders to calibrate to your data.

Two presets are experiments rather than runs: :func:`sister_flasks_preexisting` and
:func:`sister_flasks_induced` return a :class:`ProtocolPreset` (model, named schedules, a
protocol and run options; ``p.simulate(seed=1)`` runs the protocol), the same barcoded
sister-flask experiment under a heritable pre-existing and a memoryless induced persister state.
"""

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ._checks import is_real, to_float
from ._sister_presets import ProtocolPreset, sister_flasks_induced, sister_flasks_preexisting
from .errors import InvalidModelError, InvalidScheduleError

__all__ = [
    "Preset",
    "ProtocolPreset",
    "greene2019_induced_resistance",
    "russo2022_induced_mutator",
    "sharma2010_preexisting",
    "sister_flasks_induced",
    "sister_flasks_preexisting",
    "zhang2017_adaptive",
]


@dataclass
class Preset:
    """A model spec, a schedule spec and run options (keyword arguments of ``dg.simulate``)."""

    model: dict[str, Any]
    schedule: dict[str, Any]
    run: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A deep copy as ``{"model": ..., "schedule": ..., "run": ...}``."""
        return copy.deepcopy({"model": self.model, "schedule": self.schedule, "run": self.run})

    def simulate(self, **overrides: Any) -> Any:
        """Run ``dg.simulate(model, schedule, **run)`` with ``overrides`` replacing run options."""
        from .simulate import simulate

        return simulate(self.model, self.schedule, **{**self.run, **overrides})


def _real(value: object, where: str, low: float, high: float = math.inf, note: str = "") -> float:
    """``value`` as a float: a real number (not a bool or a string), finite, in [low, high].

    Every numeric preset argument is a model parameter, so the error is an InvalidModelError that
    names the argument (``where``) and the value.
    """
    x = to_float(value) if is_real(value) else math.nan
    if not (math.isfinite(x) and low <= x <= high):
        bounds = f">= {low:g}" if high == math.inf else f"in [{low:g}, {high:g}]"
        raise InvalidModelError(
            f"{where} is {value!r}; it must be a finite real number {bounds}{note}"
        )
    return x


def _choice(
    value: object,
    where: str,
    choices: Sequence[str],
    error: type[InvalidModelError] | type[InvalidScheduleError] = InvalidScheduleError,
) -> str:
    """``value`` if it is one of the names ``choices``, else ``error`` naming ``where``."""
    if not (isinstance(value, str) and value in choices):
        raise error(f"{where} is {value!r}; expected one of {', '.join(choices)}")
    return value


# --- Sharma et al. 2010 ------------------------------------------------------------------------

# Calibrated rates (see sharma2010_preexisting): solved numerically with the mean-matrix method.
_SHARMA_K_SP = 0.004
_SHARMA_K_PS = 0.096


def sharma2010_preexisting() -> Preset:
    """PC9 cells under erlotinib with pre-existing, drug-independent persisters (Sharma 2010).

    Sharma, S. V. et al. (2010). A chromatin-mediated reversible drug-tolerant state in cancer
    cell subpopulations. Cell 141(1), 69-80. doi:10.1016/j.cell.2010.02.027

    States ``S`` (sensitive) and ``P`` (persister); exposures ``off`` and ``on`` (erlotinib).
    Switching S <-> P happens at the same rates with and without drug (the pre-existing /
    selection model: the drug only kills S). Units: days, cells.

    From the paper (published observations used as calibration targets):

    - about 0.3% of PC9 cells survive 9 days of continuous erlotinib;
    - after a drug holiday the persister fraction is back to its pre-treatment level after about
      9 population doublings (here: <= 2x the pre-treatment fraction within 9 doublings).

    Illustrative (not from the paper): S division 0.75/day and death 0.05/day off drug (net
    0.70/day, a doubling time of about 1 day, typical of PC9), S death 3.0/day on drug; P division
    and death 0.04/day (slow cycling, no net growth), the same on and off drug; 10^5 initial cells
    at the drug-free stationary composition; 9 days on, then a 9-day holiday.

    Calibrated: k_SP = 0.004/day and k_PS = 0.096/day, solved numerically (scipy fsolve on the
    mean matrix ``A = [[b_S - d_S - k_SP, k_PS], [k_SP, b_P - d_P - k_PS]]``, ``E[N(t)] =
    expm(A t) N0``; the exact root is k_SP = 0.003943, k_PS = 0.09543). With the rounded values:

    - drug-free Perron eigenvalue 0.6965/day (doubling time 0.995 days), Perron eigenvector
      (pre-treatment persister fraction) pi_P = 0.502%;
    - fraction of cells surviving 9 days of drug, from the stationary composition: 0.00303;
    - starting the holiday from the day-9 composition, the persister fraction falls to
      2 x pi_P after 8.93 days = 8.97 doublings (at 9 doublings it is 1.98 x pi_P).

    ``initial`` is the rounded Perron vector for 10^5 cells (S = 99498, P = 502).
    """
    model = {
        "states": ["S", "P"],
        "exposures": ["off", "on"],
        "division": {"S": 0.75, "P": 0.04},
        "death": {"S": {"off": 0.05, "on": 3.0}, "P": 0.04},
        "switch": [
            {"from": "S", "to": "P", "rate": _SHARMA_K_SP},
            {"from": "P", "to": "S", "rate": _SHARMA_K_PS},
        ],
    }
    schedule = {"kind": "piecewise", "segments": [[0, "on"], [9, "off"]]}
    run = {
        "initial": {"S": 99_498, "P": 502},
        "t_end": 18.0,
        "record_every": 1.0,
        "n_replicates": 100,
    }
    return Preset(model, schedule, run)


# --- Russo et al. 2022 -------------------------------------------------------------------------


# How ``fold`` is read: on the per-division mutation probability, or on the per-day mutation rate.
RUSSO_FOLD_READINGS = ("probability", "rate")
_RUSSO_MU = 1e-7  # base mutation probability per division (illustrative)
_RUSSO_DIVISION = {"S": 0.45, "P": 0.02, "R": 0.4}


def _russo_persister_probability(fold: float, fold_applies_to: str) -> float:
    """The P -> R mutation probability per persister division under drug, for either reading.

    ``"probability"``: ``fold`` x the base probability per division, ``fold * mu``.
    ``"rate"``: the persisters' mutation rate per unit time, ``p * b_P``, is ``fold`` x that of
    untreated sensitive cells, ``mu * b_S``; so ``p = fold * mu * b_S / b_P`` (22.5x the
    ``"probability"`` value with this preset's divisions 0.45 and 0.02 per day).
    """
    base = fold * _RUSSO_MU
    if fold_applies_to == "rate":
        return base * _RUSSO_DIVISION["S"] / _RUSSO_DIVISION["P"]
    return base


def russo2022_induced_mutator(fold: float = 20, fold_applies_to: str = "probability") -> Preset:
    """Colorectal persisters induced by targeted therapy, with drug-raised mutability (Russo 2022).

    Russo, M. et al. (2022). A modified fluctuation-test framework characterizes the population
    dynamics and mutation rate of colorectal cancer persister cells. Nature Genetics 54, 976-984.
    doi:10.1038/s41588-022-01105-z (see also Russo et al. 2019, Science 366, 1473-1480).

    States ``S`` (sensitive), ``P`` (persister) and ``R`` (genetically resistant); exposures
    ``off`` and ``on`` (targeted therapy, e.g. EGFR/BRAF inhibition). Units: days, cells.

    From the paper (qualitative structure and the fold range):

    - persisters are induced by the drug: S -> P only under drug (rate 0 off drug);
    - a fraction of persisters divides slowly under drug;
    - under drug the persister mutation rate rises ``fold``-fold, 7- to 50-fold (default 20).

    What the fold multiplies (``fold_applies_to``). The paper reports a 7-50x higher "mutation
    rate", estimated with a modified fluctuation test; in Luria-Delbrueck fluctuation analysis a
    mutation rate is a number of mutations per cell division, and the engine's ``mutation`` is
    exactly that, a probability per division. Read that way the fold multiplies the probability
    per division, ``p_P = fold * mu`` (``"probability"``, the default). Read as a rate per unit
    time (mutations per cell per day, which is what decides the number of mutants when
    persisters hardly divide), the persisters' rate ``p_P * b_P`` is ``fold`` x the untreated
    sensitive cells' rate ``mu * b_S``, so ``p_P = fold * mu * b_S / b_P`` (``"rate"``). With
    this preset's slow persister division (b_P = 0.02 vs b_S = 0.45 per day) the two differ
    22.5-fold, and so does the expected number of persister-derived mutants by day 180 (0.054
    vs 1.22 for 10^5 cells under continuous drug; ``examples/reproduce_russo2022.py`` prints
    both). The default keeps the fluctuation test's own unit (and gives the smaller number of
    mutants); choose ``"rate"`` when the fold you calibrate to is per unit time.

    Illustrative (not from the paper): S division 0.45/day, death 0.05/day off and 0.8/day on;
    S -> P 0.01/day on drug; P -> S 0.05/day off drug and 0 on drug; P division 0.02/day and
    death 0.01/day; R division 0.4/day and death 0.05/day under both exposures; base mutation
    probability per division mu = 1e-7 (S -> R, and P -> R off drug; P -> R on drug as above);
    10^5 sensitive cells, continuous drug for 180 days.

    Raises
    ------
    InvalidModelError
        If ``fold`` is not a finite real number in [7, 50], or ``fold_applies_to`` is not
        ``"probability"`` or ``"rate"``.
    """
    fn = "russo2022_induced_mutator"
    fold = _real(
        fold,
        f"{fn} fold",
        7,
        50,
        " (the 7-50x increase of the persister mutation rate under drug)",
    )
    reading = _choice(
        fold_applies_to, f"{fn} fold_applies_to", RUSSO_FOLD_READINGS, InvalidModelError
    )
    mu = _RUSSO_MU
    model = {
        "states": ["S", "P", {"name": "R", "genetic": True}],
        "exposures": ["off", "on"],
        "division": dict(_RUSSO_DIVISION),
        "death": {"S": {"off": 0.05, "on": 0.8}, "P": 0.01, "R": 0.05},
        "switch": [
            {"from": "S", "to": "P", "rate": {"off": 0.0, "on": 0.01}},
            {"from": "P", "to": "S", "rate": {"off": 0.05, "on": 0.0}},
        ],
        "mutation": [
            {"from": "S", "to": "R", "probability": mu},
            {
                "from": "P",
                "to": "R",
                "probability": {
                    "off": mu,
                    "on": _russo_persister_probability(fold, reading),
                },
            },
        ],
    }
    schedule = {"kind": "continuous", "exposure": "on"}
    run = {"initial": {"S": 100_000}, "t_end": 180.0, "record_every": 7.0, "n_replicates": 100}
    return Preset(model, schedule, run)


# --- Greene et al. 2019 ------------------------------------------------------------------------

_GREENE_SCHEDULES = ("continuous", "pulsed")
_GREENE_DOSE = 1.5
# The initial tumour, 0.01 x capacity cells, must fit the engine's 64-bit counts (< 9.2e18).
_GREENE_MAX_CAPACITY = 1e20


def greene2019_induced_resistance(
    alpha: float = 0.01, schedule: str = "continuous", capacity: float = 10_000
) -> Preset:
    """Spontaneous and drug-induced resistance with logistic growth (Greene et al. 2019).

    Greene, J. M., Gevertz, J. L. and Sontag, E. D. (2019). Mathematical approach to
    differentiate spontaneous and induced evolution to drug resistance during cancer treatment.
    JCO Clinical Cancer Informatics 3, 1-20. doi:10.1200/CCI.18.00087

    The model (the paper's ODE in units of the capacity, u(t) the dose; also BioModels
    BIOMD0000000825)::

        dS/dt = (1 - (S + R)) S - eps S - alpha u(t) S - d u(t) S
        dR/dt = p_r (1 - (S + R)) R + eps S + alpha u(t) S

    simulated as a stochastic process with capacity ``K = capacity`` cells acting on division:
    S divides at 1 x (1 - N/K), R at p_r x (1 - N/K), S dies at d x u, S switches to R
    (irreversibly, ``R`` is genetic) at eps + alpha x u. Exposure ``off`` is u = 0 and ``on`` is
    u = 1.5. Time is in units of 1/(S growth rate), reported as days by the engine.

    From the paper (the same values as its BioModels curation): eps = 1e-6, alpha per unit dose
    (0.01 default; 0 for purely spontaneous resistance), d = 1, p_r = 0.2, dose u = 1.5,
    S(0) = 0.01 K and R(0) = 0, treatment starts at detection (burden 0.1 K), failure
    (``progression``) at burden 0.9 K; continuous therapy versus pulsed therapy, 1 time unit on
    and 3 off from detection.

    Illustrative: ``capacity`` (default 10^4 cells; the ODE is the K -> infinity limit),
    ``t_end`` = 200, no death off drug.

    Schedules: both are adaptive with ``start = {detect = 0.1 K}``. ``"continuous"`` then never
    stops (``stop_below = 0``: only an extinct tumour stops treatment); ``"pulsed"`` uses a rule
    list of ``after`` timers that apply only after treatment started (on -> off after 1, off -> on
    after 3).

    Validation (``examples/reproduce_greene2019.py``): the deterministic limit of these rates,
    time from detection to failure, is 87.27 (alpha = 0) and 42.30 (alpha = 0.01) for continuous
    and 11.99 and 58.97 for pulsed therapy, the published 87.3, 42.3, 12.0 and 59.0. The
    stochastic ensemble converges to them as K grows, but slowly in two cases: with alpha = 0
    and continuous therapy, failure needs a resistant cell (about 1e-7 K of them at detection in
    the ODE), so most tumours are cured unless K is of order 1e7 or more; and pulsed therapy puts
    the tumour on a periodic orbit that peaks at 0.9045 K (alpha = 0) and 0.897 K
    (alpha = 0.01), within 0.5% of the failure size, so below K of about 1e5 demographic noise
    decides on which cycle a tumour fails.

    Raises
    ------
    InvalidModelError
        If ``alpha`` is not a real number in [0, 1e300] or ``capacity`` not one in [100, 1e20].
    InvalidScheduleError
        For an unknown ``schedule``.
    """
    fn = "greene2019_induced_resistance"
    alpha = _real(
        alpha,
        f"{fn} alpha",
        0,
        1e300,
        f" (per unit dose; the induced switching rate alpha x dose {_GREENE_DOSE:g} is a rate)",
    )
    schedule = _choice(schedule, f"{fn} schedule", _GREENE_SCHEDULES)
    k = _real(
        capacity,
        f"{fn} capacity",
        100,
        _GREENE_MAX_CAPACITY,
        " (cells; the initial tumour is 0.01 x capacity cells)",
    )
    eps, d, p_r, dose = 1e-6, 1.0, 0.2, _GREENE_DOSE
    model = {
        "states": ["S", {"name": "R", "genetic": True}],
        "exposures": ["off", "on"],
        "division": {"S": 1.0, "R": p_r},
        "death": {"S": {"off": 0.0, "on": d * dose}, "R": 0.0},
        "switch": [{"from": "S", "to": "R", "rate": {"off": eps, "on": eps + alpha * dose}}],
        "capacity": {"K": k, "on": "division"},
    }
    detect = {"detect": 0.1 * k}
    if schedule == "continuous":
        sched: dict[str, Any] = {
            "kind": "adaptive",
            "start": detect,
            "stop_below": 0.0,
            "resume_above": 1.0,
        }
    else:
        sched = {
            "kind": "adaptive",
            "start": detect,
            "rules": [
                {"from": "on", "to": "off", "after": 1.0, "phase": "after_treatment"},
                {"from": "off", "to": "on", "after": 3.0, "phase": "after_treatment"},
            ],
        }
    run = {
        "initial": {"S": max(1, round(0.01 * k))},
        "t_end": 200.0,
        "record_every": 1.0,
        "n_replicates": 100,
        "progression": {"size": 0.9 * k},
    }
    return Preset(model, schedule=sched, run=run)


# --- Zhang et al. 2017 -------------------------------------------------------------------------

_ZHANG_SCHEDULES = ("adaptive", "continuous")
# Published (see zhang2017_adaptive): intrinsic growth rates per day of T+, TP and T-.
ZHANG_GROWTH = {"T+": 2.7726e-3, "TP": 3.4657e-3, "T-": 6.6542e-3}
# Published: competition coefficients alpha[i][j], the effect of j on i (diagonal 1).
ZHANG_ALPHA = {
    "T+": {"T+": 1.0, "TP": 0.7, "T-": 0.8},
    "TP": {"T+": 0.4, "TP": 1.0, "T-": 0.5},
    "T-": {"T+": 0.6, "TP": 0.9, "T-": 1.0},
}


def zhang2017_adaptive(schedule: str = "adaptive") -> Preset:
    """Adaptive vs continuous abiraterone in metastatic castrate-resistant prostate cancer.

    Zhang, J., Cunningham, J. J., Brown, J. S. and Gatenby, R. A. (2017). Integrating
    evolutionary dynamics into treatment of metastatic castrate-resistant prostate cancer.
    Nature Communications 8, 1816. doi:10.1038/s41467-017-01968-5

    Three competing cancer "species" (Lotka–Volterra): ``T+`` (testosterone-dependent, needs the
    testosterone made by TP cells), ``TP`` (testosterone-producing, CYP17A-dependent, the target
    of abiraterone) and ``T-`` (testosterone-independent, resistant). Exposures ``off`` and
    ``on`` (abiraterone). The paper's ODE is

        dx_i/dt = r_i x_i (1 - sum_j alpha_ij x_j / K_i),

    simulated here as a birth–death process with competition on death: each cell of state i
    divides at r_i and dies at r_i x_i, ``x_i = sum_j alpha_ij n_j / K_i`` (so the mean growth is
    the paper's r_i n_i (1 - x_i), below and above capacity). PSA: ``dPSA/dt = sum_i n_i -
    0.5 PSA``, starting at its steady state. Units: days, cells, PSA in cell-days (1 unit per
    cell per day).

    From the paper (Methods; numbers as used in its simulations and in code that re-implements
    them, since the full text was not available to check every value):

    - growth rates r = 2.7726e-3 (T+), 3.4657e-3 (TP), 6.6542e-3 (T-) per day (doubling times
      250, 200 and 104 days);
    - carrying capacities K_TP = 10,000 (100 under abiraterone), K_T- = 10,000, and
      K_T+ = 1.5 x TP (0.5 x TP under abiraterone): T+ cells live on the testosterone of TP cells;
    - PSA made in proportion to the cells (1 per cell per day) and cleared at 0.5 per day;
    - adaptive rule: treat until PSA <= 50% of its value at treatment start, hold until it is
      back to 100%; versus continuous abiraterone;
    - the competition matrix (rows: affected T+, TP, T-) [[1, 0.7, 0.8], [0.4, 1, 0.5],
      [0.6, 0.9, 1]], as re-implementations give one of the paper's matrices (the paper varies
      the off-diagonal coefficients between virtual patients; not checked against its full
      text); with it T- is competitively excluded without drug.

    Illustrative (not from the paper):

    - K_T+ = 1 + 1.5 x TP (1 + 0.5 x TP on drug): the constant 1 keeps the T+ death rate finite
      when TP goes extinct (it does, under continuous abiraterone), which the ODE never reaches;
    - the initial tumour: T+ and TP at 80% of their drug-free equilibrium (4849 and 6061 cells,
      the equilibrium being 6061 and 7576) with 10 T- cells, PSA at steady state. Below
      equilibrium the PSA can climb back to its treatment-start value, so the adaptive rule
      cycles;
    - progression (time to progression, ``progression_time``): the resistant population T-
      reaches 5000 cells (half its capacity), when the tumour is no longer controlled by
      abiraterone;
    - ``t_end`` = 3650 days.

    What it reproduces, and what it does not (``examples/reproduce_zhang2017.py`` prints this
    comparison, computed from the ODE limit). The paper's outcome numbers are clinical results of
    its pilot trial: median time to progression about 16.5 months with standard dosing against
    at least 27 months with the adaptive rule (10 of 11 patients cycling), on 47% of the standard
    cumulative dose. In the ODE limit (RK4) this preset progresses at 1059 days (34.8 months)
    under continuous abiraterone and 2218 days (72.9 months) under the adaptive rule; the exact
    stochastic medians (400 replicates) are 1064 and 2241 days.

    - Reproduced: adaptive therapy delays progression, by a ratio of 2.09 where the trial's is
      at least 27 / 16.5 = 1.64; the adaptive time is above the trial's lower bound of 27 months.
    - Not reproduced: the standard-dosing time (34.8 months, not 16.5) and the cumulative dose
      (the adaptive arm is on drug 1.8% of the time, not 47%; each course lasts about 10 days,
      the trial's months).

    Why: the trial's numbers are outcomes of patients, not of one parameter set (the paper varies
    the competition coefficients between virtual patients), and the full text's Methods and
    supplement could not be checked here, so nothing in this preset is calibrated to them. The
    absolute times follow from the slow published growth rates and the illustrative initial
    tumour and progression size; the short courses from cutting the TP capacity 100-fold at
    once, which kills TP cells at about 0.26/day and halves the PSA within days. Public
    re-implementations differ exactly there: Cunningham's MATLAB code of the same three-population
    game (github.com/cunninghamjj/Applying-evolutionary-principles-to-optimize-control-of-mcrpc)
    steps in discrete time, clears PSA at 0.2 per step, lowers the TP capacity and the T+ support
    gradually (exponentially, at 0.05 and 0.1 per step) and uses other matrices, e.g.
    [[1, 0.402, 0.794], [0.010, 1, 0.598], [0.206, 0.990, 1]]. Treat the absolute times and doses
    as placeholders to calibrate to your data; the qualitative result (adaptive therapy about
    doubles the time to progression) is what the preset carries.

    Parameters
    ----------
    schedule : {"adaptive", "continuous"}
        The adaptive PSA rule (monitoring the biomarker continuously: it switches at the exact
        crossing times) or continuous abiraterone.

    Raises
    ------
    InvalidScheduleError
        For an unknown schedule.
    """
    schedule = _choice(schedule, "zhang2017_adaptive schedule", _ZHANG_SCHEDULES)
    model = {
        "states": ["T+", "TP", "T-"],
        "exposures": ["off", "on"],
        "division": dict(ZHANG_GROWTH),
        "death": {"T+": 0.0, "TP": 0.0, "T-": 0.0},
        "competition": {
            "on": "death",
            "states": {
                "T+": {
                    "K": 1.0,
                    "K_per_cell": {"TP": {"off": 1.5, "on": 0.5}},
                    "alpha": dict(ZHANG_ALPHA["T+"]),
                },
                "TP": {"K": {"off": 10_000.0, "on": 100.0}, "alpha": dict(ZHANG_ALPHA["TP"])},
                "T-": {"K": 10_000.0, "alpha": dict(ZHANG_ALPHA["T-"])},
            },
        },
        "biomarker": {
            "name": "PSA",
            "units": "cell-day",
            "production": {"T+": 1.0, "TP": 1.0, "T-": 1.0},
            "decay": 0.5,
            "initial": "steady",
        },
    }
    if schedule == "adaptive":
        sched: dict[str, Any] = {
            "kind": "adaptive",
            "on": "on",
            "off": "off",
            "monitor": "biomarker",
            "reference": "treatment_start",
            "stop_below": 0.5,
            "resume_above": 1.0,
            "check_every": 0.0,
            "start": "on",
        }
    else:
        sched = {"kind": "continuous", "exposure": "on"}
    run = {
        "initial": {"T+": 4849, "TP": 6061, "T-": 10},
        "t_end": 3650.0,
        "record_every": 10.0,
        "n_replicates": 100,
        "progression": {"size": 5000.0, "monitor": ["T-"]},
    }
    return Preset(model, schedule=sched, run=run)
