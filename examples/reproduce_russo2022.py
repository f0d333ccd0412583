"""Continuous vs intermittent vs adaptive dosing of the Russo (2022) induced-mutator preset.

Russo, M. et al. (2022). A modified fluctuation-test framework characterizes the population
dynamics and mutation rate of colorectal cancer persister cells. Nature Genetics 54, 976-984.

The preset (``dg.presets.russo2022_induced_mutator``): sensitive cells (S) are induced by the
drug into slowly dividing persisters (P); under drug the persisters' mutation probability per
division is 20x higher (the paper's 7-50x, read per division: the default
``fold_applies_to="probability"``); resistant cells (R) arise by mutation at division of S and
P. Read per day instead (``"rate"``) the persisters mutate 22.5x more; the script prints the
expected number of mutations under continuous drug for both readings (at full size 0.067 and
1.23, of which persisters make 0.054 and 1.22). The
paper measures the persister mutation rate; it does not compare schedules, so there is no
published number for this comparison. What it motivates is the question this script answers:
does giving less drug (and so fewer drug-raised persister mutations) lower the probability of a
resistant clone, or do the sensitive cells that regrow during holidays make up for it?

Reproduced: the probability that a resistant cell arises by day 180 (``first_mutant_time`` <=
180) and that a resistant clone is present at day 180, with 95% Wilson intervals
(``dg.analysis.wilson_interval``), for 10^5 sensitive cells under

- continuous dosing;
- intermittent 14 days on / 14 off, the project's reference question; with this preset's rates it
  does not control the tumour (a 14-day holiday regrows S by e^(0.4 x 14) = 270x, more than the
  14 days on kill, e^(-0.35 x 14) = 1/134), so the burden doubles every cycle;
- intermittent 14 on / 7 off, the same drug pulses with holidays short enough that the tumour
  still shrinks (e^(2.8 - 4.9) per cycle), the sensible intermittent schedule for this preset;
- Zhang-style adaptive therapy: treat until the burden is at most 50% of its value at treatment
  start and hold until it is back to 100%, checked after every event (continuous monitoring),
  which keeps the tumour between 0.5 and 1 x 10^5 cells.

For the fixed schedules the table also gives 1 - exp(-Lambda), Lambda the expected number of
mutant divisions by day 180 from the mean matrix; it is an exact upper bound of the probability
(Jensen) and close to it when the populations that mutate are large.

Replicates stop when the tumour exceeds 200x its initial size (almost always a resistant clone
growing unchecked), which does not change whether a mutant arose. Under 14/14 the sensitive
cells alone regrow about 2-fold per cycle from a few surviving cells, so now and then (about 1 in
100 replicates at CI size) a tumour reaches the cap before any mutant: such a replicate is
counted in ``n_unknown`` and left out of the probabilities (their intervals use the known ones).

``--quick`` simulates 10^3 cells with every mutation probability 100x higher, so that the
expected number of mutations (cells x mutation probability) is the same as at full size, and
more replicates of the cheap schedules (6000 of continuous and of 14/7).

    python examples/reproduce_russo2022.py            # full size: about 15 minutes on 2 cores
    python examples/reproduce_russo2022.py --quick    # CI size: a few seconds
    python examples/reproduce_russo2022.py --quick --out russo.json
"""

import argparse
import copy
import itertools
import math
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import _reproduce
import dtp_gillespie as dg
import numpy as np

T_END = 180.0
CAP_FACTOR = 200
CAPPED_WARNING = r".*replicates stopped early"  # dg.simulate's warning about max_population
SCHEDULES: dict[str, dict[str, Any]] = {
    "continuous": {"kind": "continuous", "exposure": "on"},
    "intermittent 14/14": {"kind": "intermittent", "on": 14, "off": 14},
    "intermittent 14/7": {"kind": "intermittent", "on": 14, "off": 7},
    "adaptive 50%/100%": {
        "kind": "adaptive",
        "reference": "treatment_start",
        "stop_below": 0.5,
        "resume_above": 1.0,
        "check_every": 0,
    },
}
# Replicates per schedule: many where the probability is small and a replicate is cheap, few for
# 14/14, whose replicates are the most expensive (the tumour grows 64-fold) and almost all mutate.
FULL = {
    "initial": 100_000,
    "mutation_factor": 1.0,
    "replicates": {
        "continuous": 1000,
        "intermittent 14/14": 100,
        "intermittent 14/7": 1000,
        "adaptive 50%/100%": 200,
    },
}
# At CI size the claim "14/7 is below continuous" (probabilities about 0.064 and 0.035) is a
# one-sided two-proportion z-test at 3.29; 6000 replicates each give an expected z of 7.3, a
# power of 0.99997 (tests/test_reproductions.py has the calculation).
QUICK = {
    "initial": 1_000,
    "mutation_factor": 100.0,
    "replicates": {
        "continuous": 6000,
        "intermittent 14/14": 50,
        "intermittent 14/7": 6000,
        "adaptive 50%/100%": 200,
    },
}


