"""The cost of ``method="jump"`` under adaptive rules checked at visits, against a fixed schedule.
Not a test: run it by hand,

    python benches/python/bench_jumps_adaptive.py [--replicates 100] [--repeats 3]

The model is the example at the top of docs/jumps.md (S, P and a resistant R reached by mutation
at 10^-7 per division), 10^9 S and 10^6 P cells, 28 days, recorded weekly, one thread: CPU
seconds of whole ``dg.simulate`` runs (medians over the repeats) under a fixed 14-on/14-off
schedule and under the two-level adaptive rule (stop at half the burden at treatment start,
resume at the full burden) with visits every 7, 1 and 0.3 days, with the mean number of switches
and the mean final total.
"""

import argparse
import statistics
import time
from typing import Any

import dtp_gillespie as dg

MODEL: dict[str, Any] = {
    "states": ["S", "P", {"name": "R", "genetic": True}],
    "exposures": ["off", "on"],
    "division": {"S": 0.7, "P": 0.1, "R": 0.3},
    "death": {"S": {"off": 0.1, "on": 1.0}, "P": 0.05, "R": 0.2},
    "switch": [
        {"from": "S", "to": "P", "rate": {"off": 0.01, "on": 0.1}},
        {"from": "P", "to": "S", "rate": {"off": 0.2, "on": 0.02}},
    ],
    "mutation": [
        {"from": "S", "to": "R", "probability": 1e-7},
        {"from": "P", "to": "R", "probability": 1e-7},
    ],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--replicates", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    run = {
        "initial": {"S": 10**9, "P": 10**6},
        "t_end": 28.0,
        "record_every": 7.0,
        "n_replicates": args.replicates,
        "method": "jump",
        "n_threads": 1,
    }
    cases = {
        "intermittent 14/14": dg.Schedule.intermittent(on=14, off=14),
        **{
            f"adaptive, visits every {every:g} days": dg.Schedule.adaptive(
                stop_below=0.5, resume_above=1.0, check_every=every
            )
            for every in (7.0, 1.0, 0.3)
        },
    }
    print("| schedule | CPU-s | mean switches | mean final total |")
    print("| --- | --- | --- | --- |")
    for name, schedule in cases.items():
        seconds = []
        for repeat in range(args.repeats):
            start = time.process_time()
            ds = dg.simulate(MODEL, schedule, seed=repeat + 1, **run)
            seconds.append(time.process_time() - start)
        switches = float(ds["n_switches"].mean())
        final = float(ds["count"].isel(time=-1).sum("cell_state").mean())
        print(f"| {name} | {statistics.median(seconds):.3f} | {switches:.2f} | {final:.3g} |")


if __name__ == "__main__":
    main()
