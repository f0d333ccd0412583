"""Exact population jumps (``method="jump"``) at patient scale: the design note's 60-day
scenario without density dependence, and the cost from 10^6 to 10^11 cells. Not a test: run it
by hand,

    python benches/python/bench_jumps.py [--replicates 20] [--repeats 3]

The scenario: the Sharma-like preset's S/P rates plus a drug-insensitive resistant state R
(division 0.6, death 0.1), mutation at division S -> R and P -> R with probability 1e-7, no
capacity (so the tumour grows without bound off drug), the schedule 14 days on, 14 off, 14 on,
14 off, 4 on, 10^9 cells at the drug-free composition, records every day, one thread. Each
configuration runs ``--repeats`` times after one warm-up (which also builds the shared tables);
the median wall time is reported, per replicate and extrapolated to 1000 replicates. The table
building is timed separately (a run of one replicate with a fresh step length is dominated by it).
Then the same scenario from 10^6 to 10^11 initial cells, with the mutation probability as given
and with no mutation at all (the bulk cost alone: emitting lineages cost in proportion to the
number of mutation events).
"""

import argparse
import time
from typing import Any

import dtp_gillespie as dg
from bench_ensemble_scaling import _median as median_seconds

SCHEDULE = {
    "kind": "piecewise",
    "segments": [[0, "on"], [14, "off"], [28, "on"], [42, "off"], [56, "on"]],
}
# The preset's drug-free stationary composition (S = 99.498%, P = 0.502%).
P_SHARE = 502 / 100_000


def model(mu: float) -> dict[str, Any]:
    """The Sharma-like S/P model with a resistant state R reached by mutation at division."""
    spec = dg.presets.sharma2010_preexisting().model
    return {
        **spec,
        "states": ["S", "P", {"name": "R", "genetic": True}],
        "division": {**spec["division"], "R": 0.6},
        "death": {**spec["death"], "R": 0.1},
        "mutation": [
            {"from": "S", "to": "R", "probability": mu},
            {"from": "P", "to": "R", "probability": mu},
        ],
    }


def run(n0: float, mu: float, n: int, seed: int, step: float = 0.5) -> Any:
    p = round(n0 * P_SHARE)
    return dg.simulate(
        model(mu),
        SCHEDULE,
        initial={"S": round(n0) - p, "P": p},
        t_end=60.0,
        record_every=1.0,
        n_replicates=n,
        seed=seed,
        n_threads=1,
        method="jump",
        jump_step=step,
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--replicates", type=int, default=20)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    n, repeats = args.replicates, args.repeats

    t0 = time.perf_counter()
    one = run(1e9, 1e-7, 1, seed=1)
    print(f"one replicate including table building: {time.perf_counter() - t0:.3f} s")
    final = one["count"].isel(replicate=0, time=-1).to_numpy()
    print(
        f"  final S, P, R = {final.tolist()}; n_events simulated one by one = "
        f"{int(one['n_events'][0])}; first mutant at day {float(one['first_mutant_time'][0]):.3f}"
    )

    seconds = median_seconds(lambda: run(1e9, 1e-7, n, seed=2), repeats)
    print(
        f"scenario, 1e9 cells, mu 1e-7: {seconds / n * 1e3:.1f} ms per replicate, "
        f"{seconds / n * 1000:.1f} CPU-s per 1000 replicates (1 thread)"
    )

    print("cost growth (ms per replicate, 1 thread):")
    print(f"{'cells':>8} {'mu = 1e-7':>12} {'mu = 0':>12}")
    for exponent in range(6, 12):
        n0 = 10.0**exponent
        with_mu = median_seconds(lambda n0=n0: run(n0, 1e-7, n, seed=3), repeats)
        without = median_seconds(lambda n0=n0: run(n0, 0.0, n, seed=4), repeats)
        print(f"{'1e' + str(exponent):>8} {with_mu / n * 1e3:12.1f} {without / n * 1e3:12.1f}")


if __name__ == "__main__":
    main()
