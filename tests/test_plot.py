"""dg.plot renders with the Agg backend and draws the expected artists; the CLI report."""

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import dtp_gillespie as dg
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from dtp_gillespie import analysis
from dtp_gillespie import plot as dplot
from dtp_gillespie.cli import main
from dtp_gillespie.errors import InvalidRunError
from dtp_gillespie.plot import _report as plot_report
from handmade import (
    MP_EVENTS,
    MP_TIMES,
    PLACEBO_EVENTS,
    PLACEBO_TIMES,
    make_run,
    survival_run,
)
from matplotlib.collections import PolyCollection
from models import SPR_GROWING

MODEL = SPR_GROWING
RUN: dict[str, Any] = {
    "initial": {"S": 20, "P": 2},
    "t_end": 6.0,
    "record_every": 0.5,
    "n_replicates": 60,
    "seed": 9,
    "progression": {"factor": 2.0, "min_size": 0},
}


@pytest.fixture(scope="module")
def runs() -> dict[str, xr.Dataset]:
    return {
        "intermittent": dg.simulate(MODEL, {"kind": "intermittent", "on": 2, "off": 1}, **RUN),
        "continuous": dg.simulate(MODEL, "on", **RUN),
    }


@pytest.fixture(autouse=True)
def _close_figures() -> Any:
    yield
    plt.close("all")


def polys(ax: Any) -> list[PolyCollection]:
    return [c for c in ax.collections if isinstance(c, PolyCollection)]


def test_label_from_attrs(runs: dict[str, xr.Dataset]) -> None:
    ds = runs["intermittent"]
    assert dplot.label(ds["time"]) == "time (day)"
    assert dplot.label(ds["count"]) == "number of cells in each state"  # units "1" left out


