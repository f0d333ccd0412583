"""Continuous vs intermittent vs adaptive dosing of the same tumour: time to progression.

A tumour of sensitive (S) cells, a few drug-tolerant persisters (P) and a small pre-existing
resistant clone (R, genetic) is treated for a year under three schedules:

- continuous dosing,
- 14 days on / 14 days off,
- Zhang-style adaptive therapy: treat until the burden falls to 50% of its value at treatment
  start, hold until it returns to 100% (continuous monitoring).

Progression is the first time the burden reaches twice its initial size (an absolute size: a
"2 × nadir" criterion would call every adaptive holiday a progression, since adaptive therapy lets
the burden regrow from 50% to 100%). Replicates stop at 4 × the initial size (max_population),
which keeps the run fast and does not affect the progression times. The script plots the fraction
of tumours not yet progressed over time (and a few burden trajectories) to a PNG and prints the
median time to progression of each schedule.

    pip install -e ".[examples]"
    python examples/compare_schedules.py            # 400 replicates
    python examples/compare_schedules.py --quick    # 40 replicates, a few seconds
"""

import argparse
import warnings

import dtp_gillespie as dg
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

MODEL = {
    "states": ["S", "P", {"name": "R", "genetic": True}],
    "exposures": ["off", "on"],
    "division": {"S": 0.06, "P": 0.01, "R": 0.05},
    "death": {"S": {"off": 0.01, "on": 0.12}, "P": 0.005, "R": 0.01},
    "switch": [
        {"from": "S", "to": "P", "rate": {"off": 0.001, "on": 0.02}},
        {"from": "P", "to": "S", "rate": {"off": 0.05, "on": 0.002}},
    ],
    "mutation": [{"from": "P", "to": "R", "probability": {"off": 1e-5, "on": 1e-4}}],
}
SCHEDULES = {
    "continuous": {"kind": "continuous", "exposure": "on"},
    "intermittent 14/14": {"kind": "intermittent", "on": 14, "off": 14},
    "adaptive 50%/100%": {
        "kind": "adaptive",
        "reference": "treatment_start",
        "stop_below": 0.5,
        "resume_above": 1.0,
        "check_every": 0,
    },
}
INITIAL = {"S": 5000, "P": 50, "R": 5}
T_END = 365.0
PROGRESSION_SIZE = 2 * sum(INITIAL.values())
STOP_SIZE = 4 * sum(INITIAL.values())


def survival_curve(progression_time: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Fraction of replicates not progressed by each time (NaN = never progressed)."""
    t = np.where(np.isnan(progression_time), np.inf, progression_time)
    return (t[None, :] > grid[:, None]).mean(axis=1)


def median_time(progression_time: np.ndarray) -> float:
    t = np.sort(np.where(np.isnan(progression_time), np.inf, progression_time))
    return float(t[(t.size - 1) // 2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="40 replicates (a few seconds)")
    parser.add_argument("--replicates", type=int, default=None)
    parser.add_argument("--out", default="compare_schedules.png")
    parser.add_argument("--seed", type=int, default=2025)
    args = parser.parse_args()
    n = args.replicates or (40 if args.quick else 400)

    fig, (ax_ttp, ax_burden) = plt.subplots(1, 2, figsize=(11, 4.2))
    grid = np.linspace(0, T_END, 366)
    for (name, schedule), color in zip(SCHEDULES.items(), ["C0", "C1", "C2"], strict=True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # replicates stopped at STOP_SIZE
            ds = dg.simulate(
                MODEL,
                schedule,
                initial=INITIAL,
                t_end=T_END,
                record_every=1.0,
                n_replicates=n,
                seed=args.seed,  # the same seed: common random numbers across schedules
                max_population=STOP_SIZE,
                progression={"size": PROGRESSION_SIZE},
            )
        ttp = ds["progression_time"].to_numpy()
        median = median_time(ttp)
        label = f"{name} (median {median:.0f} d)" if np.isfinite(median) else f"{name} (> 1 y)"
        print(
            f"{name:>20}: progressed {np.isfinite(ttp).mean():.2f}, median time to progression "
            f"{median:.1f} d, mean time on drug {ds['time_on_drug'].mean().item():.1f} d"
        )
        ax_ttp.step(grid, survival_curve(ttp, grid), where="post", color=color, label=label)
        burden = ds["count"].where(ds["count"] >= 0).sum("cell_state", min_count=1)
        for r in range(min(3, n)):
            ax_burden.plot(ds["time"], burden.isel(replicate=r), color=color, lw=0.8, alpha=0.8)
    ax_ttp.set(xlabel="time (days)", ylabel="fraction not progressed", ylim=(0, 1.02))
    ax_ttp.set_title("time to progression (burden ≥ 2 × initial)")
    ax_ttp.legend(fontsize=8)
    ax_burden.set(xlabel="time (days)", ylabel="cells", yscale="log")
    ax_burden.set_title("tumour burden, 3 replicates per schedule")
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
