"""The bias of ``jump+density(midpoint)`` against exact SSA, for the presets with density
dependence scaled to N = 10^3 ... 10^5 cells (issue 17, item 6). Not a test: run it by hand,

    python benches/python/bench_jumps_density_bias.py [--sizes 1e3 1e4 1e5] [--replicates 2000]
    python benches/python/bench_jumps_density_bias.py --adaptive [--replicates 40000]

The presets' adaptive schedules and progression are refused by ``method="jump"``, so each model
runs under a fixed schedule:

- **greene**: ``greene2019_induced_resistance(alpha=0)`` (capacity on division, S -> R switching
  at eps), capacity K = N, S(0) = 0.01 K, off drug for 5 days, on for 10, off to day 20 (the
  tumour shrinks about 150-fold on drug, so small ones may die out, and regrows); eps scaled so that
  eps·K = 0.1 (ten times the preset's 1e-6 at K = 10^4, so that R appears in a fair share of
  runs);
- **zhang**: ``zhang2017_adaptive`` without its biomarker (competition on death, three states),
  every constant capacity and the initial counts scaled by N / 10^4, continuous drug for 400
  days. The resistant state is T-.

For each: exact SSA, jumps with every pool jumped (``jump_threshold=0``: the approximation at
its worst) and jumps at the default threshold (small pools exact), at the last record time: the
mean and variance of the total count, P(R = 0) and the extinction probability, each with a 95%
confidence interval (normal, from the sample's own SE; the variance's from its squared
deviations). Then a step-halving series (greene, N = 10^4, every pool jumped): the bias of the
mean against SSA for Δ = 4, 2, 1, 0.5 days and the ratio of successive biases (4 for a
second-order method, while the bias is above the SSA's own error). Since the midpoint's bias is
mostly below the SSA's error there, a second series shows the order where the noise is small: the
logistic example of docs/jumps.md scaled to K = 10^8 (2·10^6 cells, day 6, crowding quantum
10^-6 so that rounding does not mask it), the jump mean for Δ = 2 ... 0.125 days, the
differences of successive means (their ratio tends to 4 for a second-order method, whatever the
exact mean) and the distance to the mean-field (logistic) solution. One thread per run.

``--adaptive`` measures instead the model and rule of tests/test_jump_density_adaptive.py: one
type under a capacity on division (division 0.8 (1 − N/K), K = 1000, death 0.1 off drug and 0.6
on it), 20 cells, weekly visits that treat from 650 cells and stop at 300, 28 days: exact SSA
against jumps with every pool jumped at Δ = 1, 0.5 and 0.25 days and at the default threshold
(Δ = 0.5), the mean of N at day 28, the share on drug then, ``n_switches`` and
``time_on_drug``, each ± its 95% half-width, and each jump run's difference from SSA in
standard errors of the difference.
"""

import argparse
import math
import time
import warnings
from typing import Any

import dtp_gillespie as dg
import numpy as np

Z95 = 1.96


def greene(n: float) -> tuple[dict[str, Any], Any, dict[str, int], float, str]:
    spec = dg.presets.greene2019_induced_resistance(alpha=0.0, capacity=n).model
    eps = 0.1 / n
    spec = {**spec, "switch": [{"from": "S", "to": "R", "rate": eps}]}
    schedule = dg.Schedule.piecewise([(0.0, "off"), (5.0, "on"), (15.0, "off")])
    return spec, schedule, {"S": max(1, round(0.01 * n))}, 20.0, "R"


def zhang(n: float) -> tuple[dict[str, Any], Any, dict[str, int], float, str]:
    preset = dg.presets.zhang2017_adaptive(schedule="continuous")
    spec = {k: v for k, v in preset.model.items() if k != "biomarker"}
    scale = n / 1e4
    rows = {}
    for state, row in spec["competition"]["states"].items():
        k = row["K"]
        k = {e: v * scale for e, v in k.items()} if isinstance(k, dict) else k * scale
        rows[state] = {**row, "K": k}
    spec = {**spec, "competition": {**spec["competition"], "states": rows}}
    initial = {s: max(1, round(c * scale)) for s, c in preset.run["initial"].items()}
    return spec, preset.schedule, initial, 400.0, "T-"


