"""Counts (n_replicates, max_events, max_population, initial counts, block_size, ...) go through
one check: an int or an integral float (``1e6``, as TOML writes it) is accepted, a fraction, a bool
or a non-number is a typed error naming the field and the value."""

import json
from pathlib import Path
from typing import Any

import dtp_gillespie as dg
import pytest
from dtp_gillespie import cli as command_line
from dtp_gillespie.errors import InvalidRunError
from models import SPR, SPR_TOML

SCHEDULE = {"kind": "intermittent", "on": 2.0, "off": 1.0}
RUN: dict[str, Any] = {
    "initial": {"S": 20, "P": 2},
    "t_end": 3.0,
    "n_replicates": 4,
    "seed": 5,
    "max_events": 10**6,
    "max_population": 10**6,
}


def _with(field: str, value: Any) -> dict[str, Any]:
    if field == "initial":
        return {**RUN, "initial": {"S": value, "P": 2}}
    return {**RUN, field: value}


FIELDS = [
    ("n_replicates", 4, "n_replicates"),
    ("max_events", 10**6, "max_events"),
    ("max_population", 10**6, "max_population"),
    ("replicate_offset", 3, "replicate_offset"),
    ("initial", 20, "initial count of state 'S'"),
]


@pytest.mark.parametrize(("field", "value", "name"), FIELDS)
def test_an_integral_float_is_the_int(field: str, value: int, name: str) -> None:
    as_int = dg.simulate(SPR, SCHEDULE, **_with(field, value))
    as_float = dg.simulate(SPR, SCHEDULE, **_with(field, float(value)))
    assert json.loads(as_float.attrs["run"]) == json.loads(as_int.attrs["run"])
    assert (as_float["count"] == as_int["count"]).all()


@pytest.mark.parametrize(("field", "value", "name"), FIELDS)
@pytest.mark.parametrize("bad", [2.5, True, "4", float("nan"), float("inf")])
def test_a_non_integral_count_is_refused_naming_it(
    field: str, value: int, name: str, bad: Any
) -> None:
    with pytest.raises(InvalidRunError, match="whole number") as info:
        dg.simulate(SPR, SCHEDULE, **_with(field, bad))
    assert str(info.value).startswith(f"{name} is {bad!r}")


def test_block_size_takes_the_same_check(tmp_path: Path) -> None:
    ds = dg.simulate(SPR, SCHEDULE, **RUN, store=str(tmp_path / "a.zarr"), block_size=2.0)
    assert dg.store_status(tmp_path / "a.zarr").block_size == 2
    assert ds.sizes["replicate"] == RUN["n_replicates"]
    with pytest.raises(InvalidRunError, match=r"block_size is 1\.5; expected a whole number"):
        dg.simulate(SPR, SCHEDULE, **RUN, store=str(tmp_path / "b.zarr"), block_size=1.5)


def test_a_toml_config_may_write_counts_as_1e9(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        SPR_TOML
        + """
[schedule]
kind = "continuous"
exposure = "on"

[run]
initial = { S = 2e1, P = 2 }
t_end = 2
n_replicates = 3e0
max_events = 1e9
max_population = 1e7
seed = 1
""",
        encoding="utf-8",
    )
    out = tmp_path / "run.zarr"
    status = command_line.main(
        ["run", str(config), "--out", str(out), "--no-progress", "--replicates", "4e0"]
    )
    assert status == 0
    run = json.loads(dg.open_run(out).attrs["run"])
    assert (run["max_events"], run["max_population"], run["n_replicates"]) == (10**9, 10**7, 4)
    assert run["initial"]["S"] == 20


def test_a_fractional_replicates_option_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        command_line.main(["run", "--out", str(tmp_path / "x.zarr"), "--replicates", "1.5"])
    assert info.value.code == 2
    assert "--replicates is 1.5; expected a whole number >= 1" in capsys.readouterr().err
