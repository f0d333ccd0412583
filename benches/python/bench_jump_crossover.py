"""Cost against population size for exact SSA and exact jumps, the crossover size, and the
constants ``method="auto"`` decides with. Not a test: run it by hand,

    python benches/python/bench_jump_crossover.py [--replicates 20] [--repeats 3] [--calibrate]

Two scenarios, both the model of bench_jumps.py without mutation (the bulk cost; the
Sharma-like preset's S/P rates), records every day, one thread, cells at the drug-free
composition: the 60-day schedule of bench_jumps.py (14 days on / 14 off / 14 on / 14 off / 4 on)
from 10 to 10^11 cells, and two days off drug from 10 to 10^5 cells (where the crossover is
clear: every replicate costs about the mean, while in the 60-day schedule the rare replicates in
which the persisters regrow dominate small tumours' costs). Each
configuration is timed through the engine alone (``_core.simulate_ensemble`` on the prepared
run: no Dataset is built), ``--repeats`` times after one warm-up, and the median reported per
replicate. Exact SSA is measured while a
call costs at most ``--ssa-budget`` seconds; above that its cost is extrapolated linearly in the
population (the expected number of events is proportional to it in a linear model), and the
table says so. The table also gives auto's estimates (``dtp_gillespie._auto.estimate``) and its
choice at each size; the crossover is the smallest size at which auto picks jumps (bisection on
the size) and the measured one (where the measured curves cross, interpolated in log size).

``--calibrate`` measures the constants of ``dtp_gillespie._auto.CostModel`` instead (seconds
per SSA event, per event of a pool in the event regime, per jump step, per jumped pool and step,
per mutation event of a jumped pool, per state of an offspring table's box times its edge) and
prints them as the dataclass's defaults.
"""

import argparse
import math
from typing import Any

import dtp_gillespie as dg
import numpy as np
from bench_ensemble_scaling import _median as median_seconds
from bench_jumps import SCHEDULE, model
from dtp_gillespie import _auto, _core
from dtp_gillespie._options import Prepared, prepare

# The preset's drug-free stationary composition (S = 99.498%, P = 0.502%), as bench_jumps.py.
P_SHARE = 502 / 100_000


def initial(n0: float) -> dict[str, int]:
    p = round(n0 * P_SHARE)
    return {"S": round(n0) - p, "P": p}


SIXTY_DAYS: tuple[Any, float] = (SCHEDULE, 60.0)
"""The design note's schedule: small tumours' costs are dominated by rare replicates."""
TWO_DAYS_OFF: tuple[Any, float] = ("off", 2.0)
"""Two days of growth off drug: every replicate costs about the mean."""


def prepared(
    n0: float,
    mu: float,
    n: int,
    seed: int = 1,
    scenario: tuple[Any, float] = SIXTY_DAYS,
    **method: Any,
) -> Prepared:
    return prepare(
        model(mu),
        scenario[0],
        initial=initial(n0),
        t_end=scenario[1],
        record_every=1.0,
        n_replicates=n,
        seed=seed,
        n_threads=1,
        **method,
    )


def engine(prep: Prepared) -> dict[str, Any]:
    return _core.simulate_ensemble(prep.core_model, prep.core_schedule, prep.core_run)  # type: ignore[return-value]


def auto_estimate(prep: Prepared) -> _auto.Estimate:
    method = prep.core_run.get("method")
    run = prep.run_spec
    return _auto.estimate(
        prep.core_model,
        prep.core_schedule,
        initial=list(run["initial"].values()),
        times=prep.times,
        t_end=run["t_end"],
        step=run.get("jump_step") or 0.5,
        tolerance=run.get("jump_tolerance") or 1e-20,
        threshold=run.get("jump_threshold", 1000.0) if method else 1000.0,
        n_replicates=run["n_replicates"],
        max_population=run["max_population"],
    )


def auto_choice(n0: float, mu: float, n: int, scenario: tuple[Any, float] = SIXTY_DAYS) -> str:
    prep = prepared(n0, mu, n, scenario=scenario, method="auto")
    return "jump" if prep.core_run.get("method") == "jump" else "ssa"


def crossover_size(mu: float, n: int, scenario: tuple[Any, float]) -> float:
    """The smallest size (to 1%) at which auto picks jumps, by bisection in log size."""
    lo, hi = 1.0, 1e11
    if auto_choice(hi, mu, n, scenario) != "jump":
        return math.inf
    while hi / lo > 1.01:
        mid = math.sqrt(lo * hi)
        lo, hi = (lo, mid) if auto_choice(mid, mu, n, scenario) == "jump" else (mid, hi)
    return hi


def measured_crossover(rows: list[tuple[float, float, float]]) -> str:
    """Where SSA's cost passes the jumps' for good: between the last size at which SSA is the
    cheaper and the next (interpolated in log size)."""
    cheaper = [i for i, (_, ssa, jump) in enumerate(rows) if ssa <= jump]
    if not cheaper:
        return f"at or below {rows[0][0]:.3g} cells (jumps are already cheaper there)"
    i = cheaper[-1]
    if i + 1 == len(rows):
        return "above the largest size"
    (a, sa, ja), (b, sb, jb) = rows[i], rows[i + 1]
    ra, rb = math.log(sa / ja), math.log(sb / jb)
    size = math.exp(math.log(a) + (math.log(b) - math.log(a)) * ra / (ra - rb))
    return f"{size:.3g} cells (interpolated in log size)"


