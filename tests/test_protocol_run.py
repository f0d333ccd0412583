"""Protocols run end to end on the engine (``dg.Protocol.run``).

- A split conserves every barcode's cells of every state exactly (counted just before and after).
- Bit-identical results for 1 and 2 engine threads, any block size and any split of the
  replicates into runs with ``replicate_offset``; the TOML and Python forms give identical results.
- Capped, short and extinct flasks are recorded as such, never counted as data.
- The two sister-flask presets: heritable pre-existing persisters give an overlap far above
  chance, memoryless induced switching gives chance overlap (z-tests of the mean excess of shared
  survivors over the exact chance mean; each preset is the other's rejection twin).
- A fluctuation-test protocol (cultures from small inocula, counted) recovers the known number of
  mutations per culture (z-test, with a twin off by 20% / 5%).
- The ``protocol`` command writes a zarr store holding the same result.
"""

import json
import math
from pathlib import Path

import dtp_gillespie as dg
import numpy as np
import pytest
import xarray as xr
from dtp_gillespie.cli import main
from dtp_gillespie.protocol import FLASK_STATUS, barcode_table
from oracles import Z_CRIT, tiers, z_proportion
from test_protocol_spec import MODEL, TOML, python_form


def barcode_rows(ds: xr.Dataset, count_step: int) -> dict[tuple[int, int, int], int]:
    """(replicate, barcode, state) -> cells over every flask at a count step."""
    out: dict[tuple[int, int, int], int] = {}
    pick = ds["barcode_count_step"].values == count_step
    for r, b, s, c in zip(
        ds["barcode_replicate"].values[pick],
        ds["barcode"].values[pick],
        ds["barcode_state"].values[pick],
        ds["barcode_count"].values[pick],
        strict=True,
    ):
        key = (int(r), int(b), int(s))
        out[key] = out.get(key, 0) + int(c)
    return out


def test_a_split_conserves_every_barcode_and_state_exactly() -> None:
    proto = (
        dg.Protocol(MODEL, initial={"S": 150, "P": 10}, barcodes=40)
        .grow("off", 2.0)
        .count()
        .split(3)
        .count()
        .split(2)
        .count()
    )
    ds = proto.run(n_replicates=5, seed=4)
    before, after, again = (barcode_rows(ds, c) for c in range(3))
    assert before == after == again
    assert len(before) > 50
    assert ds["n_flasks"].values.tolist() == [1, 3, 6]
    # totals are the column sums of the barcode table, per flask
    np.testing.assert_array_equal(
        ds["total"].isel(count_step=2).sum("flask").values,
        ds["total"].isel(count_step=0, flask=0).values,
    )
    assert (ds["flask_status"].isel(count_step=0, flask=slice(1, None)) == -2).all()
    assert (ds["total"].isel(count_step=0, flask=slice(1, None)) == -1).all()


def experiment() -> dg.Protocol:
    return (
        dg.Protocol(MODEL, initial={"S": 60, "P": 4}, barcodes="founders")
        .grow("off", 1.5)
        .count()
        .split(2)
        .passage(0.6)
        .treat("on", 1.0)
        .count()
        .bottleneck(5)
        .grow("off", 0.5)
        .count()
    )


def test_results_are_bit_identical_for_any_threads_blocks_and_offsets() -> None:
    proto = experiment()
    ref = proto.run(n_replicates=6, seed=9, n_threads=1)
    assert ref.identical(proto.run(n_replicates=6, seed=9, n_threads=2))
    assert ref.identical(proto.run(n_replicates=6, seed=9, block_size=1))
    assert ref.identical(proto.run(n_replicates=6, seed=9, block_size=4, n_threads=2))
    halves = [
        proto.run(n_replicates=2, seed=9),
        proto.run(n_replicates=4, seed=9, replicate_offset=2, block_size=3),
    ]
    for var in ("total", "flask_status"):
        joined = xr.concat([h[var] for h in halves], dim="replicate")
        assert joined.identical(ref[var])
    rows = [v for v in ref.data_vars if ref[v].dims == ("barcode_row",)]
    joined_rows = xr.concat([h[rows] for h in halves], dim="barcode_row")
    assert joined_rows.identical(ref[rows].assign_attrs(halves[0].attrs))
    assert not ref.identical(proto.run(n_replicates=6, seed=10))
    # the attributes record what re-runs it
    again = dg.Protocol.from_dict(json.loads(ref.attrs["protocol"])).run(
        **json.loads(ref.attrs["run"]), seed=ref.attrs["seed"]
    )
    assert again.identical(ref)


