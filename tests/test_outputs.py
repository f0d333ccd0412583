"""The table of output variables (``conventions.OUTPUTS``): the engine, the Dataset, a store's
template, summary mode and the analysis all agree with it."""

import math
from pathlib import Path
from typing import Any

import dtp_gillespie as dg
import numpy as np
import pytest
import xarray as xr
import zarr
from dtp_gillespie import _core, analysis, summary
from dtp_gillespie import conventions as cv
from dtp_gillespie._dataset import build_dataset, unwritten_arrays
from dtp_gillespie.simulate import prepare
from models import SPR

BIOMARKER_MODEL: dict[str, Any] = {
    **SPR,
    "biomarker": {
        "name": "PSA",
        "units": "ng/mL",
        "production": {"S": 1.0, "R": 2.0},
        "decay": 0.5,
    },
}
PK = {"kind": "pk", "dose": 4.0, "dose_every": 1.0, "half_life": 0.5}
RUN: dict[str, Any] = {
    "initial": {"S": 30, "P": 3},
    "t_end": 3.0,
    "record_every": 0.5,
    "n_replicates": 4,
    "seed": 11,
}
CASES = [(SPR, "on"), (SPR, PK), (BIOMARKER_MODEL, {"kind": "intermittent", "on": 1, "off": 1})]


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


@pytest.mark.parametrize(("model", "schedule"), CASES)
def test_the_engine_returns_one_array_per_variable_of_the_table(model: Any, schedule: Any) -> None:
    prep = prepare(model, schedule, **RUN)
    arrays = _core.simulate_ensemble(prep.core_model, prep.core_schedule, prep.core_run)
    is_pk = isinstance(schedule, dict) and schedule["kind"] == "pk"
    wanted = {
        v.name
        for v in cv.OUTPUTS
        if v.present == "always"
        # the engine returns every per-replicate variable (NaN if not pk), but the clone
        # tallies only for runs that track clones
        or (v.per_replicate and v.present != "clones")
        or (v.present == "pk" and is_pk)
        or (v.present == "biomarker" and "biomarker" in model)
    }
    assert set(arrays) == wanted
    for name, arr in arrays.items():
        var = cv.OUTPUT[name]
        assert arr.dtype == np.dtype(var.dtype), name
        assert arr.ndim == len(var.dims), name


@pytest.mark.parametrize(("model", "schedule"), CASES)
def test_the_dataset_is_the_table(model: Any, schedule: Any) -> None:
    ds = dg.simulate(model, schedule, **RUN)
    assert list(ds.data_vars) == [v for v in cv.VARIABLES if v in ds.data_vars]
    for name, da in ds.data_vars.items():
        var = cv.OUTPUT[str(name)]
        assert da.dims == var.dims
        assert da.dtype == np.dtype(var.dtype)
        if name != cv.BIOMARKER:  # labelled by the model's biomarker spec
            assert da.attrs["units"] == var.units
            assert da.attrs["long_name"] == var.long_name
        assert da.attrs.get("comment") == var.comment
        assert ("flag_values" in da.attrs) == (var.flags is not None)


@pytest.mark.parametrize("summary_only", [False, True])
@pytest.mark.parametrize(("model", "schedule"), CASES)
def test_a_store_is_the_template_of_unwritten_arrays(
    model: Any, schedule: Any, summary_only: bool, tmp_path: Path
) -> None:
    path = tmp_path / "run.zarr"
    dg.simulate(model, schedule, store=path, summary_only=summary_only, **RUN)
    stored = xr.open_zarr(path, consolidated=False).load()
    group = zarr.open_group(path, mode="r")
    # What stream.py writes before a block is done, built from the table without a run.
    prep = prepare(model, schedule, **RUN)
    n_times, n_states = prep.times.size, len(prep.model.states)
    is_pk = isinstance(schedule, dict) and schedule["kind"] == "pk"
    template = build_dataset(
        states=prep.model.states,
        exposures=prep.model.exposures,
        times=prep.times,
        replicate_offset=0,
        arrays=unwritten_arrays(
            1,
            n_times,
            n_states,
            concentration=is_pk,
            biomarker=prep.model.biomarker is not None,
        ),
        model_spec=prep.model.to_dict(),
        schedule_spec=prep.schedule.to_dict(),
        run_spec=prep.run_spec,
        seed_attrs=prep.seed_attrs,
        rng=_core.RNG_NAME,
        version=_core.__version__,
        concentration=is_pk,
        biomarker=prep.model.biomarker,
    )
    if summary_only:
        template = summary.per_replicate(template)
    replicate_vars = [v for v in stored.data_vars if cv.REPLICATE in stored[v].dims]
    assert sorted(replicate_vars) == sorted(template.data_vars)
    for name in replicate_vars:
        want, got = template[name], stored[name]
        assert want.dims == got.dims, name
        assert want.dtype == got.dtype, name
        assert want.attrs.keys() == got.attrs.keys(), name
        for key, value in want.attrs.items():
            np.testing.assert_array_equal(np.asarray(got.attrs[key]), np.asarray(value))
        fill = group[str(name)].metadata.fill_value
        source = cv.OUTPUT[name.removeprefix("final_")]
        assert _same(float(fill), float(source.fill)), name
        assert np.all([_same(float(x), float(source.fill)) for x in want.values.ravel()]), name


def test_summary_mode_keeps_what_the_table_says() -> None:
    ds = dg.simulate(BIOMARKER_MODEL, "on", summary_only=True, **RUN)
    kept = [v.name for v in cv.OUTPUTS if v.summary == "keep" and v.present == "always"]
    finals = [f"final_{v.name}" for v in cv.OUTPUTS if v.summary == "final"]
    assert list(ds.data_vars) == [*kept, *finals, *summary.STATISTICS]
    assert ds["final_biomarker"].attrs["units"] == "ng/mL"
    assert ds["final_count"].attrs["comment"] == cv.OUTPUT[cv.COUNT].final_comment


def test_the_analysis_endpoints_are_the_table_endpoints() -> None:
    endpoints = {v.name for v in cv.OUTPUTS if v.survival == "endpoint"}
    assert set(analysis.EVENTS) == endpoints
    assert set(analysis.EVENTS) == set(analysis.Event.__args__)  # type: ignore[attr-defined]


def test_a_wrong_row_is_refused() -> None:
    with pytest.raises(ValueError, match="final_comment"):
        cv.Output("x", (cv.REPLICATE,), "int64", "1", "x", fill=-1, summary="final")
    with pytest.raises(ValueError, match="per replicate"):
        cv.Output("x", (cv.REPLICATE, cv.TIME), "int64", "1", "x", fill=-1, survival="endpoint")