def table(args: argparse.Namespace, scenario: tuple[Any, float], sizes: list[float]) -> None:
    n, repeats = args.replicates, args.repeats
    print(
        f"\nschedule {scenario[0]!r}, t_end {scenario[1]} days; one thread; ms per replicate "
        f"(engine only, median of {repeats} after a warm-up; {n} replicates per call, 10^5/cells "
        "times more below 10^5 cells, at most 20 000; shared machine)"
    )
    header = f"{'cells':>7} {'ssa (ms)':>14} {'jump (ms)':>10} {'ratio':>9}"
    print(f"{header} {'auto est ssa':>13} {'auto est jump':>14} {'auto':>5}")
    ssa_per_cell = None
    rows = []
    for n0 in sizes:
        # Small tumours' event counts can be heavy-tailed (a few replicates regrow from P and
        # fire most of the events): more replicates there, so that the mean cost is measured.
        reps = max(n, min(20_000, round(n * 1e5 / n0)))
        est = auto_estimate(prepared(n0, 0.0, reps, scenario=scenario, method="auto"))
        if ssa_per_cell is None or ssa_per_cell * n0 * reps <= args.ssa_budget:
            ssa_prep = prepared(n0, 0.0, reps, scenario=scenario)
            ssa = median_seconds(lambda p=ssa_prep: engine(p), repeats) / reps
            ssa_per_cell = ssa / n0
            ssa_text = f"{ssa * 1e3:14.4g}"
        else:
            ssa = ssa_per_cell * n0  # linear extrapolation from the largest measured size
            ssa_text = f"{'~' + format(ssa * 1e3, '.4g') + ' (extr.)':>14}"
        jump_prep = prepared(n0, 0.0, reps, scenario=scenario, method="jump")
        jump = median_seconds(lambda p=jump_prep: engine(p), repeats) / reps
        rows.append((n0, ssa, jump))
        print(
            f"{n0:7.0e} {ssa_text} {jump * 1e3:10.4g} {ssa / jump:9.3g} "
            f"{est.ssa_seconds * 1e3:13.4g} {est.jump_seconds * 1e3:14.4g} "
            f"{auto_choice(n0, 0.0, reps, scenario):>5}"
        )
    print(f"measured crossover: {measured_crossover(rows)}")
    for mu in (0.0, 1e-7):
        size = crossover_size(mu, n, scenario)
        print(f"auto's crossover, mu = {mu:g}: {size:.3g} cells ({n} replicates)")


def calibrate(args: argparse.Namespace) -> None:
    n, repeats = args.replicates, args.repeats
    per_rep = lambda prep: median_seconds(lambda: engine(prep), repeats) / n  # noqa: E731

    ssa_prep = prepared(1e5, 0.0, n)
    events = float(np.mean(engine(ssa_prep)["n_events"]))
    ssa_event = per_rep(ssa_prep) / events

    # A pool of nothing: the jump grid's own cost per step (no cells ever change).
    still = {"states": ["N"], "exposures": ["off"], "division": {"N": 0.0}}
    still_prep = prepare(
        still, "off", initial={"N": 1}, t_end=600.0, record_every=1.0, n_replicates=n,
        seed=1, n_threads=1, method="jump", jump_step=0.5, jump_threshold=math.inf,
    )  # fmt: skip
    grid_step = per_rep(still_prep) / 1200

    free_prep = prepared(1e4, 0.0, n, method="jump", jump_threshold=math.inf)
    free_events = float(np.mean(engine(free_prep)["n_events"]))
    est = auto_estimate(free_prep)
    free_event = (per_rep(free_prep) - est.steps * grid_step) / free_events

    # A jumped pool's split grows slowly with its size (about 3 us at 10^2 cells, 8 at 10^9 and
    # 10 at 10^11): measured at 10^5 cells, the sizes near the crossover.
    jumped = prepared(1e5, 0.0, n, method="jump", jump_threshold=0.0)
    est = auto_estimate(jumped)
    pool_step = (per_rep(jumped) - est.steps * grid_step) / sum(est.jumped_steps)

    bulk_prep = prepared(1e9, 0.0, n, method="jump", jump_threshold=0.0)
    bulk = per_rep(bulk_prep)
    emitting = prepared(1e9, 1e-7, n, method="jump", jump_threshold=0.0)
    emission = (per_rep(emitting) - bulk) / auto_estimate(emitting).emissions

    # Tables: one replicate of 2-day steps (boxes of 17 020 states and edge 183), less the
    # per-replicate cost of the same run measured over n replicates.
    one = prepared(1e9, 0.0, 1, method="jump", jump_threshold=0.0, jump_step=2.0)
    many = prepared(1e9, 0.0, n, method="jump", jump_threshold=0.0, jump_step=2.0)
    work = auto_estimate(one).table_work
    table_work = (median_seconds(lambda: engine(one), repeats) - per_rep(many)) / work
    print("CostModel(")
    for name, value in [
        ("ssa_event", ssa_event),
        ("free_event", free_event),
        ("pool_step", pool_step),
        ("grid_step", grid_step),
        ("emission", emission),
        ("table_work", table_work),
    ]:
        print(f"    {name}={value:.2g},")
    print(")")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--replicates", type=int, default=20)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--ssa-budget", type=float, default=20.0, help="seconds per SSA call")
    p.add_argument("--calibrate", action="store_true", help="measure auto's cost constants")
    args = p.parse_args()
    print(f"dtp-gillespie {dg.__version__}")
    if args.calibrate:
        calibrate(args)
        return
    table(args, SIXTY_DAYS, [10.0**k for k in range(1, 12)])
    table(args, TWO_DAYS_OFF, [10.0 ** (k / 2) for k in range(2, 11)])


if __name__ == "__main__":
    main()
