"""The ``dtp-gillespie protocol FILE.toml --out results.zarr`` command."""

import argparse
import os
import sys
import time
from typing import Any, TextIO

import numpy as np
import xarray as xr

from .. import conventions as cv
from ..errors import InvalidRunError
from ..io import write_run
from ..store_safety import check_store_path
from ._output import FLASK_STATUS_VAR, TOTAL
from ._status import FLASK_STATUS, UNKNOWN_CODES
from ._toml import load_protocol

__all__ = ["add_protocol_command"]


def add_protocol_command(sub: Any) -> None:
    """Add the ``protocol`` subcommand to the CLI's subparsers."""
    cmd = sub.add_parser(
        "protocol",
        help="run an experiment protocol (grow, split, passage, bottleneck, treat, count)",
        description="Run the protocol of FILE (a TOML file with [model], [schedules.NAME], "
        "[protocol] and [run]; docs/protocols.md) and write its result to a zarr store.",
    )
    cmd.add_argument("file", metavar="FILE.toml", help="protocol file (TOML)")
    cmd.add_argument(
        "--out", "-o", required=True, metavar="PATH", help="output zarr store (must not exist)"
    )
    cmd.add_argument("--replicates", "-n", type=int, metavar="N", help="override n_replicates")
    cmd.add_argument("--seed", type=int, metavar="S", help="override seed (int >= 0)")
    cmd.add_argument("--threads", "-t", type=int, metavar="T", help="worker threads (default all)")
    cmd.set_defaults(func=_cmd_protocol)


def _cmd_protocol(args: argparse.Namespace) -> int:
    proto, run = load_protocol(args.file)
    if args.replicates is not None:
        run["n_replicates"] = args.replicates
    if args.seed is not None:
        run["seed"] = args.seed
    out = check_store_path(args.out)
    if os.path.lexists(out):  # never replace anything: a protocol store is written once
        raise InvalidRunError(f"{out} exists; choose another --out")
    t0 = time.perf_counter()
    ds = proto.run(n_threads=args.threads, **run)
    wall = time.perf_counter() - t0
    write_run(ds, out, mode="w-")
    _summarise(ds, wall, sys.stdout)
    print(f"wrote {out}", file=sys.stdout)
    return 0


def _summarise(ds: xr.Dataset, wall: float, out: TextIO) -> None:
    """Per count step: flasks known, extinct and unknown, and the mean cells per state."""
    names = [str(s) for s in ds[cv.CELL_STATE].values]
    n = ds.sizes[cv.REPLICATE]
    print(f"protocol: {n} replicates, wall time {wall:.3g} s", file=out)
    for c in range(ds.sizes["count_step"]):
        k = int(ds["n_flasks"].values[c])
        status = ds[FLASK_STATUS_VAR].values[:, :k, c]
        total = ds[TOTAL].values[:, :k, c]
        known = ~np.isin(status, UNKNOWN_CODES)
        extinct = int(np.count_nonzero(status == FLASK_STATUS["extinct"]))
        means = ", ".join(
            f"{s} {np.mean(total[..., j][known]):.4g}" if known.any() else f"{s} -"
            for j, s in enumerate(names)
        )
        print(
            f"  count {c} (day {float(ds['elapsed'].values[c]):g}, {k} flask(s)): "
            f"{int(known.sum())} known, {extinct} extinct, {int((~known).sum())} unknown; "
            f"mean cells {means}",
            file=out,
        )