def test_fan_chart_artists(runs: dict[str, xr.Dataset], tmp_path: Path) -> None:
    ds = runs["intermittent"]
    ax = dplot.fan_chart(ds)
    medians = [line for line in ax.lines if line.get_linestyle() == "-"]
    assert len(medians) == 3  # one median per state
    # R (median 0 at every time, present in a few replicates) also gets its dashed mean.
    assert ds["count"].sel(cell_state="R").median("replicate").max() == 0
    assert [line.get_label().split(" ")[:2] for line in ax.lines[3:]] == [["R", "mean"]]
    assert len(polys(ax)) == 2 * 3 + 1  # 50% and 90% bands per state + the exposure shading
    assert ax.get_xlabel() == "time (day)"
    assert ax.get_ylabel() == "number of cells in each state"
    assert ax.get_yscale() == "linear"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "on drug (treating exposure)" in legend
    np.testing.assert_allclose(
        ax.lines[0].get_ydata(), ds["count"].sel(cell_state="S").median("replicate").values
    )
    ax.figure.savefig(tmp_path / "fan.png")
    assert (tmp_path / "fan.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_fan_chart_one_state_log_no_exposure(runs: dict[str, xr.Dataset]) -> None:
    _, ax = plt.subplots()
    out = dplot.fan_chart(runs["continuous"], state="P", log=True, ax=ax, exposure=False)
    assert out is ax
    assert len(ax.lines) == 1
    assert len(polys(ax)) == 2
    # Symmetric log: counts of 0 stay on the axis (a log axis would drop them with a warning).
    assert ax.get_yscale() == "symlog"
    assert "symlog" in ax.get_ylabel()
    bottom, top = ax.get_ylim()
    counts = runs["continuous"]["count"].sel(cell_state="P")
    assert bottom == 0.0
    assert top >= float(counts.quantile(0.95, "replicate").max())


def test_fan_chart_of_a_summary_leaves_unknown_quantiles_out() -> None:
    # Every replicate reaches the population cap early: later, no count is known (n_known = 0)
    # and count_quantile is -1, which must not be drawn as a count.
    with pytest.warns(UserWarning, match="stopped early"):
        ds = dg.simulate(
            MODEL, "off", summary_only=True, max_population=30, **{**RUN, "n_replicates": 10}
        )
    q = ds["count_quantile"].sel(cell_state="S", quantile=0.5).values
    assert (q == -1).any()
    ax = dplot.fan_chart(ds, state="S")
    median = ax.lines[0].get_ydata()
    known = q >= 0
    np.testing.assert_array_equal(median[known], q[known])
    assert np.isnan(median[~known]).all()
    assert np.nanmin(polys(ax)[0].get_paths()[0].vertices[:, 1]) >= 0


def test_fan_chart_needs_one_run(runs: dict[str, xr.Dataset]) -> None:
    both = xr.concat(list(runs.values()), dim=pd.Index([0, 1], name="arm"))
    with pytest.raises(ValueError, match="select one point"):
        dplot.fan_chart(both)
    dplot.fan_chart(both.isel(arm=0))


def trial_arms() -> dict[str, xr.Dataset]:
    """The two arms of the 6-MP leukaemia trial (hand-made survival runs)."""
    return {
        "6-MP": survival_run(MP_TIMES, MP_EVENTS),
        "placebo": survival_run(PLACEBO_TIMES, PLACEBO_EVENTS),
    }


def test_km_plot_per_group() -> None:
    data = trial_arms()
    ax = dplot.km_plot(data, event="progression_time")
    assert len(ax.lines) == 2
    assert len(polys(ax)) == 2
    assert ax.get_xlabel() == "time (day)"
    assert "without the event" in ax.get_ylabel()
    assert ax.get_title() == "time to progression"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["6-MP (n=21)", "placebo (n=21)"]
    # The 6-MP curve: S = 0.448 after t = 23, drawn as a step up to t_end.
    x, y = ax.lines[0].get_data()
    assert y[np.searchsorted(x, 23.0)] == pytest.approx(0.448, abs=5e-4)
    assert x[-1] == 40.0
    ax = dplot.km_plot(data["6-MP"], event="progression_time", band=False)
    assert len(ax.lines) == 1
    assert len(polys(ax)) == 0


def test_km_plot_of_a_sweep(runs: dict[str, xr.Dataset]) -> None:
    sweep = xr.concat(list(runs.values()), dim=pd.Index([1, 2], name="schedule.off"))
    ax = dplot.km_plot(sweep, event="extinction_time")
    assert len(ax.lines) == 2
    legend = ax.get_legend()
    assert legend.get_title().get_text() == "schedule.off"
    assert [t.get_text() for t in legend.get_texts()] == ["1 (n=60)", "2 (n=60)"]


@pytest.mark.parametrize("suffix", ["png", "pdf"])
def test_report_is_written(runs: dict[str, xr.Dataset], tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"report.{suffix}"
    fig = dplot.report(runs, path)
    data = path.read_bytes()
    assert len(data) > 10_000
    assert data[:4] == (b"\x89PNG" if suffix == "png" else b"%PDF")
    # 2 fan charts, 3 probability panels (progression, first mutant, extinction), the table.
    assert len(fig.axes) == 6
    text = "".join(t.get_text() for t in fig.axes[-1].texts)
    assert "P(extinct by t_end)" in text
    assert "P(progression by t=6) [95% CI]" in text
    assert "intermittent" in text
    assert "log-rank" in text


def test_report_of_a_single_run(runs: dict[str, xr.Dataset], tmp_path: Path) -> None:
    fig = dplot.report(runs["continuous"], tmp_path / "one.png")
    assert (tmp_path / "one.png").stat().st_size > 0
    assert len(fig.axes) == 1 + 3 + 1


def test_cli_report(runs: dict[str, xr.Dataset], tmp_path: Path, capsys: Any) -> None:
    store = tmp_path / "run.zarr"
    for name, ds in runs.items():
        dg.write_run(ds, store, group=name, mode="a")
    out = tmp_path / "report.png"
    assert main(["report", str(store), "-o", str(out)]) == 0
    assert out.stat().st_size > 10_000
    assert f"wrote {out}" in capsys.readouterr().out
    out2 = tmp_path / "one.pdf"
    assert main(["report", str(store), "-o", str(out2), "--group", "continuous"]) == 0
    assert out2.read_bytes()[:4] == b"%PDF"
    assert main(["report", str(store), "--group", "nope"]) == 2
    assert "no group 'nope'" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "missing.zarr")]) == 2
    assert "error:" in capsys.readouterr().err