def test_toml_and_python_forms_give_identical_results() -> None:
    from_toml, run = dg.protocol.load_protocol(TOML)
    assert from_toml.run(**run).identical(python_form().run(**run))


def test_a_capped_flask_is_unknown_from_then_on() -> None:
    proto = dg.Protocol(MODEL, initial={"S": 50}).grow("off", 5.0).count().split(2).count()
    ds = proto.run(n_replicates=3, seed=1, max_events=40)
    status = ds["flask_status"].values
    assert (status[:, 0, 0] == FLASK_STATUS["max_events"]).all()
    assert (status[:, :, 1] == FLASK_STATUS["max_events"]).all()  # both daughters
    assert (ds["total"].values == -1).all()
    assert ds.sizes["barcode_row"] == 0
    assert (barcode_table(ds).values == -1).all()


@pytest.mark.parametrize("treated", [0.3, 0.04], ids=["all-extinct", "some-short"])
def test_a_short_bottleneck_is_recorded_and_an_extinct_flask_stays_empty(treated: float) -> None:
    # 0.3 days at a kill rate of 30/day leave e^-8.8 of ~56 cells: every flask dies. 0.04 days
    # leave ~31%: about 17 cells, some flasks short of the bottleneck's 20, some not.
    harsh = {**MODEL, "death": {"S": {"off": 0.05, "on": 30.0}, "P": {"off": 0.04, "on": 30.0}}}
    proto = (
        dg.Protocol(harsh, initial={"S": 40})
        .grow("off", 0.5)
        .count()
        .treat("on", treated)
        .count()
        .bottleneck(20)
        .count()
    )
    ds = proto.run(n_replicates=12, seed=2)
    total = ds["total"].sum("cell_state").values[:, 0, :]
    status = ds["flask_status"].values[:, 0, :]
    assert (status[:, 0] == FLASK_STATUS["alive"]).all()
    for r in range(12):
        cells = total[r, 1]
        if cells == 0:
            assert status[r, 1] == status[r, 2] == FLASK_STATUS["extinct"]
            assert total[r, 2] == 0
        elif cells < 20:
            assert status[r, 2] == FLASK_STATUS["short"]
            assert (ds["total"].values[r, 0, 2] == -1).all()
        else:
            assert status[r, 2] == FLASK_STATUS["alive"]
            assert total[r, 2] == 20
    seen = {int(s) for s in status[:, 2]}
    if treated == 0.3:
        assert seen == {FLASK_STATUS["extinct"]}
    else:
        assert seen == {FLASK_STATUS["short"], FLASK_STATUS["alive"]}


# --- the two presets ------------------------------------------------------------------------------
def excess_z(ds: xr.Dataset) -> float:
    """z-score of the mean excess of shared survivors over their exact chance mean."""
    overlap = dg.analysis.sister_overlap(ds)
    excess = (overlap["shared"] - overlap["shared_chance"]).values.ravel()
    return float(excess.mean() / (excess.std(ddof=1) / math.sqrt(excess.size)))


