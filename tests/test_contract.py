"""The output Dataset contract (README, "Output") and the reproducibility contract (README,
"Reproducibility")."""

import json
import pickle
import warnings
from datetime import datetime
from importlib import resources
from typing import Any

import dtp_gillespie as dg
import numpy as np
import pytest
import xarray as xr
from hypothesis import given
from strategies import model_specs, schedule_specs, without_created_at

MODEL: dict[str, Any] = {
    "states": ["S", "P", {"name": "R", "genetic": True}],
    "exposures": ["off", "on", "high"],
    "division": {"S": 0.6, "P": 0.05, "R": 0.5},
    "death": {"S": {"off": 0.1, "on": 0.5, "high": 1.0}, "P": 0.02, "R": 0.1},
    "switch": [
        {"from": "S", "to": "P", "rate": {"off": 0.01, "on": 0.3, "high": 0.5}},
        {"from": "P", "to": "S", "rate": {"off": 0.2, "on": 0.01, "high": 0.0}},
    ],
    "mutation": [{"from": "P", "to": "R", "probability": 0.05}],
}
SCHEDULE: dict[str, Any] = {
    "kind": "piecewise",
    "segments": [[0.0, "off"], [1.0, "on"], [3.0, "high"], [4.0, "off"]],
}
RUN: dict[str, Any] = {
    "initial": {"S": 40, "P": 5},
    "t_end": 6.0,
    "record_every": 0.5,
    "n_replicates": 5,
    "seed": 7,
}
DIMS = ("replicate", "time", "cell_state")
DTYPES = {
    "count": np.int64,
    "exposure": np.int8,
    "extinction_time": np.float64,
    "first_mutant_time": np.float64,
    "stop_time": np.float64,
    "n_events": np.int64,
    "status": np.int8,
}
VARIABLE_DIMS = {
    "count": DIMS,
    "exposure": ("replicate", "time"),
    "extinction_time": ("replicate",),
    "first_mutant_time": ("replicate",),
    "stop_time": ("replicate",),
    "n_events": ("replicate",),
    "status": ("replicate",),
}
STATUS_NAMES = ["completed", "extinct", "max_events", "max_population", "rate_overflow"]
GLOBAL_ATTRS = (
    "model",
    "schedule",
    "run",
    "seed",
    "rng",
    "dtp_gillespie_version",
    "created_at",
    "schema_version",
)


@pytest.fixture(scope="module")
def ds() -> xr.Dataset:
    return dg.simulate(MODEL, SCHEDULE, **RUN)


# --- schema ---------------------------------------------------------------------------------------
def test_dimensions_come_in_contract_order(ds: xr.Dataset) -> None:
    assert tuple(ds.sizes) == DIMS
    assert dict(ds.sizes) == {"replicate": 5, "time": 13, "cell_state": 3}
    for name, dims in VARIABLE_DIMS.items():
        assert ds[name].dims == dims, name


def test_every_dimension_has_a_coordinate_of_the_contract_dtype(ds: xr.Dataset) -> None:
    for dim in DIMS:
        assert dim in ds.coords
    assert ds["replicate"].dtype == np.int64
    assert ds["time"].dtype == np.float64
    assert ds["cell_state"].dtype.kind in "OUT"
    assert [type(s) for s in ds["cell_state"].values] == [str, str, str]
    assert list(ds["cell_state"].values) == ["S", "P", "R"]
    np.testing.assert_array_equal(ds["time"].values, np.arange(13) * 0.5)
    np.testing.assert_array_equal(ds["replicate"].values, np.arange(5))


def test_variables_have_the_contract_dtypes(ds: xr.Dataset) -> None:
    for name, dtype in DTYPES.items():
        assert ds[name].dtype == dtype, name


