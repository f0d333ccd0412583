"""Fingerprints of the results of a fixed set of runs, to show that a restructuring changed no byte.

Runs every schedule kind (continuous, intermittent, piecewise, combination, adaptive, adaptive on a
biomarker, pk), density dependence (capacity, competition), progression, caps, summary mode, a
zarr store, a sweep, an event trace and the benchmark cases, and prints one SHA-256 per run over
its data variables, coordinates and reproducibility attributes (creation times and versions
aside). Run it before and after a change and compare:

    python scripts/fingerprint.py > before.json
    # ... change ...
    python scripts/fingerprint.py > after.json && diff before.json after.json
"""

import hashlib
import json
import sys
import tempfile
import tomllib
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dtp_gillespie as dg
import numpy as np
import xarray as xr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from models import SPR  # noqa: E402  (the tests' S/P/R tumour: one definition of it)

VOLATILE_ATTRS = {"created_at", "dtp_gillespie_version"}

BIOMARKER = {
    **SPR,
    "biomarker": {"production": {"S": 1.0, "R": {"off": 2.0, "on": 0.5}}, "decay": 0.8},
}
CAPACITY = {**SPR, "capacity": {"K": 400, "on": "division"}}
RUN = {"initial": {"S": 200}, "t_end": 20.0, "record_every": 1.0, "n_replicates": 64, "seed": 7}


def _digest_array(h: Any, name: str, values: Any) -> None:
    arr = np.asarray(values)
    h.update(name.encode())
    h.update(str(arr.dtype).encode() + str(arr.shape).encode())
    if arr.dtype.kind in "OUS":
        h.update(json.dumps(arr.tolist(), default=str).encode())
    else:
        h.update(np.ascontiguousarray(arr).tobytes())


def _digest_attrs(h: Any, attrs: dict[str, Any]) -> None:
    kept = {k: v for k, v in sorted(attrs.items()) if k not in VOLATILE_ATTRS}
    h.update(json.dumps(kept, sort_keys=True, default=str).encode())


def digest(ds: xr.Dataset) -> str:
    h = hashlib.sha256()
    for name in sorted(ds.variables):
        var = ds.variables[name]
        _digest_array(h, str(name), var.values)
        h.update(str(var.dims).encode())
        _digest_attrs(h, dict(var.attrs))
    _digest_attrs(h, dict(ds.attrs))
    return h.hexdigest()


def digest_dict(d: dict[str, Any]) -> str:
    h = hashlib.sha256()
    for k in sorted(d):
        _digest_array(h, k, d[k])
    return h.hexdigest()


def run(model: Any, schedule: Any, **kw: Any) -> xr.Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return dg.simulate(model, schedule, **{**RUN, **kw})


def cases(tmp: Path) -> dict[str, Callable[[], str]]:
    adaptive = dg.Schedule.adaptive(stop_below=0.5, resume_above=1.0, monitor=["S", "P", "R"])
    pk = dg.Schedule.pk(dose=2.0, dose_every=2.0, half_life=1.5, ec50=1.0)
    out: dict[str, Callable[[], str]] = {
        "continuous": lambda: digest(run(SPR, "on")),
        "intermittent": lambda: digest(run(SPR, dg.Schedule.intermittent(on=3, off=2))),
        "piecewise": lambda: digest(run(SPR, dg.Schedule.piecewise([(0, "off"), (5, "on")]))),
        "adaptive": lambda: digest(run(SPR, adaptive)),
        "adaptive_checks": lambda: digest(
            run(SPR, dg.Schedule.adaptive(stop_below=0.5, resume_above=1.0, check_every=2.0))
        ),
        "pk": lambda: digest(run(SPR, pk)),
        "pk_missed": lambda: digest(
            run(
                SPR,
                dg.Schedule.pk(
                    dose=2.0, dose_every=2.0, half_life=1.5, missed_dose_probability=0.3
                ),
            )
        ),
        "biomarker_adaptive": lambda: digest(
            run(
                BIOMARKER,
                dg.Schedule.adaptive(stop_below=0.5, resume_above=1.0, monitor="biomarker"),
            )
        ),
        "capacity": lambda: digest(run(CAPACITY, dg.Schedule.intermittent(on=3, off=2))),
        "progression": lambda: digest(run(SPR, "on", progression={"factor": 2.0, "min_size": 50})),
        "capped": lambda: digest(run(SPR, "off", max_population=500, max_events=3000)),
        "summary": lambda: digest(run(SPR, "on", summary_only=True)),
        "store": lambda: stored(
            tmp / "s.zarr", SPR, dg.Schedule.intermittent(on=3, off=2), block_size=16
        ),
        "store_summary": lambda: stored(tmp / "m.zarr", SPR, "on", summary_only=True),
        "sweep": lambda: digest(
            dg.sweep(SPR, "on", {"model.division.S": [0.7, 0.8]}, **{**RUN, "n_replicates": 16})
        ),
        "trace": lambda: digest_dict(
            dg.trace(
                SPR, dg.Schedule.intermittent(on=3, off=2), initial={"S": 50}, t_end=10.0, seed=3
            )
        ),
        "trace_pk": lambda: digest_dict(dg.trace(SPR, pk, initial={"S": 50}, t_end=10.0, seed=3)),
    }
    bench = tomllib.loads((ROOT / "benches" / "bench-model.toml").read_text())["model"]
    # The benchmark cases (see benches/bench-model.toml), with fewer replicates.
    out["bench_a"] = lambda: digest(bench_case(bench, "on", 100_000, 30.0, 1))
    out["bench_c"] = lambda: digest(bench_case(bench, "on", 1000, 60.0, 200))
    out["bench_d"] = lambda: digest(
        bench_case(bench, dg.Schedule.intermittent(on=14, off=14), 10_000, 168.0, 4)
    )
    return out


def stored(path: Path, model: Any, schedule: Any, **kw: Any) -> str:
    """The digest of a run streamed to a zarr store, read back with plain xarray."""
    run(model, schedule, store=str(path), **kw)
    return digest(xr.open_zarr(path, consolidated=False).load())


def bench_case(model: Any, schedule: Any, s0: int, t_end: float, n: int) -> xr.Dataset:
    return run(model, schedule, initial={"S": s0}, t_end=t_end, n_replicates=n, seed=1)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for name, fn in cases(Path(tmp)).items():
            try:
                results[name] = fn()
            except Exception as e:  # a case this version cannot run is reported, not fatal
                results[name] = f"error: {type(e).__name__}: {e}"
    json.dump(results, sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
