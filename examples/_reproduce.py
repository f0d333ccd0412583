"""Command-line scaffolding shared by the reproduction scripts in this folder.

Each ``reproduce_*.py`` takes ``--quick`` (CI size), ``--seed``, ``--replicates`` and ``--out``
(write the returned numbers as JSON), prints the command that reproduces its run, and returns its
numbers from ``main(argv)``. This module is not part of the package.
"""

import argparse
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np


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


# --- the mean matrix of a model without density dependence ------------------------------------
def rate_value(rate: Any, exposure: str) -> float:
    """A rate or probability of a model spec under ``exposure`` (a number or a table)."""
    return float(rate[exposure]) if isinstance(rate, Mapping) else float(rate)


def mean_matrix(
    model: Mapping[str, Any], exposure: str, *, mutations_row: bool = False
) -> np.ndarray:
    """A with dE[n]/dt = A E[n] under ``exposure`` (states in model order).

    With ``mutations_row``, a mutant division leaves the process instead (the mutant-free
    process) and an extra last row accumulates the expected number of mutant divisions.
    """
    if model.get("capacity") is not None or model.get("competition") is not None:
        raise ValueError("the mean matrix needs a model without density dependence")
    states = [s if isinstance(s, str) else s["name"] for s in model["states"]]
    idx = {s: i for i, s in enumerate(states)}
    n = len(states)
    size = n + 1 if mutations_row else n
    a = np.zeros((size, size))
    for s, i in idx.items():
        a[i, i] += rate_value(model.get("division", {}).get(s, 0.0), exposure)
        a[i, i] -= rate_value(model.get("death", {}).get(s, 0.0), exposure)
    for m in model.get("mutation", []):
        i, j = idx[m["from"]], idx[m["to"]]
        flux = rate_value(model["division"][m["from"]], exposure) * rate_value(
            m["probability"], exposure
        )
        a[i, i] -= flux  # a mutant division leaves one i, not two
        a[n if mutations_row else j, i] += flux
    for sw in model.get("switch", []):
        i, j = idx[sw["from"]], idx[sw["to"]]
        k = rate_value(sw["rate"], exposure)
        a[i, i] -= k
        a[j, i] += k
    return a


def expm(a: np.ndarray) -> np.ndarray:
    """Matrix exponential by scaling and squaring of a degree-20 Taylor polynomial (numpy only)."""
    norm = float(np.abs(a).sum(axis=0).max())
    squarings = max(0, math.ceil(math.log2(norm)) + 1) if norm > 0 else 0
    b = a / 2.0**squarings
    out = np.eye(a.shape[0])
    term = np.eye(a.shape[0])
    for k in range(1, 21):
        term = term @ b / k
        out = out + term
    for _ in range(squarings):
        out = out @ out
    return out