def test_every_variable_and_coordinate_has_units_and_long_name(ds: xr.Dataset) -> None:
    for name in ds.variables:
        attrs = ds[name].attrs
        for key in ("units", "long_name"):
            assert isinstance(attrs.get(key), str), (name, key)
            assert attrs[key], (name, key)
    for name in ("time", "extinction_time", "first_mutant_time", "stop_time"):
        assert ds[name].attrs["units"] == "day"


def test_exposure_flags_match_the_model_exposures(ds: xr.Dataset) -> None:
    attrs = ds["exposure"].attrs
    values = np.asarray(attrs["flag_values"])
    assert values.dtype == np.int8
    np.testing.assert_array_equal(values, np.arange(3))
    assert attrs["flag_meanings"].split() == ["off", "on", "high"]
    assert set(np.unique(ds["exposure"].values)) <= set(values.tolist())


def test_status_flags_name_every_status(ds: xr.Dataset) -> None:
    attrs = ds["status"].attrs
    values = np.asarray(attrs["flag_values"])
    assert values.dtype == np.int8
    np.testing.assert_array_equal(values, np.arange(len(STATUS_NAMES)))
    assert attrs["flag_meanings"].split() == STATUS_NAMES
    assert set(np.unique(ds["status"].values)) <= set(values.tolist())


def test_exposure_codes_follow_the_schedule(ds: xr.Dataset) -> None:
    expected = dg.Schedule.from_dict(SCHEDULE).exposure_at(ds["time"].values)
    names = np.asarray(ds["exposure"].attrs["flag_meanings"].split())[ds["exposure"].values]
    for row in names:
        np.testing.assert_array_equal(row, expected)


def test_global_attrs_are_present_and_decodable(ds: xr.Dataset) -> None:
    for key in GLOBAL_ATTRS:
        assert key in ds.attrs, key
    model = dg.Model.from_json(ds.attrs["model"])
    assert model == dg.Model.from_dict(MODEL)
    assert json.loads(ds.attrs["schedule"]) == dg.Schedule.from_dict(SCHEDULE).to_dict()
    run = json.loads(ds.attrs["run"])
    assert run["initial"] == {"S": 40, "P": 5, "R": 0}
    assert run["t_end"] == RUN["t_end"]
    assert run["n_replicates"] == RUN["n_replicates"]
    assert run["seed"] == RUN["seed"]
    assert ds.attrs["seed"] == RUN["seed"]
    assert isinstance(ds.attrs["rng"], str)
    assert "ChaCha" in ds.attrs["rng"]
    assert ds.attrs["dtp_gillespie_version"] == dg.__version__
    assert datetime.fromisoformat(ds.attrs["created_at"]).tzinfo is not None
    assert ds.attrs["schema_version"] == "1"


def test_attrs_survive_a_json_round_trip(ds: xr.Dataset) -> None:
    for key, value in ds.attrs.items():
        assert json.loads(json.dumps(value)) == value, key


def test_replicate_coordinate_honours_replicate_offset() -> None:
    ds = dg.simulate(MODEL, SCHEDULE, **{**RUN, "n_replicates": 3}, replicate_offset=7)
    np.testing.assert_array_equal(ds["replicate"].values, [7, 8, 9])
    assert ds["replicate"].dtype == np.int64
    assert json.loads(ds.attrs["run"])["replicate_offset"] == 7


def test_the_same_replicate_index_gives_the_same_trajectory(ds: xr.Dataset) -> None:
    part = dg.simulate(MODEL, SCHEDULE, **{**RUN, "n_replicates": 2}, replicate_offset=3)
    xr.testing.assert_identical(part["count"], ds["count"].sel(replicate=[3, 4]))
    xr.testing.assert_identical(part["n_events"], ds["n_events"].sel(replicate=[3, 4]))


