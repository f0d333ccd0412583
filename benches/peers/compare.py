"""Side-by-side benchmark of dtp-gillespie against rebop and GillesPy2 (SSACSolver, C++ SSA).

Runs the canonical S/P/R model of benches/bench-model.toml in the three engines on the four
benchmark cases (a)-(d), reports median wall seconds, events/s, replicates/s and throughput ratios,
then checks that the engines agree in distribution (two-sample Kolmogorov-Smirnov tests on final
counts per state) and that the ensemble means of (c) and (d) match the exact means in
bench-model.toml (z-scores). Prints markdown tables and writes them to benches/peers/results.md.
Not a test and not a dependency of the package: install benches/peers/requirements.txt, then

    python benches/peers/compare.py [--repeats 3] [--quick] [--out benches/peers/results.md]

See benches/peers/README.md for what each case is and how the peers do drug schedules.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import time
import tomllib
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from importlib.util import find_spec
from pathlib import Path

import dtp_gillespie as dg
import gillespy2
import numpy as np
import rebop
import scipy
from scipy.stats import ks_2samp

HERE = Path(__file__).resolve().parent
MODEL_TOML = HERE.parent / "bench-model.toml"
TOML_TEXT = MODEL_TOML.read_text()
SPEC = tomllib.loads(TOML_TEXT)
MODEL = dg.Model.from_dict(SPEC["model"])
STATES = ("S", "P", "R")
ALPHA = 0.001
Z_CRIT = 3.2905  # two-sided normal quantile at ALPHA
INTERMITTENT = {"kind": "intermittent", "on": 14, "off": 14}
PERIOD = 14.0  # days per on or off phase of INTERMITTENT

# ---------------------------------------------------------------------------------------------
# The model as ten first-order reactions, read from the comment of bench-model.toml and checked
# against the dtp-gillespie spec (division with mutation probability p at rate b is the pair of
# reactions X->2X at b(1-p) and X->X+R at b p).
# ---------------------------------------------------------------------------------------------

Reaction = tuple[str, tuple[str, ...]]  # (reactant, products)
NUMBER = r"([0-9](?:[0-9.e+-]*[0-9])?)"  # a number in the comment, not its trailing full stop


def _parse_products(text: str) -> tuple[str, ...]:
    if text == "0":
        return ()
    products: list[str] = []
    for term in text.split("+"):
        match = re.fullmatch(r"(\d*)([A-Za-z]\w*)", term)
        if match is None:
            raise ValueError(f"cannot parse product {term!r} in {MODEL_TOML}")
        products += [match[2]] * int(match[1] or 1)
    return tuple(products)


def read_reactions() -> tuple[list[Reaction], dict[str, list[float]]]:
    """The ten reactions and their rates per exposure ({'on': [...], 'off': [...]})."""
    pattern = re.compile(rf"(\w)->(\S+) {NUMBER}/{NUMBER}")
    comment = "\n".join(line for line in TOML_TEXT.splitlines() if line.startswith("#"))
    reactions: list[Reaction] = []
    rates: dict[str, list[float]] = {"on": [], "off": []}
    for reactant, products, on, off in pattern.findall(comment):
        reactions.append((reactant, _parse_products(products)))
        rates["on"].append(float(on))
        rates["off"].append(float(off))
    if len(reactions) != 10:
        raise ValueError(f"expected ten reactions with ON/OFF rates in {MODEL_TOML}")
    _check_against_spec(reactions, rates)
    return reactions, rates


def _check_against_spec(reactions: list[Reaction], rates: dict[str, list[float]]) -> None:
    spec = SPEC["model"]

    def value(rate: float | dict[str, float], exposure: str) -> float:
        return rate[exposure] if isinstance(rate, dict) else rate

    for exposure, values in rates.items():
        expected: dict[Reaction, float] = {}
        for x in STATES:
            b = value(spec["division"][x], exposure)
            mutations = [m for m in spec["mutation"] if m["from"] == x]
            p = sum(value(m["probability"], exposure) for m in mutations)
            expected[(x, (x, x))] = b * (1 - p)
            for m in mutations:
                expected[(x, (x, m["to"]))] = b * value(m["probability"], exposure)
            expected[(x, ())] = value(spec["death"][x], exposure)
        for s in spec["switch"]:
            expected[(s["from"], (s["to"],))] = value(s["rate"], exposure)
        for reaction, rate in zip(reactions, values, strict=True):
            want = expected.get(reaction, 0.0)
            if not np.isclose(rate, want, rtol=1e-5, atol=0):
                raise ValueError(f"{reaction} under {exposure!r}: comment {rate}, spec {want}")


def read_exact_means() -> dict[str, dict[str, float]]:
    """Exact ensemble means of (c) at t = 60 and (d) at t = 168 from the comment."""
    means = {}
    for case in ("c", "d"):
        match = re.search(rf"in \({case}\): S {NUMBER}, P {NUMBER}, R {NUMBER}", TOML_TEXT)
        if match is None:
            raise ValueError(f"no exact means for ({case}) in {MODEL_TOML}")
        means[case] = dict(zip(STATES, map(float, match.groups()), strict=True))
    return means


REACTIONS, RATES = read_reactions()
EXACT_MEANS = read_exact_means()

# ---------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    key: str
    title: str
    schedule: str  # "on", "off" or "intermittent"
    s0: int
    t_end: float
    replicates: int

    def segments(self) -> list[tuple[float, float, str]]:
        """(start, end, exposure) of each constant-rate segment."""
        if self.schedule != "intermittent":
            return [(0.0, self.t_end, self.schedule)]
        out, start, k = [], 0.0, 0
        while start < self.t_end:
            end = min(start + PERIOD, self.t_end)
            out.append((start, end, "on" if k % 2 == 0 else "off"))
            start, k = end, k + 1
        return out

    def dg_schedule(self) -> str | dict[str, object]:
        return INTERMITTENT if self.schedule == "intermittent" else self.schedule

    def label(self) -> str:
        sched = "14 on/14 off" if self.schedule == "intermittent" else self.schedule
        return f"{self.replicates:,} × {self.s0:,} S, {sched}, {self.t_end:g} d"

    def describe(self) -> str:
        sched = "14 d on / 14 d off" if self.schedule == "intermittent" else f"{self.schedule!r}"
        return (
            f"{self.replicates:,} replicate(s), {self.s0:,} S cells, {sched}, "
            f"t_end = {self.t_end:g} d, daily records"
        )


def make_cases(quick: bool) -> tuple[list[Case], list[Case]]:
    """Timed cases and the extra ensembles for the KS tests of (a) and (b)."""
    timed = [
        Case("a", "one trajectory, 30 d on", "on", 100_000, 30.0, 1),
        Case("b", "drug-free growth", "off", 1000, 270.0, 1),
        Case("c", "ensemble, 60 d on", "on", 1000, 60.0, 10_000),
        Case("d", "14 on / 14 off, 168 d", "intermittent", 10_000, 168.0, 1000),
    ]
    ks_extra = [
        Case("a", "KS ensemble of (a)", "on", 10_000, 30.0, 500),
        Case("b", "KS ensemble of (b)", "off", 1000, 100.0, 500),
    ]
    if quick:
        timed = [
            replace(timed[0], s0=10_000),
            replace(timed[1], t_end=190.0),
            replace(timed[2], replicates=1000),
            replace(timed[3], replicates=100),
        ]
        ks_extra = [replace(ks_extra[0], replicates=100), replace(ks_extra[1], replicates=100)]
    return timed, ks_extra


# ---------------------------------------------------------------------------------------------
# Engines. Each returns counts (replicate, time, state) over the daily grid, and the number of
# events simulated where the engine reports it (None otherwise).
# ---------------------------------------------------------------------------------------------

Result = tuple[np.ndarray, int | None]


def run_dg(case: Case, seed: int, threads: int) -> Result:
    ds = dg.simulate(
        MODEL,
        case.dg_schedule(),
        initial={"S": case.s0},
        t_end=case.t_end,
        record_every=1.0,
        n_replicates=case.replicates,
        seed=seed,
        n_threads=threads,
    )
    counts = ds["count"].sel(cell_state=list(STATES)).values
    return counts, int(ds["n_events"].sum())


def _steps(start: float, end: float) -> int:
    return round(end - start)  # daily records: segment ends are whole days in every case


class Rebop:
    """rebop: one trajectory per call (run(init, tmax, nb_steps) -> xarray.Dataset)."""

    name = "rebop"

    def __init__(self) -> None:
        self.solvers = {}
        for exposure, rates in RATES.items():
            solver = rebop.Gillespie()
            for (reactant, products), rate in zip(REACTIONS, rates, strict=True):
                solver.add_reaction(rate, [reactant], list(products))
            self.solvers[exposure] = solver

    def run(self, case: Case, seed: int) -> Result:
        rng = np.random.default_rng(seed)
        segments = case.segments()
        n_times = _steps(0.0, case.t_end) + 1
        counts = np.empty((case.replicates, n_times, len(STATES)), dtype=np.int64)
        for i in range(case.replicates):
            state = {"S": case.s0, "P": 0, "R": 0}
            row = 0
            for start, end, exposure in segments:
                ds = self.solvers[exposure].run(state, end - start, _steps(start, end), rng=rng)
                block = np.column_stack([ds[s].values for s in STATES])
                # restart from the segment's final state; its first record repeats the last one
                skip = 0 if row == 0 else 1
                counts[i, row : row + len(block) - skip] = block[skip:]
                row += len(block) - skip
                state = dict(zip(STATES, map(int, block[-1]), strict=True))
        return counts, None


class GillesPy2:
    """GillesPy2 SSACSolver: compiled once (variable=True), rates and counts passed per run."""

    name = "GillesPy2"

    def __init__(self) -> None:
        model = gillespy2.Model(name="spr")
        for s in STATES:
            model.add_species(gillespy2.Species(name=s, initial_value=0, mode="discrete"))
        self.params = [f"k{j}" for j in range(len(REACTIONS))]
        for p, r in zip(self.params, RATES["on"], strict=True):
            model.add_parameter(gillespy2.Parameter(name=p, expression=r))
        for j, (reactant, products) in enumerate(REACTIONS):
            stoich = {s: products.count(s) for s in set(products)}
            model.add_reaction(
                gillespy2.Reaction(
                    name=f"r{j}", reactants={reactant: 1}, products=stoich, rate=self.params[j]
                )
            )
        model.timespan(np.array([0.0, 1.0]))  # sets the record increment; `t` is given per run
        start = time.perf_counter()
        self.solver = gillespy2.SSACSolver(model=model, variable=True)
        self.compile_seconds = time.perf_counter() - start

    def _run(self, state: dict[str, int], exposure: str, t: float, n: int, seed: int) -> np.ndarray:
        variables = {**state, **dict(zip(self.params, RATES[exposure], strict=True))}
        results = self.solver.run(t=t, number_of_trajectories=n, seed=seed, variables=variables)
        return np.stack([np.column_stack([tr[s] for s in STATES]) for tr in results]).astype(
            np.int64
        )

    def run(self, case: Case, seed: int) -> Result:
        init = {"S": case.s0, "P": 0, "R": 0}
        segments = case.segments()
        if len(segments) == 1:
            ((_, end, exposure),) = segments
            return self._run(init, exposure, end, case.replicates, seed), None
        # no schedules in GillesPy2's SSA: restart each replicate per segment
        shape = (case.replicates, len(segments))
        seeds = np.random.default_rng(seed).integers(1, 2**31 - 1, size=shape)
        n_times = _steps(0.0, case.t_end) + 1
        counts = np.empty((case.replicates, n_times, len(STATES)), dtype=np.int64)
        for i in range(case.replicates):
            state, row = init, 0
            for k, (start, end, exposure) in enumerate(segments):
                block = self._run(state, exposure, end - start, 1, int(seeds[i, k]))[0]
                skip = 0 if row == 0 else 1
                counts[i, row : row + len(block) - skip] = block[skip:]
                row += len(block) - skip
                state = dict(zip(STATES, map(int, block[-1]), strict=True))
        return counts, None


# ---------------------------------------------------------------------------------------------
# Benchmark
# ---------------------------------------------------------------------------------------------

DG1, DG2 = "dtp-gillespie, 1 thread", "dtp-gillespie, 2 threads"
PEERS = ("rebop", "GillesPy2")


@dataclass
class Timing:
    seconds: list[float]
    events: list[int | None]
    first: np.ndarray  # counts of the first repeat, kept for the statistical checks


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def time_case(case: Case, engines: dict[str, Callable[[Case, int], Result]], repeats: int):
    timings: dict[str, Timing] = {}
    for r in range(repeats):
        seed = 1000 * (ord(case.key) - ord("a") + 1) + r + 1
        for name, run in engines.items():  # interleaved, so drift in machine load hits all
            start = time.perf_counter()
            counts, events = run(case, seed)
            seconds = time.perf_counter() - start
            log(f"  ({case.key}) repeat {r + 1}/{repeats} {name:26} {seconds:8.3f} s")
            if name not in timings:
                timings[name] = Timing([], [], counts)
            timings[name].seconds.append(seconds)
            timings[name].events.append(events)
    return timings


def fmt(x: float) -> str:
    if x >= 1e5:
        mantissa, exponent = f"{x:.2e}".split("e")
        return f"{mantissa}e{int(exponent)}"
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def speed_table(cases: list[Case], all_timings, events_per_rep) -> list[str]:
    lines = [
        "| case | engine | median s | events/s | replicates/s | speed dg 1 thread / engine "
        "| speed dg 2 threads / engine |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for case in cases:
        timings = all_timings[case.key]
        base1 = statistics.median(timings[DG1].seconds)
        base2 = statistics.median(timings[DG2].seconds)
        for name, timing in timings.items():
            secs = statistics.median(timing.seconds)
            if timing.events[0] is not None:
                events = statistics.mean(e for e in timing.events if e is not None)
                ev = fmt(events / secs)
            else:  # peers do not report events: dg's mean events per replicate on the same case
                ev = "≈ " + fmt(events_per_rep[case.key] * case.replicates / secs)
            lines.append(
                f"| ({case.key}) {case.title} | {name} | {secs:.3f} | {ev} | "
                f"{fmt(case.replicates / secs)} | {secs / base1:.2f} | {secs / base2:.2f} |"
            )
    return lines


# ---------------------------------------------------------------------------------------------
# Statistical agreement
# ---------------------------------------------------------------------------------------------


def ks_rows(case: Case, label: str, finals: dict[str, np.ndarray]) -> tuple[list[str], list[str]]:
    rows, failures = [], []
    pairs = [(DG1, "rebop"), (DG1, "GillesPy2"), ("rebop", "GillesPy2")]
    for j, state in enumerate(STATES):
        cells = []
        for x, y in pairs:
            with warnings.catch_warnings():  # large samples: scipy falls back to asymptotic p
                warnings.filterwarnings("ignore", "ks_2samp: Exact calculation unsuccessful")
                p = float(ks_2samp(finals[x][:, j], finals[y][:, j]).pvalue)
            flag = " **FAIL**" if p < ALPHA else ""
            if flag:
                failures.append(f"({case.key}) {state}: {x} vs {y}, p = {p:.2g}")
            cells.append(f"{p:.3g}{flag}")
        means = " / ".join(f"{finals[e][:, j].mean():.4g}" for e in (DG1, "rebop", "GillesPy2"))
        rows.append(f"| ({case.key}) | {label} | {state} | {means} | " + " | ".join(cells) + " |")
    return rows, failures


def z_rows(case: Case, finals: dict[str, np.ndarray]) -> tuple[list[str], list[str]]:
    rows, failures = [], []
    for j, state in enumerate(STATES):
        exact = EXACT_MEANS[case.key][state]
        cells = []
        for engine in (DG1, "rebop", "GillesPy2"):
            x = finals[engine][:, j].astype(float)
            z = (x.mean() - exact) / (x.std(ddof=1) / np.sqrt(len(x)))
            flag = " **FAIL**" if abs(z) > Z_CRIT else ""
            if flag:
                failures.append(f"({case.key}) {state}: {engine} mean {x.mean():.4g}, z = {z:.2f}")
            cells.append(f"{x.mean():.4g} (z = {z:+.2f}){flag}")
        t = case.t_end
        rows.append(f"| ({case.key}) t = {t:g} | {state} | {exact:g} | " + " | ".join(cells) + " |")
    return rows, failures


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        lines = [line for line in out.splitlines() if line.startswith("Model name")]
        model = lines[0].split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError, IndexError):
        pass
    return f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}"


def source_state() -> str:
    """The commit of the checkout, and whether the engine's or the package's sources differ."""
    try:
        git = ["git", "-C", str(HERE)]
        head = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--", "../../rust", "../../python"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return head + (" with uncommitted changes under rust/ or python/" if dirty else "")


def load() -> str:
    try:
        return "/".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def make_scons_reachable() -> None:
    """Let GillesPy2 find SCons however this script was started.

    GillesPy2 runs ``scons`` from PATH or, failing that,
    ``Path(sys.executable).resolve() -m SCons``.
    In a venv that is not activated, ``resolve()`` turns the venv's python into the base
    interpreter, where SCons is not installed. The venv's own scripts directory holds ``scons``
    (installed with gillespy2), so put it first on PATH; stop with a clear message when SCons or
    g++ is missing altogether.
    """
    scripts = str(Path(sys.executable).parent)  # not resolved: the venv's bin/, not the base one
    os.environ["PATH"] = os.pathsep.join([scripts, os.environ.get("PATH", "")])
    if shutil.which("scons") is None and find_spec("SCons") is None:
        sys.exit(
            "error: SCons is not installed for this interpreter; GillesPy2 needs it to compile "
            f"its C++ solver. Run: {sys.executable} -m pip install -r {HERE / 'requirements.txt'}"
        )
    if shutil.which("g++") is None:
        sys.exit("error: g++ is not on PATH; GillesPy2's SSACSolver compiles C++ (apt install g++)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per engine and case")
    parser.add_argument("--quick", action="store_true", help="shrink every case (smoke run)")
    parser.add_argument("--out", type=Path, default=HERE / "results.md", help="markdown report")
    args = parser.parse_args()
    wall = time.perf_counter()
    load_before = load()

    timed, ks_extra = make_cases(args.quick)
    versions = (
        f"dtp-gillespie {dg.__version__}, rebop {rebop.__version__}, "
        f"GillesPy2 {gillespy2.__version__}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"Python {platform.python_version()}"
    )
    log(versions)
    log("compiling the GillesPy2 model (SSACSolver, g++) ...")
    make_scons_reachable()
    gpy = GillesPy2()
    log(f"  compiled in {gpy.compile_seconds:.2f} s")
    engines: dict[str, Callable[[Case, int], Result]] = {
        DG1: lambda case, seed: run_dg(case, seed, 1),
        DG2: lambda case, seed: run_dg(case, seed, 2),
        "rebop": Rebop().run,
        "GillesPy2": gpy.run,
    }

    all_timings = {}
    events_per_rep = {}
    for case in timed:
        log(f"timing ({case.key}) {case.describe()}")
        all_timings[case.key] = time_case(case, engines, args.repeats)
        dg_timing = all_timings[case.key][DG1]
        events = [e for e in dg_timing.events if e is not None]
        n_reps = case.replicates * len(events)
        if case.replicates < 100:  # single trajectories: average events over a small ensemble too
            extra = replace(case, replicates=32)
            _, extra_events = run_dg(extra, 99, 2)
            events.append(extra_events or 0)
            n_reps += extra.replicates
        events_per_rep[case.key] = sum(events) / n_reps

    # statistical agreement: final counts per state
    ks_lines = [
        "| case | sample | state | mean final count dg / rebop / GillesPy2 | p dg vs rebop "
        "| p dg vs GillesPy2 | p rebop vs GillesPy2 |",
        "|---|---|---|---|---:|---:|---:|",
    ]
    z_lines = [
        "| case | state | exact mean | dg mean (z) | rebop mean (z) | GillesPy2 mean (z) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    failures: list[str] = []
    ks_cases = {c.key: c for c in ks_extra}
    for case in timed:
        if case.key in ks_cases:
            sample = ks_cases[case.key]
            log(f"KS ensemble ({sample.key}) {sample.describe()}")
            finals = {name: engines[name](sample, 7)[0][:, -1, :] for name in (DG1, *PEERS)}
        else:
            sample = case
            finals = {name: t.first[:, -1, :] for name, t in all_timings[case.key].items()}
        rows, fails = ks_rows(case, sample.label(), finals)
        ks_lines += rows
        failures += fails
        if case.key in EXACT_MEANS:
            rows, fails = z_rows(case, finals)
            z_lines += rows
            failures += fails

    seconds = time.perf_counter() - wall
    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    case_lines = [f"- ({c.key}) {c.title}: {c.describe()}" for c in timed]
    report = [
        "# dtp-gillespie vs rebop vs GillesPy2",
        "",
        f"- date: {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
        f"- machine: {machine()}",
        f"- command: `{command}` ({args.repeats} repeats, medians; whole script {seconds:.0f} s)",
        f"- versions: {versions}; dtp-gillespie commit {source_state()}",
        f"- load average (1/5/15 min) at start {load_before}, at end {load()}: other work on the "
        "machine slows every engine, and dtp-gillespie's 2-thread runs most",
        f"- GillesPy2 compile (SSACSolver, once, variable=True): {gpy.compile_seconds:.2f} s, "
        "excluded from the per-run figures below",
        "",
        "Cases (canonical S/P/R model of benches/bench-model.toml):",
        "",
        *case_lines,
        "",
        "Seeds are fixed: repeat r (from 1) of case k (a = 1, …, d = 4) uses seed 1000 k + r for "
        "every engine; the KS ensembles of (a) and (b) use seed 7.",
        "",
        "## Speed",
        "",
        *speed_table(timed, all_timings, events_per_rep),
        "",
        "Speed ratios are engine seconds / dtp-gillespie seconds on the same work (> 1: "
        "dtp-gillespie is faster). "
        "rebop and GillesPy2 run one trajectory at a time on one core. Neither reports a count of "
        "events, so their events/s (≈) are dtp-gillespie's mean events per replicate on the same "
        f"case ({', '.join(f'({k}) {v:,.0f}' for k, v in events_per_rep.items())}) times the "
        "replicates, divided by the engine's seconds. In (d) rebop and GillesPy2 have no drug "
        "schedules: each replicate is restarted at every 14-day breakpoint from the previous "
        "segment's final state with the other rate set (12 calls per replicate); GillesPy2 is "
        "compiled once with variable=True, so the rates and initial counts are run-time "
        "arguments. All figures include turning each engine's output into a "
        "(replicate, time, state) array of daily counts.",
        "",
        "## Agreement in distribution",
        "",
        f"Two-sample Kolmogorov-Smirnov tests (scipy.stats.ks_2samp) on final counts, alpha = "
        f"{ALPHA}. (c) and (d) use the first timed repeat of each engine; (a) and (b) are single "
        "trajectories, so they are tested on the ensembles named in the table. Counts are "
        "discrete, which makes the KS test conservative.",
        "",
        *ks_lines,
        "",
        f"Ensemble means vs the exact means of bench-model.toml; z = (mean - exact) / "
        f"(sd / sqrt(n)), |z| > {Z_CRIT} fails at alpha = {ALPHA}.",
        "",
        *z_lines,
        "",
        "Failures: " + ("; ".join(failures) if failures else "none"),
        "",
    ]
    text = "\n".join(report)
    print(text)
    args.out.write_text(text)
    log(f"wrote {args.out} ({seconds:.0f} s)")


if __name__ == "__main__":
    main()