def scaled_model(model: Mapping[str, Any], factor: float) -> dict[str, Any]:
    """A copy of ``model`` with every mutation probability multiplied by ``factor``."""
    out = copy.deepcopy(dict(model))
    for m in out.get("mutation", []):
        p = m["probability"]
        m["probability"] = (
            {e: float(v) * factor for e, v in p.items()}
            if isinstance(p, Mapping)
            else float(p) * factor
        )
    return out


# --- mean matrix: expected number of mutant divisions -------------------------------------------
def _augmented(model: Mapping[str, Any], exposure: str) -> np.ndarray:
    """Mean matrix of the mutant-free process plus a last row accumulating mutant divisions."""
    return _reproduce.mean_matrix(model, exposure, mutations_row=True)


def expected_mutations(
    model: Mapping[str, Any], schedule: Mapping[str, Any], initial: Mapping[str, int], t_end: float
) -> float:
    """Lambda: expected number of mutant divisions by ``t_end`` under a fixed schedule.

    In the process without mutant divisions (which is the process up to the first mutant) the
    counts' expectations follow the mean matrix exactly, so Lambda is exact and
    ``P(mutant by t_end) <= 1 - exp(-Lambda)``.
    """
    states = [s if isinstance(s, str) else s["name"] for s in model["states"]]
    sched = dg.Schedule.from_dict(dict(schedule))
    # Exposures are constant between the breakpoints of the compiled table (its segment starts,
    # repeated every period from the cycle start); read each piece's exposure at its midpoint.
    table = sched.compile(dg.Model.from_dict(dict(model)), t_end)
    starts = [float(t) for t in table["segment_start"]]
    breaks = {0.0, t_end, *starts}
    if table.get("cycle_start") is not None and table["period"] > 0:
        cycle = starts[table["cycle_start"] :]
        for k in range(1, math.ceil(t_end / table["period"]) + 1):
            breaks |= {t + k * table["period"] for t in cycle}
    breaks = sorted(t for t in breaks if 0.0 <= t <= t_end)
    x = np.zeros(len(states) + 1)
    for s, v in initial.items():
        x[states.index(s)] = float(v)
    mats: dict[str, np.ndarray] = {}
    for t0, t1 in itertools.pairwise(breaks):
        exposure = str(sched.exposure_at(np.array([0.5 * (t0 + t1)]))[0])
        key = f"{exposure}:{t1 - t0:.12g}"
        if key not in mats:
            mats[key] = _reproduce.expm(_augmented(model, exposure) * (t1 - t0))
        x = mats[key] @ x
    return float(x[-1])


def fold_readings(initial: int, mutation_factor: float) -> dict[str, dict[str, float]]:
    """Lambda and the bound 1 - exp(-Lambda) under continuous drug for both readings of the fold.

    ``fold_applies_to="probability"`` multiplies the persisters' mutation probability per
    division; ``"rate"`` their mutation rate per day (22.5x more mutations with this preset's
    slow persister division). Deterministic: the mean matrix only.
    """
    out = {}
    for reading in dg.presets.RUSSO_FOLD_READINGS:
        preset = dg.presets.russo2022_induced_mutator(fold_applies_to=reading)
        model = scaled_model(preset.model, mutation_factor)
        lam = expected_mutations(model, SCHEDULES["continuous"], {"S": initial}, T_END)
        out[reading] = {"expected_mutations": lam, "bound": 1.0 - math.exp(-lam)}
    return out


