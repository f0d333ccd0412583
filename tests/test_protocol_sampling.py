"""The exact cell samplers of protocols (``dtp_gillespie.protocol._sampling``) and their streams.

- A split conserves every (lineage, state)'s cells exactly (also as a property over random
  tables), and partitions them multinomially:
  chi-square of the joint law of (flask 0, flask 1) against the multinomial, with a rejection
  twin whose first flask is 20% (CI) / 5% (deep) more likely.
- A passage keeps Binomial(c, f) cells of each (lineage, state) (z-test of the mean, with a twin).
- A bottleneck keeps exactly n cells; the kept counts are multivariate hypergeometric: mean and
  variance z-tests, whose twins (a mean 20% off; sampling with replacement, whose variance lacks
  the finite-population factor) are rejected.
- Library barcodes: each initial cell draws a barcode uniformly (counts per barcode multinomial).
- Streams: distinct (step, flask, replicate) give distinct keys; the same give the same.
"""

import math

import numpy as np
import pytest
from dtp_gillespie._seeding import normalise_seed
from dtp_gillespie.analysis import chi2_sf
from dtp_gillespie.protocol._population import Rows
from dtp_gillespie.protocol._sampling import (
    bottleneck_rows,
    founder_rows,
    library_rows,
    passage_rows,
    split_rows,
)
from dtp_gillespie.protocol._streams import barcode_rng, engine_key, sampling_rng
from hypothesis import given
from hypothesis import strategies as st
from oracles import Z_CRIT, tiers


def rows_of(counts: list[list[int]]) -> Rows:
    c = np.array(counts, dtype=np.int64)
    return Rows(np.arange(c.shape[0], dtype=np.int64), np.zeros(c.shape[0], np.int64), c)


def dense(rows: Rows, n_rows: int) -> np.ndarray:
    """Counts indexed by barcode (rows emptied by a sampler read 0)."""
    out = np.zeros((n_rows, rows.count.shape[1]), dtype=np.int64)
    out[rows.barcode] = rows.count
    return out


# --- split ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [1, 2, 3, 7])
def test_split_conserves_every_lineage_and_state_exactly(k: int) -> None:
    rng = np.random.default_rng(5)
    counts = rng.integers(0, 50, size=(200, 3))
    parent = rows_of(counts.tolist()).nonzero()
    parts = split_rows(parent, k, rng)
    assert len(parts) == k
    total = sum(dense(p, 200) for p in parts)
    np.testing.assert_array_equal(total, dense(parent, 200))
    for p in parts:  # no empty rows are carried
        assert (p.count.sum(axis=1) > 0).all()


def multinomial_chi2_p(x0: np.ndarray, x1: np.ndarray, c: int, p: tuple[float, ...]) -> float:
    """Goodness of fit of the pairs (x0, x1) to the multinomial(c; p) marginal of the first two
    flasks, bins expecting < 5 pooled into one."""
    m = x0.size
    cells = [(a, b) for a in range(c + 1) for b in range(c + 1 - a)]
    lg = math.lgamma
    logp = np.array(
        [
            lg(c + 1) - lg(a + 1) - lg(b + 1) - lg(c - a - b + 1)
            + a * math.log(p[0]) + b * math.log(p[1]) + (c - a - b) * math.log(1 - p[0] - p[1])
            for a, b in cells
        ]
    )  # fmt: skip
    expected = m * np.exp(logp)
    observed = np.zeros(len(cells))
    index = {cell: i for i, cell in enumerate(cells)}
    for a, b in zip(x0.tolist(), x1.tolist(), strict=True):
        observed[index[(a, b)]] += 1
    big = expected >= 5
    e = np.append(expected[big], expected[~big].sum())
    o = np.append(observed[big], observed[~big].sum())
    stat = float(((o - e) ** 2 / e).sum())
    return chi2_sf(stat, e.size - 1)


@pytest.mark.parametrize(("factor", "n"), tiers(ci_n=20_000, deep_n=200_000))
def test_split_counts_are_multinomial(factor: float, n: int) -> None:
    c, k = 12, 3
    parent = rows_of([[c]] * n)
    parts = split_rows(parent, k, np.random.default_rng(8))
    x0, x1 = dense(parts[0], n)[:, 0], dense(parts[1], n)[:, 0]
    assert multinomial_chi2_p(x0, x1, c, (1 / 3, 1 / 3)) > 0.001
    wrong = factor / 3
    assert multinomial_chi2_p(x0, x1, c, (wrong, (1 - wrong) / 2)) < 0.001


# --- passage --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("factor", "n"), tiers(ci_n=5_000, deep_n=80_000))
def test_passage_keeps_a_binomial_number_of_cells(factor: float, n: int) -> None:
    c, f = 40, 0.25
    kept = dense(passage_rows(rows_of([[c, 2 * c]] * n), f, np.random.default_rng(3)), n)
    for col, size in ((0, c), (1, 2 * c)):
        x = kept[:, col]
        se = math.sqrt(size * f * (1 - f) / n)
        assert abs(x.mean() - size * f) / se < Z_CRIT
        assert abs(x.mean() - size * f * factor) / se > Z_CRIT
    assert passage_rows(rows_of([[3, 1]]), 1.0, np.random.default_rng(0)).count.tolist() == [[3, 1]]


