"""Protocol specs: building in Python and from TOML give the same protocol, and bad input gets a
typed error naming the field (a split into 0 flasks, a bottleneck larger than the population, a
passage fraction outside (0, 1], a step naming an unknown schedule, an unknown barcode mode,
B < 1, unknown steps and keys)."""

from pathlib import Path

import dtp_gillespie as dg
import pytest
from dtp_gillespie.errors import InvalidRunError, InvalidScheduleError

MODEL = {
    "states": ["S", "P"],
    "exposures": ["off", "on"],
    "division": {"S": 0.7, "P": 0.04},
    "death": {"S": {"off": 0.05, "on": 3.0}, "P": 0.04},
    "switch": [{"from": "S", "to": "P", "rate": 0.01}],
}

TOML = """
[model]
states = ["S", "P"]
exposures = ["off", "on"]
division = { S = 0.7, P = 0.04 }
death = { S = { off = 0.05, on = 3.0 }, P = 0.04 }
switch = [{ from = "S", to = "P", rate = 0.01 }]

[schedules.expand]
kind = "continuous"
exposure = "off"

[schedules.drug]
kind = "continuous"
exposure = "on"

[protocol]
initial = { S = 200 }
barcodes = "founders"

[[protocol.steps]]
step = "grow"
schedule = "expand"
duration = 2.0

[[protocol.steps]]
step = "count"

[[protocol.steps]]
step = "split"
flasks = 2

[[protocol.steps]]
step = "passage"
fraction = 0.5

[[protocol.steps]]
step = "treat"
schedule = "drug"
duration = 3.0

[[protocol.steps]]
step = "count"

[run]
n_replicates = 4
seed = 11
"""


def python_form() -> dg.Protocol:
    schedules = {
        "expand": dg.Schedule.continuous("off"),
        "drug": {"kind": "continuous", "exposure": "on"},
    }
    return (
        dg.Protocol(MODEL, initial={"S": 200}, barcodes="founders", schedules=schedules)
        .grow("expand", 2.0)
        .count()
        .split(2)
        .passage(0.5)
        .treat("drug", 3.0)
        .count()
    )