# --- the stochastic ensemble ---------------------------------------------------------------------
def resistance(
    model: Mapping[str, Any],
    schedule: Mapping[str, Any],
    initial: int,
    n: int,
    seed: "int | np.random.SeedSequence",
) -> dict[str, Any]:
    """Probability of a resistant cell by T_END and of a resistant clone at T_END, with CIs."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=CAPPED_WARNING, category=UserWarning)
        ds = dg.simulate(
            model,
            schedule,
            initial={"S": initial},
            t_end=T_END,
            n_replicates=n,
            seed=seed,
            max_population=CAP_FACTOR * initial,
        )
    first = ds["first_mutant_time"].to_numpy()
    status = ds["status"].to_numpy()
    capped = status == 3
    r_end = ds["count"].sel(cell_state="R").isel(time=-1).to_numpy()
    mutant = np.isfinite(first) & (first <= T_END)
    unknown = capped & ~mutant  # stopped at the cap before any mutant (rare; 14/14 only)
    present = (r_end > 0) | (capped & mutant)
    known = int(n - unknown.sum())
    k_mut, k_present = int(mutant.sum()), int(present.sum())
    lo, hi = dg.analysis.wilson_interval(k_mut, known)
    plo, phi = dg.analysis.wilson_interval(k_present, known)
    return {
        "n": n,
        "n_unknown": int(unknown.sum()),
        "n_capped": int(capped.sum()),
        "p_mutant": k_mut / known,
        "p_mutant_lower": float(lo),
        "p_mutant_upper": float(hi),
        "p_present": k_present / known,
        "p_present_lower": float(plo),
        "p_present_upper": float(phi),
        "mean_time_on_drug": float(ds["time_on_drug"].mean()),
    }


def z_against(result: Mapping[str, Any], p: float) -> float:
    """z-score of the observed mutant fraction against a probability ``p``."""
    n = result["n"] - result["n_unknown"]
    return (result["p_mutant"] - p) / math.sqrt(p * (1.0 - p) / n)


# --- main ----------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    return _reproduce.parse_args(
        argv,
        description=__doc__.splitlines()[0],
        seed=2022,
        quick_help="10^3 cells, mutation x100",
        replicates_help="per schedule (default: 50 to 6000 each)",
    )


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    started = time.perf_counter()
    size = QUICK if args.quick else FULL
    initial = int(size["initial"])
    model = scaled_model(dg.presets.russo2022_induced_mutator().model, size["mutation_factor"])
    print("Russo et al. 2022 induced-mutator preset: resistance by day 180")
    print(
        f"{initial} sensitive cells, mutation probabilities x{size['mutation_factor']:g}, "
        f"seed {args.seed}"
    )
    print(
        f"\n{'schedule':<20} {'n':>5} {'P(mutant by 180)':>17} {'95% CI':>16} {'P(R at 180)':>12} "
        f"{'95% CI':>16} {'1-exp(-Λ)':>10} {'capped':>7} {'days on drug':>13}"
    )
    results: dict[str, Any] = {
        "command": _reproduce.command(__file__, args),
        "initial": initial,
        "mutation_factor": size["mutation_factor"],
        "schedules": {},
    }
    for i, (name, schedule) in enumerate(SCHEDULES.items()):
        seed = np.random.SeedSequence(args.seed, spawn_key=(i,))
        n = args.replicates or size["replicates"][name]
        r = resistance(model, schedule, initial, n, seed)
        bound = math.nan
        if schedule["kind"] != "adaptive":
            lam = expected_mutations(model, schedule, {"S": initial}, T_END)
            bound = 1.0 - math.exp(-lam)
            r["expected_mutations"] = lam
        r["mean_field_bound"] = bound
        results["schedules"][name] = r
        ci = f"[{r['p_mutant_lower']:.3f}, {r['p_mutant_upper']:.3f}]"
        ci2 = f"[{r['p_present_lower']:.3f}, {r['p_present_upper']:.3f}]"
        mf = f"{bound:>10.3f}" if math.isfinite(bound) else f"{'-':>10}"
        print(
            f"{name:<20} {n:>5} {r['p_mutant']:>17.3f} {ci:>16} {r['p_present']:>12.3f} {ci2:>16} "
            f"{mf} {r['n_capped']:>7} {r['mean_time_on_drug']:>13.1f}"
        )
        if r["n_unknown"]:
            print(f"  ({r['n_unknown']} replicates reached the cap without a mutant: excluded)")
    readings = fold_readings(initial, size["mutation_factor"])
    results["fold_readings"] = readings
    print(
        "\nThe 7-50x fold read per division (the default) or per day, continuous drug: "
        + "; ".join(
            f"{k}: Λ = {v['expected_mutations']:.3f}, 1-exp(-Λ) = {v['bound']:.3f}"
            for k, v in readings.items()
        )
    )
    elapsed = time.perf_counter() - started
    results["seconds"] = elapsed
    print(
        "\nP(mutant by 180): a resistant cell arose by day 180; P(R at 180): a resistant clone is "
        "present at day 180 (a new clone dies out with probability 0.05/0.4). 1-exp(-Λ) is the "
        "mean-matrix bound for fixed schedules. capped: replicates stopped at "
        f"{CAP_FACTOR}x the initial burden (after a mutant); days on drug are counted to the "
        f"stop. {elapsed:.1f} s."
    )
    _reproduce.write_results(results, args.out)
    return results


if __name__ == "__main__":
    main()