PRESETS = {"greene": greene, "zhang": zhang}


def final(case: Any, n: int, seed: int, **options: Any) -> tuple[np.ndarray, np.ndarray]:
    """Total count and resistant count at t_end, per replicate."""
    spec, schedule, initial, t_end, resistant = case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.errors.CrowdingWarning)
        ds = dg.simulate(
            spec, schedule, initial=initial, t_end=t_end, n_replicates=n, seed=seed, n_threads=1,
            **options,
        )  # fmt: skip
    last = ds["count"].isel(time=-1)
    return last.sum("cell_state").to_numpy().astype(float), last.sel(
        cell_state=resistant
    ).to_numpy().astype(float)


def with_ci(x: np.ndarray) -> dict[str, tuple[float, float]]:
    """Mean, variance, P(R = 0), P(extinct), each with its 95% half-width."""
    total, resistant = x
    m = len(total)
    dev = (total - total.mean()) ** 2
    out = {
        "mean": (total.mean(), Z95 * total.std(ddof=1) / math.sqrt(m)),
        "var": (dev.mean() * m / (m - 1), Z95 * dev.std(ddof=1) / math.sqrt(m)),
    }
    for name, hits in (("P(R=0)", resistant == 0), ("P(extinct)", total == 0)):
        p = hits.mean()
        out[name] = (p, Z95 * math.sqrt(max(p * (1 - p), 1 / m) / m))
    return out


def fmt(value: tuple[float, float]) -> str:
    v, h = value
    return f"{v:.4g} ± {h:.2g}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=float, nargs="+", default=[1e3, 1e4, 1e5])
    p.add_argument("--replicates", type=int, default=2000)
    p.add_argument("--presets", nargs="+", default=list(PRESETS))
    p.add_argument("--no-series", action="store_true")
    p.add_argument("--adaptive", action="store_true")
    args = p.parse_args()
    n = args.replicates
    if args.adaptive:
        adaptive_bias(n)
        return
    methods = {
        "SSA": {},
        "jump, all pools jumped": {"method": "jump", "jump_threshold": 0.0},
        "jump, default threshold": {"method": "jump"},
    }
    print(f"| preset | N | statistic | {' | '.join(methods)} |")
    print(f"| --- | --- | --- | {' | '.join('---' for _ in methods)} |")
    for name in args.presets:
        for size in args.sizes:
            case = PRESETS[name](size)
            stats, seconds = {}, {}
            for seed, (label, options) in enumerate(methods.items(), start=1):
                t0 = time.process_time()
                stats[label] = with_ci(np.array(final(case, n, seed, **options)))
                seconds[label] = time.process_time() - t0
            for stat in ("mean", "var", "P(R=0)", "P(extinct)"):
                cells = " | ".join(fmt(stats[label][stat]) for label in methods)
                print(f"| {name} | {size:.0e} | {stat} | {cells} |")
            cpu = " | ".join(f"{seconds[label]:.1f}" for label in methods)
            print(f"| {name} | {size:.0e} | CPU-s ({n} replicates) | {cpu} |", flush=True)
    if args.no_series:
        return
    logistic_series(200)
    case = greene(1e4)
    truth = with_ci(np.array(final(case, 4 * n, 99)))["mean"]
    print(f"\nstep halving, greene N = 1e4, SSA mean {fmt(truth)} ({4 * n} replicates)")
    print("| step (days) | jump mean | bias | bias ratio to the next-smaller step |")
    print("| --- | --- | --- | --- |")
    rows = []
    for step in (4.0, 2.0, 1.0, 0.5):
        forced = {"method": "jump", "jump_threshold": 0.0, "jump_step": step}
        mean = with_ci(np.array(final(case, 4 * n, 100, **forced)))["mean"]
        rows.append((step, mean, (mean[0] - truth[0], math.hypot(mean[1], truth[1]))))
    for i, (step, mean, bias) in enumerate(rows):
        ratio = f"{bias[0] / rows[i + 1][2][0]:.2f}" if i + 1 < len(rows) else ""
        print(f"| {step} | {fmt(mean)} | {fmt(bias)} | {ratio} |")