def test_preexisting_persisters_give_high_overlap_and_induced_switching_chance_overlap() -> None:
    # Induced: the excess of shared survivors over chance is ~0 (its SD is ~2.2 per experiment;
    # 60 experiments). Pre-existing: ~12 above chance with SD ~1.7, so 20 experiments reject
    # chance with z ~ 30 and power ~1; each is the other's rejection twin.
    induced = dg.presets.sister_flasks_induced().simulate(n_replicates=60, seed=21)
    preexisting = dg.presets.sister_flasks_preexisting().simulate(n_replicates=20, seed=22)
    assert abs(excess_z(induced)) < Z_CRIT
    assert excess_z(preexisting) > Z_CRIT
    # The p-values: under induction at most the level's share below 0.05 (the exact discrete
    # test is conservative); under pre-existence every experiment rejects chance.
    p_induced = dg.analysis.sister_overlap(induced)["p_value"].values
    p_preexisting = dg.analysis.sister_overlap(preexisting)["p_value"].values
    assert z_proportion(int((p_induced < 0.05).sum()), p_induced.size, 0.05) < Z_CRIT
    assert z_proportion(int((p_preexisting < 0.05).sum()), p_preexisting.size, 0.05) > Z_CRIT
    assert (p_preexisting < 1e-4).all()
    # N is the 100 barcodes present at the count before the split
    assert (dg.analysis.sister_overlap(induced)["n_barcodes"] == 100).all()


def test_sister_overlap_of_a_protocol_result_is_that_of_its_barcode_table() -> None:
    ds = dg.presets.sister_flasks_induced().simulate(n_replicates=3, seed=5)
    table = barcode_table(ds)
    assert table.dims == ("replicate", "barcode", "flask")
    np.testing.assert_array_equal(
        table.sum("barcode").values, ds["total"].isel(count_step=-1).sum("cell_state").values
    )
    direct = dg.analysis.sister_overlap(ds)
    manual = dg.analysis.sister_overlap(table, n_barcodes=100)
    xr.testing.assert_identical(direct.drop_vars("n_barcodes"), manual.drop_vars("n_barcodes"))


# --- a fluctuation test ---------------------------------------------------------------------------
def mutation_model(mu: float) -> dict[str, object]:
    return {
        "states": ["S", {"name": "R", "genetic": True}],
        "exposures": ["none"],
        "division": {"S": 1.0, "R": 1.0},
        "death": {"S": 0.0, "R": 0.0},
        "mutation": [{"from": "S", "to": "R", "probability": mu}],
    }


@pytest.mark.parametrize(("factor", "n"), tiers(ci_n=600, deep_n=8000))
def test_a_fluctuation_protocol_recovers_the_known_mutation_number(factor: float, n: int) -> None:
    # Cultures of N0 = 1000 cells grown 100-fold, then counted; m = mu E[S divisions] exactly
    # (as in tests/test_fluctuation.py, whose power analysis this shares).
    n0, growth, mu = 1000, 100.0, 5e-5
    t = math.log(growth)
    proto = dg.Protocol(mutation_model(mu), initial={"S": n0}, barcodes=None).grow("none", t)
    ds = proto.count().run(n_replicates=n, seed=3)
    m_true = mu * n0 * (math.exp((1 - mu) * t) - 1) / (1 - mu)
    r = dg.analysis.fluctuation_test(ds, "R", n_final=n0 * growth, n_initial=n0)
    assert int(r["n_cultures"]) == n
    m, se = float(r["m"]), float(r["m_upper"] - r["m_lower"]) / (2 * 1.959964)
    assert abs(m - m_true) / se < Z_CRIT
    assert abs(m - factor * m_true) / se > Z_CRIT


# --- the command line -----------------------------------------------------------------------------
def test_the_protocol_command_writes_the_result(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "p.toml"
    path.write_text(TOML, encoding="utf-8")
    out = tmp_path / "out.zarr"
    assert main(["protocol", str(path), "--out", str(out), "--threads", "1"]) == 0
    text = capsys.readouterr().out
    assert "count 1 (day 5, 2 flask(s))" in text
    stored = xr.open_zarr(out, consolidated=False).load()
    ref = python_form().run(n_replicates=4, seed=11)
    np.testing.assert_array_equal(stored["total"].values, ref["total"].values)
    np.testing.assert_array_equal(stored["barcode_count"].values, ref["barcode_count"].values)
    assert main(["protocol", str(path), "--out", str(out)]) == 2  # never overwritten
    assert "exists" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text(TOML.replace("flasks = 2", "flasks = 0"), encoding="utf-8")
    assert main(["protocol", str(bad), "--out", str(tmp_path / "b.zarr")]) == 2
    assert "steps[2].flasks is 0" in capsys.readouterr().err
