"""The cost of ``method="jump"`` under pharmacokinetic dosing, against a fixed schedule. Not a
test: run it by hand,

    python benches/python/bench_jumps_pk.py [--replicates 100] [--repeats 3]

The model is the example at the top of docs/jumps.md (S, P and a resistant R reached by mutation
at 10^-7 per division), 10^9 S and 10^6 P cells, 28 days, recorded weekly, one thread. Under pk
dosing every step has its own time-dependent law (a Riccati solve and, for each jumped pool, an
offspring table by RK4 on the forward equation), built once per run before the replicates use
it; a run of one replicate costs about that build, and the rest is the replicates' own cost.
Printed: CPU seconds of whole ``dg.simulate`` runs (medians over the repeats) of one replicate
and of ``--replicates``, the cost per replicate from their difference, and the number of steps,
for a daily bolus (the drug always on), a bolus every 3.5 days with t½ 0.5 (the drug turns off
between doses: its crossings are grid points too), and the fixed 14-on/14-off schedule.
"""

import argparse
import statistics
import time
from typing import Any

import dtp_gillespie as dg
from bench_jumps_adaptive import MODEL


def seconds(schedule: dg.Schedule, run: dict[str, Any], n: int, repeats: int) -> float:
    """Median CPU seconds of a run of ``n`` replicates."""
    spent = []
    for repeat in range(repeats):
        start = time.process_time()
        dg.simulate(MODEL, schedule, seed=repeat + 1, n_replicates=n, **run)
        spent.append(time.process_time() - start)
    return statistics.median(spent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--replicates", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    run = {
        "initial": {"S": 10**9, "P": 10**6},
        "t_end": 28.0,
        "record_every": 7.0,
        "method": "jump",
        "n_threads": 1,
    }
    cases = {
        "pk, daily bolus": dg.Schedule.pk(dose=5.0, dose_every=1.0, half_life=1.0),
        "pk, every 3.5 days, t½ 0.5": dg.Schedule.pk(
            dose=20.0, dose_every=3.5, half_life=0.5, on_threshold=0.5
        ),
        "intermittent 14/14": dg.Schedule.intermittent(on=14, off=14),
    }
    print(f"| schedule | one replicate (CPU-s) | {args.replicates} replicates | per replicate |")
    print("| --- | --- | --- | --- |")
    for name, schedule in cases.items():
        one = seconds(schedule, run, 1, args.repeats)
        many = seconds(schedule, run, args.replicates, args.repeats)
        per = (many - one) / (args.replicates - 1)
        print(f"| {name} | {one:.2f} | {many:.2f} | {per * 1e3:.1f} ms |")


if __name__ == "__main__":
    main()
