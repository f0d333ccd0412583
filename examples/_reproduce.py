"""Command-line scaffolding shared by the reproduction scripts in this folder.

Each ``reproduce_*.py`` takes ``--quick`` (CI size), ``--seed``, ``--replicates`` and ``--out``
(write the returned numbers as JSON), prints the command that reproduces its run, and returns its
numbers from ``main(argv)``. This module is not part of the package.
"""

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def parse_args(
    argv: Sequence[str] | None,
    *,
    description: str,
    seed: int,
    quick_help: str,
    replicates_help: str,
) -> argparse.Namespace:
    """The common options of a reproduction script."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--seed", type=int, default=seed)
    parser.add_argument("--replicates", type=int, default=None, help=replicates_help)
    parser.add_argument("--out", default=None, help="write the results as JSON to this path")
    return parser.parse_args(argv)


def command(script: str, args: argparse.Namespace) -> str:
    """The command line that reproduces a run (replicates only when not the default)."""
    parts = ["python", f"examples/{Path(script).name}"]
    parts += ["--quick"] if args.quick else []
    parts += ["--seed", str(args.seed)]
    parts += ["--replicates", str(args.replicates)] if args.replicates else []
    return " ".join(parts)


def write_results(results: Mapping[str, Any], out: str | None) -> None:
    """Write ``results`` as JSON to ``out`` if a path was given."""
    if out:
        with open(out, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=2)
        print(f"wrote {out}")