def logistic_series(n: int) -> None:
    """The step-halving series at K = 10^8 (see the module docs)."""
    k, n0, t, r = 1e8, 2e6, 6.0, 0.7
    spec = {
        "states": ["N"],
        "exposures": ["off"],
        "division": {"N": 0.8},
        "death": {"N": 0.1},
        "capacity": {"K": k, "on": "death"},
    }
    ode = k / (1 + (k / n0 - 1) * math.exp(-r * t))
    print(f"\nstep halving, logistic K = 1e8, N0 = 2e6, day 6 ({n} replicates; ODE {ode:.6g})")
    print("| step (days) | jump mean | mean − previous step's | ratio | mean − ODE |")
    print("| --- | --- | --- | --- | --- |")
    previous: tuple[float, float] | None = None
    last_difference = math.nan
    for step in (2.0, 1.0, 0.5, 0.25, 0.125):
        ds = dg.simulate(
            spec, "off", initial={"N": round(n0)}, t_end=t, n_replicates=n, seed=7, n_threads=1,
            method="jump", jump_step=step, jump_density_quantum=1e-6,
        )  # fmt: skip
        x = ds["count"].isel(time=-1, cell_state=0).to_numpy().astype(float)
        mean = (float(x.mean()), Z95 * float(x.std(ddof=1)) / math.sqrt(n))
        if previous is None:
            cells = " | "
        else:
            diff = (mean[0] - previous[0], math.hypot(mean[1], previous[1]))
            ratio = last_difference / diff[0] if math.isfinite(last_difference) else math.nan
            cells = f"{fmt(diff)} | {ratio:.2f}"
            last_difference = diff[0]
        print(f"| {step} | {fmt(mean)} | {cells} | {mean[0] - ode:.4g} |", flush=True)
        previous = mean


def adaptive_bias(n: int) -> None:
    """The bias under visit-based adaptive rules (see the module docs)."""
    spec = {
        "states": ["N"],
        "exposures": ["off", "on"],
        "division": {"N": 0.8},
        "death": {"N": {"off": 0.1, "on": 0.6}},
        "capacity": {"K": 1000, "on": "division"},
    }
    rule = dg.Schedule.adaptive(
        reference="absolute", start="off", resume_above=650, stop_below=300, check_every=7.0
    )
    runs: dict[str, dict[str, Any]] = {"exact SSA": {}}
    for step in (1.0, 0.5, 0.25):
        runs[f"jump, all pools jumped, Δ = {step}"] = {
            "method": "jump", "jump_threshold": 0.0, "jump_step": step,
        }  # fmt: skip
    runs["jump, default threshold, Δ = 0.5"] = {"method": "jump"}
    names = ("N(28)", "on drug at 28", "n_switches", "time_on_drug")
    samples: dict[str, list[np.ndarray]] = {}
    print(f"adaptive rule on a density model, {n} replicates per run, one thread")
    print(f"| run | {' | '.join(f'`{x}`' if '_' in x else x for x in names)} | CPU-s |")
    print(f"| {' | '.join('---' for _ in range(len(names) + 2))} |")
    for seed, (label, options) in enumerate(runs.items(), start=11):
        t0 = time.process_time()
        ds = dg.simulate(
            spec, rule, initial={"N": 20}, t_end=28.0, times=[28.0], n_replicates=n, seed=seed,
            n_threads=1, **options,
        )  # fmt: skip
        cpu = time.process_time() - t0
        x = [
            ds["count"].isel(time=-1).sum("cell_state").to_numpy().astype(float),
            ds["exposure"].isel(time=-1).to_numpy().astype(float),
            ds["n_switches"].to_numpy().astype(float),
            ds["time_on_drug"].to_numpy(),
        ]
        samples[label] = x
        cells = []
        for a, b in zip(x, samples["exact SSA"], strict=True):
            se = Z95 * a.std(ddof=1) / math.sqrt(n)
            z = (a.mean() - b.mean()) / math.sqrt(a.var(ddof=1) / n + b.var(ddof=1) / n)
            cells.append(f"{a.mean():.4g} ± {se:.2g}" + ("" if a is b else f" (z = {z:+.1f})"))
        print(f"| {label} | {' | '.join(cells)} | {cpu:.1f} |", flush=True)


if __name__ == "__main__":
    main()