def test_toml_and_python_forms_are_the_same_protocol(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(TOML, encoding="utf-8")
    from_file, run = dg.protocol.load_protocol(path)
    assert run == {"n_replicates": 4, "seed": 11}
    assert from_file == python_form()
    assert dg.Protocol.from_toml(TOML) == python_form()
    assert dg.Protocol.from_dict(python_form().to_dict()) == python_form()
    assert python_form().n_flasks() == 2


@pytest.mark.parametrize(
    ("given", "spec"),
    [
        ("founders", "founders"),
        (dg.Barcodes.founders(), "founders"),
        (7, 7),
        (dg.Barcodes.library(7), 7),
        (None, None),
    ],
)
def test_barcodes_take_the_same_values_as_simulate(given: object, spec: object) -> None:
    p = dg.Protocol(MODEL, initial={"S": 5}, barcodes=given)  # type: ignore[arg-type]
    assert p.to_dict()["protocol"]["barcodes"] == spec


def test_an_exposure_name_is_a_continuous_schedule_and_round_trips() -> None:
    p = dg.Protocol(MODEL, initial={"S": 10}).grow("off", 1.0).count()
    spec = p.to_dict()["protocol"]["steps"][0]
    assert spec["schedule"] == {"kind": "continuous", "exposure": "off"}
    assert dg.Protocol.from_dict(p.to_dict()) == p


def base() -> dg.Protocol:
    return dg.Protocol(MODEL, initial={"S": 100, "P": 5})


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda: base().split(0), InvalidRunError, r"steps\[0\]\.flasks is 0"),
        (lambda: base().split(2.5), InvalidRunError, r"steps\[0\]\.flasks is 2\.5"),
        (lambda: base().split(1000).split(1000), InvalidRunError, r"steps\[1\]\.flasks is 1000"),
        (lambda: base().passage(0), InvalidRunError, r"steps\[0\]\.fraction is 0"),
        (lambda: base().passage(1.5), InvalidRunError, r"steps\[0\]\.fraction is 1\.5"),
        (lambda: base().passage(float("nan")), InvalidRunError, r"fraction is nan"),
        (lambda: base().passage(True), InvalidRunError, r"fraction is True"),
        (lambda: base().bottleneck(0), InvalidRunError, r"steps\[0\]\.cells is 0"),
        (lambda: base().bottleneck(106), InvalidRunError, r"steps\[0\]\.cells is 106; larger"),
        (
            lambda: base().bottleneck(50).split(2).bottleneck(60),
            InvalidRunError,
            r"steps\[2\]\.cells is 60; larger than the population, which is at most 50",
        ),
        (lambda: base().grow("off", 0), InvalidRunError, r"steps\[0\]\.duration is 0"),
        (lambda: base().grow("off", float("inf")), InvalidRunError, r"duration is inf"),
        (
            lambda: base().grow("nowhere", 1),
            InvalidScheduleError,
            r"steps\[0\]\.schedule is 'nowhere'",
        ),
        (lambda: base().grow(3, 1), InvalidScheduleError, r"steps\[0\]\.schedule is 3"),
        (
            lambda: base().grow({"kind": "continuous", "exposure": "high"}, 1),
            InvalidScheduleError,
            r"steps\[0\]\.schedule: .*high",
        ),
        (
            lambda: dg.Protocol(MODEL, initial={"S": 5}, barcodes="clones"),
            InvalidRunError,
            r"barcodes is 'clones'",
        ),
        (
            lambda: dg.Protocol(MODEL, initial={"S": 5}, barcodes=0),
            InvalidRunError,
            r"barcodes \(number of barcodes B\) is 0; it must be a whole number >= 1",
        ),
        (
            lambda: dg.Protocol(MODEL, initial={"S": 5}, barcodes=2.5),
            InvalidRunError,
            r"barcodes \(number of barcodes B\) is 2\.5",
        ),
        (lambda: dg.Protocol(MODEL, initial={"X": 5}), InvalidRunError, r"unknown state 'X'"),
        (
            lambda: dg.Protocol(MODEL, initial={"S": 5}, steps=[{"step": "wash"}]),
            InvalidRunError,
            r"steps\[0\]\.step is 'wash'",
        ),
        (
            lambda: dg.Protocol(MODEL, initial={"S": 5}, steps=[{"step": "split", "flask": 2}]),
            InvalidRunError,
            r"unknown key 'flask' in steps\[0\]",
        ),
        (
            lambda: dg.Protocol(MODEL, initial={"S": 5}, steps=[{"step": "split"}]),
            InvalidRunError,
            r"steps\[0\] \(split\) has no 'flasks'",
        ),
        (lambda: base().grow("off", 1).run(), InvalidRunError, r"no count step"),
        (lambda: base().count().run(0), InvalidRunError, r"n_replicates is 0"),
        (lambda: base().count().run(2, block_size=0), InvalidRunError, r"block_size is 0"),
        (lambda: base().count().run(2, max_events=0), InvalidRunError, r"max_events is 0"),
        (lambda: base().count().run(2, seed=-1), InvalidRunError, r"seed is -1"),
    ],
)
def test_bad_input_names_the_field(build: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        build()  # type: ignore[operator]


def test_toml_step_naming_an_unknown_schedule_is_refused() -> None:
    text = TOML.replace('schedule = "drug"', 'schedule = "drugs"')
    with pytest.raises(InvalidScheduleError, match=r"steps\[4\]\.schedule is 'drugs'"):
        dg.Protocol.from_toml(text)
    # an exposure name is not a schedule of the file either: declare it
    text = TOML.replace('schedule = "drug"', 'schedule = "on"')
    with pytest.raises(InvalidScheduleError, match=r"steps\[4\]\.schedule is 'on'"):
        dg.Protocol.from_toml(text)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("flasks = 2", "flasks = 0", r"steps\[2\]\.flasks is 0"),
        ("fraction = 0.5", "fraction = 0.0", r"steps\[3\]\.fraction is 0\.0"),
        ('barcodes = "founders"', 'barcodes = "random"', r"barcodes is 'random'"),
        ('barcodes = "founders"', "barcodes = 0", r"barcodes \(number of barcodes B\) is 0"),
        ("seed = 11", "seeds = 11", r"unknown key 'seeds' in \[run\]"),
        ("[protocol]", "[protocol]\nflasks = 3", r"unknown key 'flasks' in \[protocol\]"),
        ('step = "count"', 'step = "counts"', r"steps\[1\]\.step is 'counts'"),
    ],
)
def test_toml_errors_name_the_field(old: str, new: str, message: str) -> None:
    with pytest.raises(InvalidRunError, match=message):
        dg.Protocol.from_toml(TOML.replace(old, new, 1))


def test_toml_file_errors() -> None:
    with pytest.raises(InvalidRunError, match="invalid TOML"):
        dg.Protocol.from_toml("[protocol\n")
    with pytest.raises(InvalidRunError, match="cannot read"):
        dg.Protocol.from_toml("no-such-protocol.toml")
    with pytest.raises(InvalidRunError, match=r"no \[protocol\] table"):
        dg.Protocol.from_toml("[model]\nstates = ['S']\n")