def test_cli_report_errors(
    runs: dict[str, xr.Dataset], tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "run.zarr"
    dg.write_run(runs["continuous"], store)
    assert main(["report", str(store), "-o", str(tmp_path / "report.nope")]) == 2
    assert f"cannot write the report {tmp_path / 'report.nope'}" in capsys.readouterr().err

    def compare(*args: Any, **kwargs: Any) -> Any:
        raise InvalidRunError("bad input")

    monkeypatch.setattr(analysis, "compare", compare)  # an error in the input, not in writing
    assert main(["report", str(store), "-o", str(tmp_path / "report.png")]) == 2
    err = capsys.readouterr().err
    assert "error: bad input" in err
    assert "cannot write" not in err
    monkeypatch.undo()
    for at in ("-5", "nan"):  # a bad --at is the user's input: a one-line error, exit 2
        assert main(["report", str(store), "-o", str(tmp_path / "r.png"), "--at", at]) == 2
        assert "error: t must be a finite time >= 0" in capsys.readouterr().err


def test_report_of_a_two_dimensional_sweep(runs: dict[str, xr.Dataset], tmp_path: Path) -> None:
    one = xr.concat(list(runs.values()), dim=pd.Index([1, 2], name="schedule.off"))
    two = xr.concat([one, one], dim=pd.Index([0.1, 0.2], name="model.division.S"))
    fig = dplot.report(two, tmp_path / "sweep.png")
    assert (tmp_path / "sweep.png").stat().st_size > 10_000
    assert len(fig.axes) == 4 + 3 + 1  # a fan chart per point
    titles = [ax.get_title() for ax in fig.axes[:4]]
    assert titles[0] == "model.division.S=0.1\nschedule.off=1"
    assert len(set(titles)) == 4
    text = fig.axes[-1].texts[0].get_text()
    assert "log-rank" in text
    # The table names the dims once and each row by its values: no two rows read the same.
    lines = text.splitlines()
    assert lines[0].startswith("model.division.S, schedule.off")
    keys = [line.split("  ")[0].strip() for line in lines[1:5]]
    assert keys == ["0.1, 1", "0.1, 2", "0.2, 1", "0.2, 2"]


MARKED: dict[str, Any] = {
    **MODEL,
    "biomarker": {
        "name": "PSA",
        "units": "ng/mL",
        "production": {"S": 0.1, "P": 0.1},
        "decay": 0.5,
    },
}


@pytest.fixture(scope="module")
def marked() -> xr.Dataset:
    return dg.simulate(MARKED, {"kind": "intermittent", "on": 2, "off": 1}, **RUN)


def test_biomarker_chart_artists(marked: xr.Dataset) -> None:
    ax = dplot.biomarker_chart(marked)
    assert len(ax.lines) == 1
    assert len(polys(ax)) == 2 + 1  # 50% and 90% bands + the exposure shading
    assert ax.get_ylabel() == "PSA (biomarker driven by the cells) (ng/mL)"
    np.testing.assert_allclose(
        ax.lines[0].get_ydata(), marked["biomarker"].median("replicate").values
    )
    assert ax.get_legend().get_texts()[-1].get_text() == "PSA (median, 50%/90%)"


def test_biomarker_chart_needs_a_biomarker(runs: dict[str, xr.Dataset]) -> None:
    with pytest.raises(ValueError, match="no biomarker"):
        dplot.biomarker_chart(runs["continuous"])


def test_report_shows_the_biomarker(marked: xr.Dataset, tmp_path: Path) -> None:
    fig = dplot.report(marked, tmp_path / "marked.png")
    # fan chart, biomarker, 3 KM panels, the table
    assert len(fig.axes) == 1 + 1 + 3 + 1
    assert fig.axes[1].get_title() == "biomarker"


# --- every group, the probability by t, rare states -----------------------------------------------
def test_report_draws_a_fan_chart_for_every_group(
    runs: dict[str, xr.Dataset], tmp_path: Path
) -> None:
    four = {f"{name} {k}": ds for k in (1, 2) for name, ds in runs.items()}
    fig = dplot.report(four, tmp_path / "four.png")
    titles = [ax.get_title() for ax in fig.axes[:4]]
    assert titles == list(four)  # all four, in the given order (the old report drew three)
    assert all(ax.get_yscale() == "symlog" for ax in fig.axes[:4])
    assert dplot.left_out_note(four) == ""


def test_report_names_the_groups_it_leaves_out(runs: dict[str, xr.Dataset], tmp_path: Path) -> None:
    one = runs["continuous"].isel(replicate=slice(0, 10))
    many = {f"g{i:02d}": one for i in range(dplot.MAX_FAN_CHARTS + 2)}
    with pytest.warns(UserWarning, match=r"fan charts of 2 of 14 groups left out \(g12, g13\)"):
        fig = dplot.report(many, tmp_path / "many.png")
    assert [ax.get_title() for ax in fig.axes[: dplot.MAX_FAN_CHARTS]] == list(many)[:-2]
    text = fig.axes[-1].texts[0].get_text()
    assert "left out (g12, g13)" in text
    assert "--group" in text
    assert "g13 " in text  # the table still has every group


def test_cumulative_incidence_plot() -> None:
    data = trial_arms()
    ax = dplot.cumulative_incidence(data, event="progression_time")
    assert len(ax.lines) == 2
    assert len(polys(ax)) == 2
    assert ax.get_ylabel() == "P(progression by t)"
    ci = analysis.cumulative_incidence(data, "progression_time")
    x, y = ax.lines[1].get_data()
    np.testing.assert_allclose(y[:-1], ci["probability"].sel(group="placebo").values)
    assert y[np.searchsorted(x, 10.0, side="right") - 1] == pytest.approx(13 / 21)
    bottom, top = ax.get_ylim()
    assert bottom <= 0.0
    assert top >= float(ci["upper"].max())


def rare_run(n: int = 60, carriers: int = 3) -> xr.Dataset:
    """R appears (and grows to 5 cells) in ``carriers`` of ``n`` replicates only."""
    times = np.arange(0.0, 11.0)
    counts = np.zeros((n, times.size, 3), dtype=np.int64)
    counts[:, :, 0] = 100
    counts[:carriers, 6:, 2] = [1, 2, 3, 4, 5]
    return make_run(status=[0] * n, counts=counts, times=times, states=("S", "P", "R"), t_end=10.0)


def test_fan_chart_draws_a_rare_state() -> None:
    ds = rare_run()
    _, ax = plt.subplots()
    dplot.fan_chart(ds, state="R", log=True, ax=ax)  # warnings are errors: none is raised
    assert float(ds["count"].sel(cell_state="R").median("replicate").max()) == 0
    mean = [line for line in ax.lines if line.get_linestyle() == "--"]
    assert len(mean) == 1
    np.testing.assert_allclose(mean[0].get_ydata()[-1], 5 * 3 / 60)
    assert "present in 3/60 replicates" in mean[0].get_label()
    assert ax.get_ylim()[1] >= 5 * 3 / 60


def test_spaghetti_draws_the_replicates_that_carry_a_rare_state() -> None:
    ds = rare_run()
    ax = dplot.spaghetti(ds, "R", n=10)
    coloured = [line for line in ax.lines if line.get_color() != "0.6"]
    assert len(coloured) == 3  # every carrier (fewer than n)
    assert len(ax.lines) == 3 + 10  # and a sample of 10 of the 57 others
    assert max(line.get_ydata().max() for line in coloured) == 5
    assert ax.get_ylim()[1] >= 5
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [
        "R never > 0: 57 of 60 replicates (10 drawn)",
        "R ever > 0: 3 of 60 replicates (3 drawn)",
    ]


def test_occupancy_chart_fits_small_fractions() -> None:
    ds = rare_run()
    ax = dplot.occupancy_chart(ds, state=["P", "R"])
    np.testing.assert_allclose(
        ax.lines[1].get_ydata(), (ds["count"].sel(cell_state="R") > 0).mean("replicate")
    )
    assert ax.lines[1].get_ydata().max() == pytest.approx(0.05)
    bottom, top = ax.get_ylim()
    assert bottom <= 0.0
    assert 0.05 < top < 0.3  # not a 0-1 axis that flattens 5%
    _, hi = analysis.wilson_interval(3, 60)
    assert top >= hi


def test_km_plot_y_limits_show_small_differences() -> None:
    # 6.2% vs 1.6% with the event: the axis starts just below the lowest band, not at 0.
    n = 500
    runs = {
        name: make_run(
            status=[0] * n,
            first_mutant_time=[5.0] * k + [np.nan] * (n - k),
        )
        for name, k in (("a", 31), ("b", 8))
    }
    ax = dplot.km_plot(runs, event="first_mutant_time")
    bottom, top = ax.get_ylim()
    km = analysis.kaplan_meier(runs, "first_mutant_time")
    assert float(km["lower"].min()) > bottom > 0.85
    assert top >= 1.0


def test_cli_report_endpoint(runs: dict[str, xr.Dataset], tmp_path: Path, capsys: Any) -> None:
    store = tmp_path / "run.zarr"
    for name, ds in runs.items():
        dg.write_run(ds, store, group=name, mode="a")
    out = tmp_path / "report.png"
    argv = ["report", str(store), "-o", str(out), "--endpoint", "first_mutant_time", "--at", "3"]
    assert main(argv) == 0
    data = dplot.open_report_data(store)
    fig = plot_report._report_figure(
        data, title=None, log=True, endpoint="first_mutant_time", at=3.0
    )
    assert fig.axes[2].get_ylabel() == "P(a first mutant by t)"  # the endpoint's panel first
    assert "P(a first mutant by t=3) [95% CI]" in fig.axes[-1].texts[0].get_text()
    with pytest.raises(SystemExit):
        main(["report", str(store), "--endpoint", "stop_time"])
    assert "invalid choice" in capsys.readouterr().err


def test_cli_report_names_the_groups_left_out_on_stderr(
    runs: dict[str, xr.Dataset], tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "run.zarr"
    for name, ds in runs.items():
        dg.write_run(ds, store, group=name, mode="a")
    monkeypatch.setattr(plot_report, "MAX_FAN_CHARTS", 1)
    assert main(["report", str(store), "-o", str(tmp_path / "r.png")]) == 0
    err = capsys.readouterr().err
    assert "warning: fan charts of 1 of 2 groups left out (intermittent)" in err
    assert "--group" in err
