"""Instructions per event of the engine on the benchmark cases, counted by callgrind.

Wall time on a shared machine varies by a factor of two from run to run; callgrind's instruction
count for the same binary and inputs does not, so it shows a regression (or a gain) in the event
loop that timing cannot. Needs valgrind; run by hand,

    python benches/python/bench_instructions.py [--cases a c d adaptive pk crowded pk-crowded]

It builds the profiling example (``cargo build --profile profiling --example trajectory``), runs
each case under ``valgrind --tool=callgrind`` and prints instructions per event (setup included,
so cases with few events per replicate show the per-replicate overhead too). Cases a, c and d
are those of bench-model.toml under fixed schedules; ``adaptive`` and ``pk`` put case d's tumour
under adaptive therapy and daily pharmacokinetic dosing; ``crowded`` and ``pk-crowded`` add a
carrying capacity, so that every event goes through the general event loop rather than the hot
loop.
"""

import argparse
import re
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BINARY = ROOT / "target" / "profiling" / "examples" / "trajectory"
# case: replicates to run under callgrind (about 1e5-1e6 events each)
CASES = {"a": 1, "c": 300, "d": 10, "adaptive": 2, "pk": 20, "crowded": 10, "pk-crowded": 10}


def count(case: str, n: int) -> tuple[int, int]:
    """(instructions, events) of `n` replicates of `case`."""
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={tmp}/cg.out",
                str(BINARY),
                case,
                str(n),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    refs = re.search(r"refs:\s+([\d,]+)", proc.stderr)
    events = re.search(r"\): (\d+) events", proc.stdout)
    if refs is None or events is None:
        raise RuntimeError(f"unexpected output:\n{proc.stdout}\n{proc.stderr}")
    return int(refs.group(1).replace(",", "")), int(events.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    args = parser.parse_args()
    subprocess.run(
        [
            "cargo",
            "build",
            "--quiet",
            "--profile",
            "profiling",
            "--example",
            "trajectory",
            "-p",
            "dtp_gillespie_benches",
        ],
        cwd=ROOT,
        check=True,
    )
    print(f"{'case':>10} {'replicates':>10} {'events':>10} {'instructions':>14} {'per event':>10}")
    for case in args.cases:
        n = CASES[case]
        instructions, events = count(case, n)
        print(f"{case:>10} {n:>10} {events:>10} {instructions:>14,} {instructions / events:>10.1f}")


if __name__ == "__main__":
    main()
