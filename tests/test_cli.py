"""The command line, run as a user would: ``python -m dtp_gillespie`` and ``dtp-gillespie``."""

import json
import math
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import dtp_gillespie as dg
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from dtp_gillespie import cli as command_line
from models import SPR_TOML
from strategies import without_created_at

CONFIG = (
    SPR_TOML
    + """\

[schedule]
kind = "intermittent"
on   = 2
off  = 1

[run]
initial      = { S = 30, P = 2 }
t_end        = 6
record_every = 0.5
n_replicates = 20
seed         = 11
"""
)


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dtp_gillespie", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def write_config(tmp_path: Path, text: str = CONFIG, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def assert_clean_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "error:" in result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


# --- the bundled example --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def example(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], Path]:
    tmp = tmp_path_factory.mktemp("example")
    out = tmp / "example.zarr"
    result = cli("run", "--out", str(out), "--replicates", "50", "--no-progress", cwd=tmp)
    return result, out


def test_bundled_example_runs(example: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    result, out = example
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert out.is_dir()


def test_bundled_example_summary_names_the_schedules_and_the_extinction_fraction(
    example: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    result, out = example
    text = result.stdout
    assert "schedule 'continuous'" in text
    assert "schedule 'intermittent'" in text
    fractions = re.findall(r"extinct: ([0-9.]+)% \((\d+) of (\d+)\)", text)
    assert len(fractions) == 2
    for (percent, hits, n), group in zip(fractions, ("continuous", "intermittent"), strict=True):
        ds = dg.open_run(out, group=group)
        extinct = np.isfinite(ds["extinction_time"].values)
        assert int(n) == 50
        assert int(hits) == int(extinct.sum())
        assert float(percent) == pytest.approx(100 * extinct.mean(), abs=0.05)


def test_bundled_example_store_has_the_groups_it_reports(
    example: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    result, out = example
    assert "group 'continuous'" in result.stdout
    assert "group 'intermittent'" in result.stdout
    seeds = set()
    for group, kind in (("continuous", "continuous"), ("intermittent", "intermittent")):
        ds = dg.open_run(out, group=group, load=True)
        assert ds.sizes["replicate"] == 50
        assert json.loads(ds.attrs["schedule"])["kind"] == kind
        assert json.loads(ds.attrs["run"])["n_replicates"] == 50
        assert list(ds["cell_state"].values) == ["S", "P", "R"]
        seeds.add(ds.attrs["seed"])
    assert len(seeds) == 1  # common random numbers across schedules


# --- a user config --------------------------------------------------------------------------------
def test_user_config_runs_and_matches_simulate(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    out = tmp_path / "user.zarr"
    result = cli(
        "run", str(config), "--out", str(out), "--no-progress", "--threads", "1", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "store root" in result.stdout
    assert "extinct:" in result.stdout
    stored = dg.open_run(out, load=True)
    expected = dg.simulate(
        json.loads(stored.attrs["model"]),
        {"kind": "intermittent", "on": 2, "off": 1},
        initial={"S": 30, "P": 2},
        t_end=6,
        record_every=0.5,
        n_replicates=20,
        seed=11,
    )
    xr.testing.assert_identical(without_created_at(stored), without_created_at(expected))


def test_replicates_and_seed_overrides_are_recorded(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    out = tmp_path / "override.zarr"
    result = cli(
        "run",
        str(config),
        "--out",
        str(out),
        "--replicates",
        "7",
        "--seed",
        "123",
        "--no-progress",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    ds = dg.open_run(out)
    assert ds.sizes["replicate"] == 7
    assert ds.attrs["seed"] == 123
    run: dict[str, Any] = json.loads(ds.attrs["run"])
    assert run["n_replicates"] == 7
    assert run["seed"] == 123
    assert "7 replicates" in result.stdout


def test_config_without_seed_records_a_fresh_one(tmp_path: Path) -> None:
    config = write_config(tmp_path, CONFIG.replace("seed         = 11\n", ""))
    out = tmp_path / "fresh.zarr"
    result = cli("run", str(config), "--out", str(out), "--no-progress", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    ds = dg.open_run(out, load=True)
    assert isinstance(ds.attrs["seed"], int)
    xr.testing.assert_identical(without_created_at(dg.reproduce(ds)), without_created_at(ds))


BAD_CONFIGS = [
    pytest.param(
        CONFIG.replace("P = 0.05", "P = -0.05"), ("division", "-0.05"), id="negative-rate"
    ),
    pytest.param(CONFIG.replace("seed         = 11", "sede = 11"), ("sede",), id="unknown-run-key"),
    pytest.param(CONFIG.replace("on   = 2", "on   = 0"), ("on", "0"), id="zero-duration"),
    pytest.param(CONFIG.replace("[run]", "[runn]"), ("runn",), id="unknown-table"),
    pytest.param(CONFIG.replace("kind = ", "kind == "), ("TOML",), id="invalid-toml"),
]


@pytest.mark.parametrize(("text", "fragments"), BAD_CONFIGS)
def test_bad_config_exits_2_with_a_clean_error(
    tmp_path: Path, text: str, fragments: tuple[str, ...]
) -> None:
    config = write_config(tmp_path, text)
    out = tmp_path / "bad.zarr"
    result = cli("run", str(config), "--out", str(out), "--no-progress", cwd=tmp_path)
    assert_clean_error(result, *fragments)
    assert not out.exists()


def test_missing_config_file_exits_2(tmp_path: Path) -> None:
    result = cli(
        "run", str(tmp_path / "nope.toml"), "--out", str(tmp_path / "x.zarr"), cwd=tmp_path
    )
    assert_clean_error(result, "nope.toml")


def test_existing_output_is_not_overwritten_without_overwrite(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    out = tmp_path / "twice.zarr"
    first = cli("run", str(config), "--out", str(out), "--no-progress", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    again = cli("run", str(config), "--out", str(out), "--seed", "5", "--no-progress", cwd=tmp_path)
    assert_clean_error(again, "--overwrite")
    assert dg.open_run(out).attrs["seed"] == 11  # untouched
    forced = cli(
        "run",
        str(config),
        "--out",
        str(out),
        "--seed",
        "5",
        "--overwrite",
        "--no-progress",
        cwd=tmp_path,
    )
    assert forced.returncode == 0, forced.stderr
    assert dg.open_run(out).attrs["seed"] == 5


def test_overwrite_refuses_a_path_that_is_not_a_zarr_store(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("keep me", encoding="utf-8")
    result = cli(
        "run", str(config), "--out", str(precious), "--overwrite", "--no-progress", cwd=tmp_path
    )
    assert_clean_error(result, "not a zarr store")
    assert (precious / "thesis.tex").read_text(encoding="utf-8") == "keep me"


def test_a_binary_config_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "image.toml"
    config.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    result = cli("run", str(config), "--out", str(tmp_path / "x.zarr"), cwd=tmp_path)
    assert_clean_error(result, "image.toml", "UTF-8", "0x89")


def test_an_unwritable_out_exits_2(tmp_path: Path) -> None:
    # A path under a regular file cannot be created (as root too, unlike a read-only directory).
    config = write_config(tmp_path)
    (tmp_path / "plain.txt").write_text("keep me", encoding="utf-8")
    out = tmp_path / "plain.txt" / "run.zarr"
    result = cli("run", str(config), "--out", str(out), "--no-progress", cwd=tmp_path)
    assert_clean_error(result, str(out), "Not a directory")
    assert (tmp_path / "plain.txt").read_text(encoding="utf-8") == "keep me"


def test_running_out_of_memory_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def too_large(*args: Any, **kwargs: Any) -> None:
        raise MemoryError("Unable to allocate 7.28 TiB")

    monkeypatch.setattr(command_line, "simulate", too_large)
    config = write_config(tmp_path)
    status = command_line.main(
        ["run", str(config), "--out", str(tmp_path / "x.zarr"), "--no-progress"]
    )
    assert status == 2
    assert "error: out of memory: Unable to allocate 7.28 TiB" in capsys.readouterr().err


@pytest.mark.parametrize(
    "name",
    [
        pytest.param('"zarr.json"', id="zarr-metadata"),
        pytest.param('"ZARR.JSON"', id="zarr-metadata-upper"),
        pytest.param('"a\\u0000b"', id="nul-byte"),
        pytest.param('"a\\\\..\\\\b"', id="backslash-dotdot"),
        pytest.param('"a/b"', id="slash"),
        pytest.param('".hidden"', id="leading-dot"),
        pytest.param('"_progress"', id="leading-underscore"),
        pytest.param('"two words"', id="space"),
        pytest.param('""', id="empty"),
    ],
)
def test_schedule_names_that_cannot_name_a_zarr_group_exit_2(tmp_path: Path, name: str) -> None:
    text = CONFIG.replace("[schedule]", f"[schedules.{name}]")
    config = write_config(tmp_path, text)
    out = tmp_path / "named.zarr"
    result = cli("run", str(config), "--out", str(out), "--no-progress", cwd=tmp_path)
    assert_clean_error(result, "schedule name", "letters, digits")
    assert not out.exists()


def test_a_schedule_name_of_allowed_characters_runs(tmp_path: Path) -> None:
    config = write_config(tmp_path, CONFIG.replace("[schedule]", '[schedules."q2.5_on-off"]'))
    out = tmp_path / "named.zarr"
    result = cli("run", str(config), "--out", str(out), "--no-progress", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert dg.open_run(out, group="q2.5_on-off").sizes["replicate"] == 20


def test_version(tmp_path: Path) -> None:
    result = cli("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"dtp-gillespie {dg.__version__}"


def test_bad_command_line_exits_2(tmp_path: Path) -> None:
    result = cli("run", "--replicates", "many", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(shutil.which("dtp-gillespie") is None, reason="dtp-gillespie not on PATH")
def test_entry_point_on_path(tmp_path: Path) -> None:
    exe = shutil.which("dtp-gillespie")
    assert exe is not None
    version = subprocess.run(
        [exe, "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert version.returncode == 0
    assert dg.__version__ in version.stdout
    config = write_config(tmp_path)
    out = tmp_path / "entry.zarr"
    result = subprocess.run(
        [exe, "run", str(config), "--out", str(out), "--replicates", "3", "--no-progress"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert dg.open_run(out).sizes["replicate"] == 3


def test_a_pk_run_reports_time_on_drug_and_the_drug_areas(tmp_path: Path) -> None:
    # Three doses with a half-life of 0.25 d: on drug while the response is >= 5% of its maximum.
    config = CONFIG.replace(
        'kind = "intermittent"\non   = 2\noff  = 1',
        'kind = "pk"\ndose = 10.0\ndose_times = [0, 1, 2]\nhalf_life = 0.25',
    )
    out = tmp_path / "pk.zarr"
    result = cli(
        "run", str(write_config(tmp_path, config)), "--out", str(out), "--no-progress", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    ds = dg.open_run(out)
    on = float(ds["time_on_drug"].mean())
    # The doses overlap (C at day 1 and 2 is 1/16 of a dose), so the drug is on from day 0 until
    # C from the last dose falls to the on concentration EC50·0.05/0.95.
    k, c_last = math.log(2) / 0.25, 10.0 * (1 + 2**-4 + 2**-8)
    assert math.isclose(on, 2 + math.log(c_last / (0.05 / 0.95)) / k, rel_tol=1e-9)
    assert f"time on drug: mean {on:.4g}" in result.stdout
    c, r = (float(ds[name].mean()) for name in ("auc_concentration", "auc_response"))
    assert f"drug (pk): mean area under the concentration {c:.4g}, under the response {r:.4g}" in (
        result.stdout
    )


# --- summary of a stored run (issue 14, item 7) ---------------------------------------------------
# CONFIG with two named schedules instead of one, and progression tracked.
TWO_SCHEDULES = (
    CONFIG.replace(
        '[schedule]\nkind = "intermittent"',
        '[schedules.continuous]\nkind = "continuous"\nexposure = "on"\n\n'
        '[schedules.holiday]\nkind = "intermittent"',
    )
    + "progression  = { factor = 2.0, min_size = 40 }\n"
)
assert "[schedules.holiday]" in TWO_SCHEDULES


@pytest.fixture(scope="module")
def two_schedules(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], Path]:
    tmp = tmp_path_factory.mktemp("two")
    out = tmp / "two.zarr"
    config = write_config(tmp, TWO_SCHEDULES)
    result = cli("run", str(config), "--out", str(out), "--no-progress", cwd=tmp)
    assert result.returncode == 0, result.stderr
    return result, out


def without_wall_time(text: str) -> list[str]:
    """Summary lines, without the run's wall time (a stored run has none) and the 'wrote' line."""
    lines = [
        re.sub(r"wall time [^,]+, (.*events), .* events/s", r"\1", line)
        for line in text.splitlines()
    ]
    return [line for line in lines if not line.startswith("wrote ")]


def test_summary_reprints_the_run_summary_of_every_group(
    two_schedules: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    run, out = two_schedules
    again = cli("summary", str(out), cwd=out.parent)
    assert again.returncode == 0, again.stderr
    assert without_wall_time(again.stdout) == without_wall_time(run.stdout)
    assert "schedule 'continuous'" in again.stdout
    assert "schedule 'holiday'" in again.stdout
    # The mutant and progressed lines are percentages of the replicates, matching the data.
    for label, var in (("with a mutant", "first_mutant_time"), ("progressed", "progression_time")):
        found = re.findall(rf"{label}: ([0-9.]+)% \((\d+) of 20\)", again.stdout)
        assert len(found) == 2, again.stdout
        for (percent, hits), group in zip(found, ("continuous", "holiday"), strict=True):
            has = np.isfinite(dg.open_run(out, group=group)[var].values)
            assert int(hits) == int(has.sum())
            assert float(percent) == pytest.approx(100 * has.mean(), abs=0.05)
    one = cli("summary", str(out), "--group", "holiday", cwd=out.parent)
    assert one.returncode == 0, one.stderr
    assert "schedule 'holiday'" in one.stdout
    assert "continuous" not in one.stdout
    assert_clean_error(cli("summary", str(out.parent / "absent.zarr"), cwd=out.parent))


def test_summary_csv_writes_one_row_per_replicate_and_group(
    two_schedules: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    _, out = two_schedules
    csv = out.parent / "table.csv"
    result = cli("summary", str(out), "--csv", str(csv), cwd=out.parent)
    assert result.returncode == 0, result.stderr
    assert f"wrote {csv} (40 replicates)" in result.stdout
    table = pd.read_csv(csv)
    assert len(table) == 40
    for group in ("continuous", "holiday"):
        ds = dg.open_run(out, group=group, load=True)
        rows = table[table["group"] == group].sort_values("replicate")
        np.testing.assert_array_equal(rows["replicate"], ds["replicate"].values)
        for var in ("extinction_time", "first_mutant_time", "progression_time", "n_events"):
            np.testing.assert_array_equal(rows[var].to_numpy(), ds[var].values)
        names = {code: label for label, code in dg.conventions.STATUS_CODES.items()}
        assert list(rows["status"]) == [names[int(c)] for c in ds["status"].values]
        final = ds["count"].isel(time=-1)
        for state in ("S", "P", "R"):
            np.testing.assert_array_equal(rows[f"final_{state}"], final.sel(cell_state=state))
    # The user's file is not replaced without --overwrite.
    csv.write_text("mine", encoding="utf-8")
    assert_clean_error(cli("summary", str(out), "--csv", str(csv), cwd=out.parent), "exists")
    assert csv.read_text(encoding="utf-8") == "mine"
    again = cli("summary", str(out), "--csv", str(csv), "--overwrite", cwd=out.parent)
    assert again.returncode == 0, again.stderr
    assert len(pd.read_csv(csv)) == 40


# --- small things (issue 14, item 9) --------------------------------------------------------------
def test_ctrl_c_prints_the_resume_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(args: Any) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(command_line, "_cmd_run", interrupted)
    argv = ["run", "my config.toml", "--out", "out.zarr", "-n", "500", "--summary-only"]
    assert command_line.main(argv) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err
    command = err.strip().splitlines()[-1].strip()
    assert command == (
        "dtp-gillespie run 'my config.toml' --out out.zarr --replicates 500 --summary-only --resume"
    )
    # The command is the same run with --resume, as the parser reads it.
    parsed = command_line._parser().parse_args(shlex.split(command)[1:])
    original = command_line._parser().parse_args(argv)
    assert parsed.resume
    assert vars(parsed) | {"resume": False} == vars(original)
    # Other commands have nothing to resume.
    monkeypatch.setattr(command_line, "_cmd_summary", interrupted)
    assert command_line.main(["summary", "out.zarr"]) == 130
    assert "--resume" not in capsys.readouterr().err


def test_report_without_matplotlib_is_a_clean_error(
    two_schedules: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    _, out = two_schedules
    # matplotlib made unimportable, as on an install without the `plot` extra.
    code = (
        "import sys; sys.modules['matplotlib'] = None; sys.modules['matplotlib.pyplot'] = None\n"
        "from dtp_gillespie.cli import main\n"
        f"sys.exit(main(['report', {str(out)!r}, '--out', 'r.png']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=out.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert_clean_error(result, "matplotlib", 'pip install "dtp-gillespie[plot]"')
    assert not (out.parent / "r.png").exists()


def test_plot_extra_and_its_examples_alias_install_matplotlib() -> None:
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    extras = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"][
        "optional-dependencies"
    ]
    for name in ("plot", "examples"):
        assert any(req.startswith("matplotlib") for req in extras[name]), name


def test_bundled_example_has_round_rates_and_an_informative_answer(
    example: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    result, _ = example
    config = tomllib.loads(
        (Path(dg.__file__).parent / "examples" / "default.toml").read_text(encoding="utf-8")
    )
    rates: list[float] = []

    def collect(value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                if key not in ("from", "to", "name"):
                    collect(inner)
        elif isinstance(value, list):
            for inner in value:
                collect(inner)
        elif isinstance(value, float):
            rates.append(value)

    model = config["model"]
    collect([model["division"], model["death"], model["switch"], model["mutation"]])
    # Round: at most two significant digits (no 0.0400001 or 2.4999938e-6).
    assert rates
    assert all(float(f"{r:.2g}") == r for r in rates), rates
    # Progression tracked, with a floor, so the summary answers the question it asks.
    assert config["run"]["progression"]["min_size"] > 0
    assert "progressed:" in result.stdout
    # The mutation probabilities leave resistance a question: not every replicate mutates.
    hits = [int(k) for k in re.findall(r"with a mutant: [0-9.]+% \((\d+) of 50\)", result.stdout)]
    assert len(hits) == 2
    assert all(k < 50 for k in hits), result.stdout