def test_changing_one_result_does_not_reach_the_next() -> None:
    # Results of the same layout are built from one cached template: editing a result's data,
    # attrs or variable attrs must leave later results as they would be without the edit.
    first = dg.simulate(MODEL, SCHEDULE, **RUN)
    first["count"].values[...] = -7
    first["count"].attrs["units"] = "edited"
    first.attrs["seed"] = -1
    first["status"].attrs["flag_meanings"] = "edited"
    with pytest.raises(ValueError, match="read-only"):
        first["status"].attrs["flag_values"][0] = 9
    for coord in ("replicate", "time", "cell_state"):
        with pytest.raises(ValueError, match="read-only"):
            first[coord].values[0] = first[coord].values[-1]
    second = dg.simulate(MODEL, SCHEDULE, **RUN)
    assert second["count"].attrs["units"] == "1"
    assert second["status"].attrs["flag_meanings"] == " ".join(STATUS_NAMES)
    assert second.attrs["seed"] == RUN["seed"]
    assert (second["count"].values >= 0).all()
    assert second["count"].values.flags.writeable
    np.testing.assert_array_equal(second["replicate"].values, np.arange(RUN["n_replicates"]))
    np.testing.assert_array_equal(second["time"].values, np.arange(0.0, 6.25, 0.5))
    assert list(second["cell_state"].values) == ["S", "P", "R"]


