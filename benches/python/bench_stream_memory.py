"""Peak memory (RSS) of a streamed run: 10^6 replicates x 61 record times x 3 states to zarr.

The in-memory Dataset of such a run holds 1.46 GB of counts alone; streamed, the process holds a
few blocks (about 64 MiB of counts each) whatever the number of replicates. The run happens in a
child process whose peak RSS is read with ``resource.getrusage(RUSAGE_CHILDREN)``. Not a test: run
it by hand,

    python benches/python/bench_stream_memory.py [--replicates 1000000] [--threads 2]

The model is the canonical S/P/R model of benches/bench-model.toml started from a small tumour
(10 sensitive cells, 60 days of continuous exposure), so the engine's share of the time is small
and the figure measures the streaming path.
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

CHILD = """
import json, sys, time, tomllib
from pathlib import Path
import dtp_gillespie as dg
from dtp_gillespie.stream import simulate_to_store
spec = tomllib.loads(Path(sys.argv[1]).read_text())
t0 = time.perf_counter()
ds = simulate_to_store(
    spec["model"], "on", store=sys.argv[2], initial={"S": 10}, t_end=60.0, record_every=1.0,
    n_replicates=int(sys.argv[3]), seed=1, n_threads=int(sys.argv[4]),
)
wall = time.perf_counter() - t0
print(json.dumps({"wall": wall, "sizes": dict(ds.sizes),
                  "count_bytes": int(ds["count"].size * 8)}))
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--replicates", type=int, default=1_000_000)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    model = Path(__file__).parents[1] / "bench-model.toml"
    assert "model" in tomllib.loads(model.read_text())
    with tempfile.TemporaryDirectory() as tmp:
        store = str(Path(tmp) / "run.zarr")
        start = time.perf_counter()
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                CHILD,
                str(model),
                store,
                str(args.replicates),
                str(args.threads),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        elapsed = time.perf_counter() - start
        disk = sum(f.stat().st_size for f in Path(store).rglob("*") if f.is_file())
    info = json.loads(out.stdout.strip().splitlines()[-1])
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    rss_bytes = rss if sys.platform == "darwin" else rss * 1024
    print(f"replicates           {args.replicates:,} ({info['sizes']})")
    print(f"count in memory      {info['count_bytes'] / 2**30:.3f} GiB if not streamed")
    print(f"peak RSS (child)     {rss_bytes / 2**20:.0f} MiB")
    print(f"store on disk        {disk / 2**20:.0f} MiB")
    print(f"wall                 {info['wall']:.1f} s in simulate, {elapsed:.1f} s with start-up")
    print(f"replicates/s         {args.replicates / info['wall']:,.0f}")


if __name__ == "__main__":
    main()
