"""The bias of ``jump+monitor(step)`` against exact SSA: adaptive rules with continuous
monitoring (``check_every = 0``), which jumps read only at the end of every step. Not a test: run
it by hand,

    python benches/python/bench_jumps_monitor_bias.py [--cells 1e4] [--replicates 1000]

The model is the S/P example of docs/jumps.md without mutation (S divides at 0.7 and dies at 0.1
off drug, 1.0 on it; S -> P at 0.01 off, 0.1 on; P -> S at 0.2 off, 0.02 on), started with
``--cells`` S cells under the two-level rule: treat, stop when the burden falls to half the
burden at treatment start, resume when it regains it (``stop_below=0.5, resume_above=1.0``),
monitored continuously, for 28 days. Exact SSA against jumps at ``jump_step`` = 1, 0.5, 0.25,
0.1 and 0.02 days (Δ_min) at the default threshold, one thread each: the mean number of
switches, the mean time on drug and the mean total count at day 28, each with its 95% confidence
half-width.
"""

import argparse
import math
import time
from typing import Any

import dtp_gillespie as dg

MODEL: dict[str, Any] = {
    "states": ["S", "P"],
    "exposures": ["off", "on"],
    "division": {"S": 0.7, "P": 0.1},
    "death": {"S": {"off": 0.1, "on": 1.0}, "P": 0.05},
    "switch": [
        {"from": "S", "to": "P", "rate": {"off": 0.01, "on": 0.1}},
        {"from": "P", "to": "S", "rate": {"off": 0.2, "on": 0.02}},
    ],
}
SCHEDULE = dg.Schedule.adaptive(stop_below=0.5, resume_above=1.0)


def summary(ds: Any) -> dict[str, tuple[float, float]]:
    """Mean and 95% half-width of the switches, the time on drug and the final total."""
    out = {}
    values = {
        "n_switches": ds["n_switches"].to_numpy().astype(float),
        "time_on_drug": ds["time_on_drug"].to_numpy(),
        "N(28)": ds["count"].isel(time=-1).sum("cell_state").to_numpy().astype(float),
    }
    for name, x in values.items():
        out[name] = (float(x.mean()), 1.96 * float(x.std(ddof=1)) / math.sqrt(len(x)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cells", type=float, default=1e4)
    parser.add_argument("--replicates", type=int, default=1000)
    args = parser.parse_args()
    run = {
        "initial": {"S": int(args.cells)},
        "t_end": 28.0,
        "record_every": 7.0,
        "n_replicates": args.replicates,
        "n_threads": 1,
    }
    rows = [("exact SSA", {"seed": 1})]
    rows += [
        (f"jump, Δ_min = {d:g}", {"seed": 2, "method": "jump", "jump_step": d})
        for d in (1.0, 0.5, 0.25, 0.1, 0.02)
    ]
    print("| run | n_switches | time_on_drug | N(28) | CPU-s |")
    print("| --- | --- | --- | --- | --- |")
    for label, options in rows:
        start = time.process_time()
        ds = dg.simulate(MODEL, SCHEDULE, **run, **options)
        seconds = time.process_time() - start
        cells = " | ".join(f"{m:.4g} ± {h:.2g}" for m, h in summary(ds).values())
        print(f"| {label} | {cells} | {seconds:.2f} |", flush=True)


if __name__ == "__main__":
    main()