def test_large_runs_build_the_same_dataset_without_the_template_cache(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cached = dg.simulate(MODEL, SCHEDULE, **RUN)
    monkeypatch.setattr("dtp_gillespie._dataset._CACHED_REPLICATES", 0)
    uncached = dg.simulate(MODEL, SCHEDULE, **RUN)
    xr.testing.assert_identical(without_created_at(uncached), without_created_at(cached))


# --- seeding (SPEC 7) and reproduce ---------------------------------------------------------------
def test_reproduce_a_seeded_run_is_identical(ds: xr.Dataset) -> None:
    again = dg.reproduce(ds)
    xr.testing.assert_identical(without_created_at(again), without_created_at(ds))


def test_reproduce_with_explicit_times_offset_and_caps() -> None:
    with pytest.warns(UserWarning, match="stopped early"):
        ds = dg.simulate(
            MODEL,
            {"kind": "intermittent", "on": 1.5, "off": 0.5, "delay": 0.25},
            initial={"S": 40},
            t_end=5.0,
            times=[0.0, 0.3, 1.7, 4.99],
            n_replicates=4,
            replicate_offset=11,
            seed=5,
            max_events=60,
        )
    with pytest.warns(UserWarning, match="stopped early"):
        again = dg.reproduce(ds, n_threads=1)
    xr.testing.assert_identical(without_created_at(again), without_created_at(ds))


def test_seed_none_records_the_entropy_and_reproduces() -> None:
    ds = dg.simulate(MODEL, SCHEDULE, **{**RUN, "seed": None})
    seed = ds.attrs["seed"]
    assert isinstance(seed, int)
    assert seed >= 0
    assert json.loads(ds.attrs["run"])["seed"] == seed
    xr.testing.assert_identical(without_created_at(dg.reproduce(ds)), without_created_at(ds))
    same = dg.simulate(MODEL, SCHEDULE, **{**RUN, "seed": seed})
    xr.testing.assert_identical(without_created_at(same), without_created_at(ds))


def test_seed_none_draws_fresh_entropy_each_time() -> None:
    seeds = {dg.simulate(MODEL, SCHEDULE, **{**RUN, "seed": None}).attrs["seed"] for _ in range(3)}
    assert len(seeds) == 3


def test_seed_sequence_is_the_same_as_its_integer_entropy(ds: xr.Dataset) -> None:
    from_ss = dg.simulate(MODEL, SCHEDULE, **{**RUN, "seed": np.random.SeedSequence(RUN["seed"])})
    assert from_ss.attrs["seed"] == RUN["seed"]
    xr.testing.assert_identical(without_created_at(from_ss), without_created_at(ds))


def test_spawned_seed_sequence_is_recorded_and_reproduced(ds: xr.Dataset) -> None:
    child = np.random.SeedSequence(RUN["seed"]).spawn(3)[2]
    out = dg.simulate(MODEL, SCHEDULE, **{**RUN, "seed": child, "n_replicates": 20})
    assert out.attrs["seed"] == RUN["seed"]
    assert list(out.attrs["seed_spawn_key"]) == [2]
    # A child stream differs from its parent...
    parent = dg.simulate(MODEL, SCHEDULE, **{**RUN, "n_replicates": 20})
    assert not np.array_equal(out["n_events"].values, parent["n_events"].values)
    # ...and the recorded provenance rebuilds it.
    xr.testing.assert_identical(without_created_at(dg.reproduce(out)), without_created_at(out))


def test_seed_sequence_from_a_list_of_ints_is_recorded() -> None:
    out = dg.simulate(MODEL, SCHEDULE, **{**RUN, "seed": np.random.SeedSequence([1, 2, 3])})
    assert list(out.attrs["seed"]) == [1, 2, 3]
    xr.testing.assert_identical(without_created_at(dg.reproduce(out)), without_created_at(out))


def test_generator_seed_is_recorded_and_reproduced() -> None:
    rng = np.random.default_rng(3)
    first = dg.simulate(MODEL, SCHEDULE, **{**RUN, "seed": rng})
    second = dg.simulate(MODEL, SCHEDULE, **{**RUN, "seed": rng})
    assert isinstance(first.attrs["seed"], int)
    # The Generator is advanced: two runs from it are independent.
    assert first.attrs["seed"] != second.attrs["seed"]
    by_int = dg.simulate(MODEL, SCHEDULE, **{**RUN, "seed": first.attrs["seed"]})
    xr.testing.assert_identical(without_created_at(by_int), without_created_at(first))
    xr.testing.assert_identical(without_created_at(dg.reproduce(first)), without_created_at(first))
    # The same Generator state gives the same run.
    again = dg.simulate(MODEL, SCHEDULE, **{**RUN, "seed": np.random.default_rng(3)})
    xr.testing.assert_identical(without_created_at(again), without_created_at(first))


def test_different_seeds_give_different_runs(ds: xr.Dataset) -> None:
    other = dg.simulate(MODEL, SCHEDULE, **{**RUN, "seed": RUN["seed"] + 1})
    assert not np.array_equal(other["count"].values, ds["count"].values)


def test_reproduce_rejects_a_dataset_without_provenance(ds: xr.Dataset) -> None:
    bare = ds.copy()
    bare.attrs = {}
    with pytest.raises(dg.errors.InvalidRunError, match="model"):
        dg.reproduce(bare)


# --- model and schedule specs ---------------------------------------------------------------------
def test_model_round_trips_through_its_dict() -> None:
    model = dg.Model.from_dict(MODEL)
    spec = model.to_dict()
    assert dg.Model.from_dict(spec) == model
    assert dg.Model.from_dict(spec).to_dict() == spec
    assert dg.Model.from_json(model.to_json()) == model
    assert json.loads(json.dumps(spec)) == spec
    assert model.states == ("S", "P", "R")
    assert model.genetic_states == ("R",)
    assert model.exposures == ("off", "on", "high")


def test_model_and_schedule_pickle() -> None:
    model = dg.Model.from_dict(MODEL)
    schedule = dg.Schedule.from_dict(SCHEDULE)
    assert pickle.loads(pickle.dumps(model)) == model
    assert pickle.loads(pickle.dumps(schedule)) == schedule


@given(model_specs())
def test_any_valid_model_round_trips_through_its_dict(spec: dict[str, Any]) -> None:
    model = dg.Model.from_dict(spec)
    normalised = model.to_dict()
    again = dg.Model.from_dict(normalised)
    assert again == model
    assert again.to_dict() == normalised
    assert dg.Model.from_json(model.to_json()) == model
    assert again.compile() == model.compile()


@given(schedule_specs(["off", "on", "high"]))
def test_any_valid_schedule_round_trips_through_its_dict(spec: dict[str, Any]) -> None:
    schedule = dg.Schedule.from_dict(spec)
    again = dg.Schedule.from_dict(schedule.to_dict())
    assert again == schedule
    assert dg.Schedule.from_dict(json.loads(schedule.to_json())) == schedule
    t = np.linspace(0.0, 10.0, 101)
    np.testing.assert_array_equal(again.exposure_at(t), schedule.exposure_at(t))


def test_schedule_builders_match_their_specs() -> None:
    assert dg.Schedule.intermittent(14, 14) == dg.Schedule.from_dict(
        {"kind": "intermittent", "on": 14, "off": 14}
    )
    assert dg.Schedule.continuous("on") == dg.Schedule.from_dict({"kind": "continuous"})
    piecewise = dg.Schedule.piecewise([(0, "off"), (30, "on"), (60, "off")])
    assert piecewise.exposure_at(0.0) == "off"
    assert piecewise.exposure_at(30.0) == "on"
    assert piecewise.exposure_at(59.999) == "on"
    assert piecewise.exposure_at(60.0) == "off"
    assert piecewise.exposure_at(1e6) == "off"


def test_intermittent_schedule_semantics() -> None:
    schedule = dg.Schedule.intermittent(on=2, off=3, delay=1)
    t = np.array([0.0, 0.99, 1.0, 2.99, 3.0, 5.99, 6.0, 8.0, 11.0])
    expected = ["off", "off", "on", "on", "off", "off", "on", "off", "on"]
    assert schedule.exposure_at(t).tolist() == expected
    first_off = dg.Schedule.intermittent(on=2, off=3, first="off")
    assert first_off.exposure_at(np.array([0.0, 2.99, 3.0, 4.99, 5.0])).tolist() == [
        "off",
        "off",
        "on",
        "on",
        "off",
    ]


# --- the README example and the progress bar ------------------------------------------------------
def example_model() -> dg.Model:
    with resources.as_file(
        resources.files("dtp_gillespie").joinpath("examples/default.toml")
    ) as path:
        return dg.Model.from_toml(path)


def test_readme_example_call_runs() -> None:
    ds = dg.simulate(
        example_model(),
        {"kind": "intermittent", "on": 14, "off": 14},
        initial={"S": 10_000},
        t_end=168,
        record_every=1.0,
        n_replicates=2,
        seed=42,
    )
    assert dict(ds.sizes) == {"replicate": 2, "time": 169, "cell_state": 3}
    np.testing.assert_array_equal(ds["time"].values, np.arange(169.0))
    np.testing.assert_array_equal(ds["count"].values[:, 0], [[10_000, 0, 0]] * 2)
    # 14 days on, 14 days off: day 13 is on, day 14 off, day 28 on again.
    on = ds["exposure"].attrs["flag_meanings"].split().index("on")
    exposure = ds["exposure"].values[0]
    assert exposure[0] == exposure[13] == exposure[28] == on
    assert exposure[14] != on
    assert np.all(ds["status"].values == 0)


def test_progress_bar_does_not_change_the_result(
    ds: xr.Dataset, capsys: pytest.CaptureFixture[str]
) -> None:
    with warnings.catch_warnings():
        # tqdm may warn that it falls back to the text bar outside a notebook.
        warnings.simplefilter("ignore", category=Warning)
        shown = dg.simulate(MODEL, SCHEDULE, **RUN, progress=True)
        labelled = dg.simulate(MODEL, SCHEDULE, **RUN, progress="ensemble")
    err = capsys.readouterr().err
    assert "ensemble" in err
    assert "5/5" in err
    xr.testing.assert_identical(without_created_at(shown), without_created_at(ds))
    xr.testing.assert_identical(without_created_at(labelled), without_created_at(ds))