# --- bottleneck -----------------------------------------------------------------------------------
def test_bottleneck_keeps_exactly_n_cells_from_what_is_there() -> None:
    rng = np.random.default_rng(2)
    parent = rows_of([[5, 3], [10, 0], [2, 20]])
    for _ in range(200):
        kept = bottleneck_rows(parent, 12, rng)
        assert kept is not None
        assert int(kept.count.sum()) == 12
        assert (dense(kept, 3) <= parent.count).all()
    assert bottleneck_rows(parent, 41, rng) is None  # 40 cells: short
    whole = bottleneck_rows(parent, 40, rng)
    assert whole is not None
    assert whole.count.tolist() == parent.count.tolist()
    empty = rows_of([[0, 0]]).nonzero()
    assert bottleneck_rows(empty, 5, rng) is empty  # an extinct flask stays extinct


@pytest.mark.parametrize(("factor", "n"), tiers(ci_n=20_000, deep_n=300_000))
def test_bottleneck_counts_are_hypergeometric(factor: float, n: int) -> None:
    colors = np.array([[5, 3], [10, 0], [2, 20]])
    total, keep = int(colors.sum()), 12
    rng = np.random.default_rng(4)
    parent = rows_of(colors.tolist())
    draws = np.array([dense(bottleneck_rows(parent, keep, rng), 3).ravel() for _ in range(n)])  # type: ignore[arg-type]
    for j, c in enumerate(colors.ravel()):
        if c == 0:
            assert (draws[:, j] == 0).all()
            continue
        q = c / total
        mean = keep * q
        var = keep * q * (1 - q) * (total - keep) / (total - 1)
        x = draws[:, j]
        assert abs(x.mean() - mean) / math.sqrt(var / n) < Z_CRIT
        assert abs(x.mean() - factor * mean) / math.sqrt(var / n) > Z_CRIT
        # the variance against the exact one (SE from the sample's fourth central moment)
        m4 = float(np.mean((x - x.mean()) ** 4))
        se_var = math.sqrt(max(m4 - var**2, 1e-12) / n)
        assert abs(x.var(ddof=1) - var) / se_var < Z_CRIT
        binomial_var = keep * q * (1 - q)  # the twin: drawn with replacement
        assert abs(x.var(ddof=1) - binomial_var) / se_var > Z_CRIT


# --- barcodes at the start ------------------------------------------------------------------------
def test_founders_carry_one_barcode_each_state_zero_first() -> None:
    rows = founder_rows([2, 1, 0])
    assert rows.barcode.tolist() == [0, 1, 2]
    assert rows.count.tolist() == [[1, 0, 0], [1, 0, 0], [0, 1, 0]]


@pytest.mark.parametrize(("factor", "n"), tiers(ci_n=4_000, deep_n=60_000))
def test_library_barcodes_are_drawn_uniformly(factor: float, n: int) -> None:
    b, cells = 5, 20
    rng = np.random.default_rng(9)
    per = np.array([dense(library_rows([cells, 3], b, rng), b) for _ in range(n)])
    assert (per.sum(axis=1) == [cells, 3]).all()
    x = per[:, 0, 0]  # cells of state 0 with barcode 0: Binomial(20, 1/5)
    se = math.sqrt(cells * (1 / b) * (1 - 1 / b) / n)
    assert abs(x.mean() - cells / b) / se < Z_CRIT
    assert abs(x.mean() - factor * cells / b) / se > Z_CRIT


# --- streams --------------------------------------------------------------------------------------
def test_every_stream_has_its_own_key() -> None:
    root = normalise_seed(7)
    keys = {engine_key(root, s, f) for s in range(4) for f in range(3)}
    assert len(keys) == 12
    assert engine_key(root, 1, 2) == engine_key(normalise_seed(7), 1, 2)
    assert engine_key(root, 1, 2) != engine_key(normalise_seed(8), 1, 2)
    draws = {
        int(sampling_rng(root, s, f, r).integers(2**62)) for s in range(3) for f in range(2)
        for r in range(3)
    }  # fmt: skip
    assert len(draws) == 18
    assert barcode_rng(root, 0).integers(2**62) != barcode_rng(root, 1).integers(2**62)
    assert root.key not in keys  # the protocol's engine keys are not the plain run's


# --- properties -----------------------------------------------------------------------------------
small_tables = st.lists(
    st.lists(st.integers(0, 30), min_size=2, max_size=2), min_size=1, max_size=12
)


@given(table=small_tables, k=st.integers(1, 5), seed=st.integers(0, 2**32 - 1))
def test_any_split_conserves_every_cell(table: list[list[int]], k: int, seed: int) -> None:
    parent = rows_of(table)
    parts = split_rows(parent, k, np.random.default_rng(seed))
    n = len(table)
    np.testing.assert_array_equal(sum(dense(p, n) for p in parts), parent.count)


@given(table=small_tables, cells=st.integers(1, 400), seed=st.integers(0, 2**32 - 1))
def test_any_bottleneck_keeps_exactly_n_cells_or_reports_a_shortfall(
    table: list[list[int]], cells: int, seed: int
) -> None:
    parent = rows_of(table)
    kept = bottleneck_rows(parent, cells, np.random.default_rng(seed))
    total = int(parent.count.sum())
    if total == 0:
        assert kept is not None
        assert int(kept.count.sum()) == 0
    elif total < cells:
        assert kept is None
    else:
        assert kept is not None
        assert int(kept.count.sum()) == cells
        assert (dense(kept, len(table)) <= parent.count).all()
