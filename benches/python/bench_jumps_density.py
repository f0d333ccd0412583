"""The design note's §6.8 scenario with density dependence: ``method="jump"`` as the labelled
approximation ``jump+density(midpoint)`` against an extrapolated exact-SSA cost. Not a test: run
it by hand,

    python benches/python/bench_jumps_density.py [--replicates 20 100] [--repeats 3]

The scenario: 10^9 cells at the drug-free composition of the Sharma-like preset (S/P rates as in
``bench_jumps.py``), a drug-insensitive resistant state R (division 0.6, death 0.1) reached by
mutation at division with probability 1e-7, logistic death at K = 10^9, the schedule 14 days on,
14 off, 14 on, 14 off, 4 on, records every day, one thread. The logistic death is
``capacity.on = "death_additive"`` with the slopes of the drug-free rates: death
``d + max(0, b − d_off) N/K``, exactly the logistic form off drug, and crowding only ever adds
death on drug. (The plain ``"death"`` form ``d + (b − d) N/K`` lowers S's death with crowding
under erlotinib, where ``d > b``: a tumour at K no longer shrinks on drug, and one above 4K/3
grows without bound; the model warns about it.)

CPU time (``time.process_time``, one engine thread) of whole runs of the two replicate counts
given, each the median of ``--repeats`` runs; a run's cost is a fixed part (building the tables,
once per run and per rounded crowding) plus a per-replicate part, solved from the two sizes and
extrapolated to 1000 replicates. Exact SSA: its events per CPU-second measured on a short window
of the same model at 10^9 cells, times the events of the scenario (the integral of the total
event rate along the mean-field path, by scipy).
"""

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import dtp_gillespie as dg
import numpy as np
from bench_jumps import P_SHARE, SCHEDULE
from bench_jumps import model as linear_model
from scipy import integrate

K = 1e9
T_END = 60.0


def model(mu: float = 1e-7, k: float = K) -> dict[str, Any]:
    """The §6.8 model: the bench_jumps model with logistic death at capacity ``k``."""
    return {**linear_model(mu), "capacity": {"K": k, "on": "death_additive", "slope": "off"}}


def initial(n0: float) -> dict[str, int]:
    p = round(n0 * P_SHARE)
    return {"S": round(n0) - p, "P": p}


def run(n: int, seed: int, **options: Any) -> Any:
    return dg.simulate(
        model(), SCHEDULE, initial=initial(K), t_end=T_END, record_every=1.0, n_replicates=n,
        seed=seed, n_threads=1, **options,
    )  # fmt: skip


def cpu_median(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return statistics.median(times)


def mean_field_events() -> float:
    """Events of one replicate along the mean-field path: ∫ Σ rate · cells dt (scipy)."""
    spec = model()
    k_sp, k_ps = (s["rate"] for s in spec["switch"])
    b = {"S": spec["division"]["S"], "P": spec["division"]["P"], "R": 0.6}

    def death(state: str, on: bool) -> float:
        d = spec["death"][state]
        return float(d["on" if on else "off"]) if isinstance(d, dict) else float(d)

    slope = {z: max(0.0, b[z] - death(z, on=False)) for z in b}

    def rhs(t: float, y: np.ndarray) -> np.ndarray:
        on = t < 14 or 28 <= t < 42 or t >= 56
        s, p, r, _ = y
        x = (s + p + r) / K
        rates = {z: (b[z], death(z, on) + slope[z] * x) for z in b}
        ds = (rates["S"][0] - rates["S"][1] - k_sp) * s + k_ps * p
        dp = (rates["P"][0] - rates["P"][1] - k_ps) * p + k_sp * s
        dr = (rates["R"][0] - rates["R"][1]) * r + 1e-7 * (b["S"] * s + b["P"] * p)
        total = sum((rates[z][0] + rates[z][1]) * n for z, n in zip("SPR", (s, p, r), strict=True))
        return np.array([ds, dp, dr, total + k_sp * s + k_ps * p])

    start = initial(K)
    y = np.array([start["S"], start["P"], 0.0, 0.0])
    for a, z in [(0, 14), (14, 28), (28, 42), (42, 56), (56, T_END)]:
        y = integrate.solve_ivp(rhs, (a, z), y, rtol=1e-8, atol=1.0).y[:, -1]
    return float(y[3])


def ssa_events_per_cpu_second(window: float) -> float:
    """Exact SSA's speed on this model at 10^9 cells (on drug, the scenario's first days)."""
    t0 = time.process_time()
    ds = dg.simulate(
        model(), SCHEDULE, initial=initial(K), t_end=window, n_replicates=1, seed=9, n_threads=1
    )
    seconds = time.process_time() - t0
    return float(ds["n_events"].sum()) / seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--replicates", type=int, nargs=2, default=[20, 100])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--quantum", type=float, default=1e-4)
    p.add_argument("--step", type=float, default=0.5)
    p.add_argument("--ssa-window", type=float, default=0.01, help="days of exact SSA timed")
    args = p.parse_args()
    options = {"method": "jump", "jump_step": args.step, "jump_density_quantum": args.quantum}

    probe = run(4, seed=1, **options)
    print(
        f"{probe.attrs['algorithm']}: step {args.step}, quantum {args.quantum}, "
        f"max_rate_change_per_step {probe.attrs['max_rate_change_per_step']:.3g}, "
        f"density_rate_error {probe.attrs['density_rate_error']:.2g}"
    )
    final = probe["count"].isel(time=-1).mean("replicate").to_numpy()
    print(f"  mean final S, P, R of 4 replicates: {final.round().tolist()}")

    small, large = args.replicates
    cost = {
        n: cpu_median(lambda n=n: run(n, seed=2, **options), args.repeats) for n in (small, large)
    }
    per_replicate = (cost[large] - cost[small]) / (large - small)
    fixed = max(cost[small] - small * per_replicate, 0.0)
    jump_1000 = fixed + 1000 * per_replicate
    print(
        f"CPU-s: {small} replicates {cost[small]:.2f}, {large} replicates {cost[large]:.2f} "
        f"(medians of {args.repeats}); fixed {fixed:.2f} s + {per_replicate * 1e3:.1f} ms per "
        f"replicate -> {jump_1000:.1f} CPU-s per 1000 replicates (extrapolated)"
    )

    events = mean_field_events()
    speed = ssa_events_per_cpu_second(args.ssa_window)
    ssa_1000 = 1000 * events / speed
    print(
        f"exact SSA: {events:.3g} events per replicate (mean-field integral), "
        f"{speed:.3g} events per CPU-s measured over {args.ssa_window} days -> "
        f"{ssa_1000 / 3600:.0f} CPU-hours per 1000 replicates (extrapolated); "
        f"ratio {ssa_1000 / jump_1000:.0f}"
    )


if __name__ == "__main__":
    main()
