"""Peak memory of a store run that tracks 10⁴ barcodes (issue: lineage tables must stream to zarr
in bounded memory).

Runs ``n_replicates`` replicates of an S/P/R model from 10⁴ cells, each with its own barcode
library of 10⁴ barcodes, clones on, lineage tables at 11 barcode times, into a zarr store with the
given block size; prints the wall time, the table sizes and the process's peak resident memory,
then reopens the store with plain xarray. Memory should follow the block size, not the table size:

    python benches/python/bench_lineage_store_memory.py --replicates 1000 --block-size 10
    python benches/python/bench_lineage_store_memory.py --replicates 1000 --block-size 50
"""

import argparse
import resource
import tempfile
import time
from pathlib import Path

import dtp_gillespie as dg
import xarray as xr

MODEL = {
    "states": ["S", "P", {"name": "R", "genetic": True}],
    "division": {"S": 0.5, "P": 0.05, "R": 0.4},
    "death": {"S": {"off": 0.1, "on": 0.6}, "P": 0.02, "R": 0.1},
    "switch": [{"from": "S", "to": "P", "rate": 0.05}, {"from": "P", "to": "S", "rate": 0.05}],
    "mutation": [{"from": "S", "to": "R", "probability": 1e-3}],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--block-size", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "lineages.zarr"
        t0 = time.perf_counter()
        ds = dg.simulate(
            MODEL,
            "on",
            initial={"S": 10_000},
            t_end=2.0,
            record_every=0.2,
            n_replicates=args.replicates,
            seed=3,
            barcodes=10_000,
            clones=True,
            store=store,
            block_size=args.block_size,
        )
        elapsed = time.perf_counter() - t0
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"{args.replicates} replicates, block size {args.block_size}: {elapsed:.1f} s, "
            f"{ds.sizes['lineage_row']:,} lineage rows, {ds.sizes['clone_row']:,} clones, "
            f"peak resident memory {peak_mib:.0f} MiB"
        )
        plain = xr.open_zarr(store)
        print(f"plain xarray reads {plain.sizes['lineage_row']:,} lineage rows")


if __name__ == "__main__":
    main()
