"""The sister-flask barcode overlap (``dg.analysis.sister_overlap``).

- Exact small tables worked by hand (shared survivors, fractions, Jaccard index, the
  hypergeometric chance law and its tail).
- The chance law against a brute-force permutation: under independent exchangeable survival every
  arrangement of one flask's column over the ``N`` barcodes is equally likely, so the exact mean
  Jaccard index and the p-value are averages over all permutations.
- Statistics (fixed seeds, tolerances from standard errors): tables drawn under independent
  survival give p-values that hold their level and a mean Jaccard index equal to the exact chance
  mean; the rejection twins draw heritable survival (a barcode's survival probability shared by
  its sister flasks) and must be rejected.
- Bad input gets ``InvalidRunError`` naming the argument and the value.
"""

import itertools
import math

import numpy as np
import pytest
import xarray as xr
from dtp_gillespie.analysis import sister_overlap
from dtp_gillespie.errors import InvalidRunError
from oracles import Z_CRIT, tiers, z_proportion

# Two flasks, 6 rows (one survives nowhere): flask 0 keeps rows {0, 2, 3, 5} (a = 4), flask 1
# keeps rows {0, 1, 5} (b = 3), both keep {0, 5} (s = 2).
HAND = np.array([[5, 3], [0, 2], [1, 0], [4, 0], [0, 0], [2, 7]])


# --- exact small cases ----------------------------------------------------------------------------
def test_a_small_table_by_hand() -> None:
    r = sister_overlap(HAND, n_barcodes=8)
    assert r["shared"].values.tolist() == [2]
    assert r["n_survivors"].values.tolist() == [4, 3]
    assert r["shared_fraction"].item() == pytest.approx(2 / 3)
    assert r["jaccard"].item() == pytest.approx(2 / 5)
    assert r["shared_chance"].item() == pytest.approx(4 * 3 / 8)
    # P(s) = C(4, s) C(4, 3 - s) / C(8, 3) = (4, 24, 24, 4) / 56; J(s) = s / (7 - s)
    assert r["jaccard_chance"].item() == pytest.approx((24 / 6 + 24 * 2 / 5 + 4 * 3 / 4) / 56)
    assert r["p_overlap"].item() == pytest.approx((24 + 4) / 56)
    assert r["p_value"].item() == r["p_overlap"].item()
    assert r["mean_jaccard"].item() == r["jaccard"].item()
    assert r["n_barcodes"].item() == 8
    assert math.isnan(r["log_size_correlation"].item())  # only 2 shared barcodes


def test_the_default_barcode_total_is_the_barcodes_seen_and_is_conservative() -> None:
    r = sister_overlap(HAND)
    assert r["n_barcodes"].item() == 5
    # N = 5: P(s) = C(4, s) C(1, 3 - s) / C(5, 3), s in {2, 3}: (6, 4) / 10
    assert r["p_overlap"].item() == pytest.approx(1.0)
    assert r["p_overlap"].item() >= sister_overlap(HAND, n_barcodes=8)["p_overlap"].item()


def test_log_sizes_of_shared_barcodes_correlate() -> None:
    same = np.array([[1, 2], [10, 20], [100, 200], [3, 0]])
    assert sister_overlap(same)["log_size_correlation"].item() == pytest.approx(1.0)
    reversed_sizes = np.array([[1, 100], [10, 10], [100, 1]])
    assert sister_overlap(reversed_sizes)["log_size_correlation"].item() == pytest.approx(-1.0)


def test_empty_flasks_give_nan_measures_and_no_evidence() -> None:
    r = sister_overlap(np.array([[0, 0, 1], [0, 0, 2]]), n_barcodes=4)
    # pairs (0, 1), (0, 2), (1, 2): no survivor in either, one empty flask, one empty flask
    assert np.isnan(r["jaccard"].values[0])
    assert r["jaccard"].values[1:].tolist() == [0.0, 0.0]
    assert np.isnan(r["shared_fraction"].values).all()
    assert r["p_overlap"].values.tolist() == [1.0, 1.0, 1.0]
    assert r["mean_jaccard"].item() == 0.0  # over the pairs where it is defined
    assert r["mean_jaccard_chance"].item() == 0.0
    assert math.isnan(r["mean_shared_fraction"].item())


def test_more_flasks_report_every_pair_and_a_bonferroni_p_value() -> None:
    table = np.array([[1, 1, 1], [1, 1, 0], [0, 1, 1], [1, 0, 0], [0, 0, 0], [0, 0, 0]])
    r = sister_overlap(table, n_barcodes=6)
    assert list(zip(r["flask_a"].values, r["flask_b"].values, strict=True)) == [
        (0, 1),
        (0, 2),
        (1, 2),
    ]
    assert r["shared"].values.tolist() == [2, 1, 2]
    assert r["mean_jaccard"].item() == pytest.approx((2 / 4 + 1 / 4 + 2 / 3) / 3)
    assert r["p_value"].item() == pytest.approx(min(1.0, 3 * float(r["p_overlap"].min())))


def test_leading_dims_and_coords_are_kept_and_each_point_is_its_own_table() -> None:
    rng = np.random.default_rng(5)
    x = rng.poisson(2.0, (3, 2, 40, 3)) * (rng.random((3, 2, 40, 3)) < 0.4)
    da = xr.DataArray(
        x,
        dims=("experiment", "dose", "barcode", "flask"),
        coords={"experiment": [10, 20, 30], "dose": [0.5, 1.0], "flask": ["A", "B", "C"]},
    )
    r = sister_overlap(da.transpose("flask", "experiment", "barcode", "dose"), n_barcodes=60)
    assert r["jaccard"].dims == ("experiment", "dose", "pair")
    assert r["experiment"].values.tolist() == [10, 20, 30]
    assert r["flask_a"].values.tolist() == ["A", "A", "B"]
    one = sister_overlap(x[2, 1], n_barcodes=60)
    for name in ("jaccard", "p_overlap", "jaccard_chance", "log_size_correlation"):
        np.testing.assert_array_equal(r[name].values[2, 1], one[name].values)
    assert r["p_value"].values[2, 1] == one["p_value"].item()


# --- the chance law against brute force -----------------------------------------------------------
@pytest.mark.parametrize(
    ("first", "second", "n_barcodes"),
    [
        ([3, 0, 1, 5, 0, 0], [1, 2, 0, 0, 4, 0], 7),
        ([1, 1, 1, 1, 0, 0], [1, 1, 1, 0, 0, 0], 6),
        ([2, 0, 0, 0, 0, 0], [0, 7, 0, 0, 0, 1], 6),
        ([1, 1, 0, 1, 1, 0], [0, 1, 1, 1, 1, 1], 6),
    ],
)
def test_the_chance_law_matches_every_permutation_of_a_flask(
    first: list[int], second: list[int], n_barcodes: int
) -> None:
    pad = n_barcodes - len(first)
    x = np.array(first + [0] * pad) > 0
    y = np.array(second + [0] * pad) > 0
    s_obs = int(np.sum(x & y))
    shared = np.array([np.sum(x & np.array(p)) for p in itertools.permutations(y)])
    union = x.sum() + y.sum() - shared
    jaccard = np.where(union > 0, shared / np.maximum(union, 1), np.nan)
    r = sister_overlap(np.column_stack([first, second]), n_barcodes=n_barcodes)
    assert r["shared_chance"].item() == pytest.approx(shared.mean(), abs=1e-12)
    assert r["jaccard_chance"].item() == pytest.approx(jaccard.mean(), abs=1e-12)
    assert r["p_overlap"].item() == pytest.approx(np.mean(shared >= s_obs), abs=1e-12)


# --- statistics -----------------------------------------------------------------------------------
N_BARCODES, SURVIVAL = 100, 0.3


def draw_tables(
    rng: np.random.Generator, n_tables: int, k: int, survival: np.ndarray
) -> xr.DataArray:
    """Surviving cells per (table, barcode, flask): barcode ``i`` survives in each flask
    independently with probability ``survival[..., i]`` (one row per table, or shared), and a
    survivor leaves 1 + Geometric cells."""
    n_barcodes = np.shape(survival)[-1] if np.ndim(survival) else N_BARCODES
    p = np.broadcast_to(survival, (n_tables, n_barcodes))[..., None]
    alive = rng.random((n_tables, n_barcodes, k)) < p
    sizes = rng.geometric(0.2, alive.shape)
    return xr.DataArray(alive * sizes, dims=("table", "barcode", "flask"))


def heritable_survival(rng: np.random.Generator, n_tables: int, factor: float) -> np.ndarray:
    """A persister state fixed before the split: half the barcodes (drawn anew per table) survive
    each flask with probability SURVIVAL * factor, the others SURVIVAL * (2 - factor); the mean
    survival is SURVIVAL, as under independence."""
    high = rng.random((n_tables, N_BARCODES)) < 0.5
    return np.where(high, SURVIVAL * factor, SURVIVAL * (2.0 - factor))


@pytest.mark.parametrize("k", [2, 4])
def test_independent_survival_holds_the_level_at_every_alpha(k: int) -> None:
    rng = np.random.default_rng(1616 + k)
    n = 3000
    r = sister_overlap(draw_tables(rng, n, k, np.array(SURVIVAL)), n_barcodes=N_BARCODES)
    p = r["p_value"].values
    for alpha in (0.01, 0.05, 0.2, 0.5):
        # the p-values are discrete (and Bonferroni for k > 2): at most alpha, within its SE
        assert z_proportion(int(np.sum(p <= alpha)), n, alpha) < Z_CRIT, alpha
    # and uniform-ish: not so conservative that a pair's test has no level left
    pair = r["p_overlap"].values.ravel()
    assert np.mean(pair <= 0.2) > 0.1


def _z_jaccard_excess(r: xr.Dataset) -> float:
    """z-score of the mean (Jaccard - exact chance mean) over tables, SE from the sample."""
    d = (r["mean_jaccard"] - r["mean_jaccard_chance"]).values
    return float(d.mean() / (d.std(ddof=1) / math.sqrt(d.size)))


def test_independent_survival_gives_the_exact_mean_jaccard() -> None:
    rng = np.random.default_rng(2016)
    r = sister_overlap(draw_tables(rng, 4000, 3, np.array(SURVIVAL)), n_barcodes=N_BARCODES)
    assert abs(_z_jaccard_excess(r)) < Z_CRIT


# Sizing (measured on 20000 tables of this generator, 3 flasks): the mean Jaccard excess over its
# exact chance mean is 0.30 SD per table at factor 1.2 and 0.032 SD at factor 1.05. 1000 and
# 60000 tables give expected z of 9.5 and 7.7, above Z_CRIT + 3.09 (power >= 99.9%).
@pytest.mark.parametrize(("factor", "n_tables"), tiers(1000, 60_000))
def test_rejects_heritable_survival_by_the_mean_jaccard(factor: float, n_tables: int) -> None:
    rng = np.random.default_rng(31)
    excess = []
    for start in range(0, n_tables, 20_000):  # chunks bound the memory of the deep tier
        size = min(20_000, n_tables - start)
        survival = heritable_survival(rng, size, factor)
        r = sister_overlap(draw_tables(rng, size, 3, survival), n_barcodes=N_BARCODES)
        excess.append((r["mean_jaccard"] - r["mean_jaccard_chance"]).values)
    d = np.concatenate(excess)
    assert d.mean() / (d.std(ddof=1) / math.sqrt(d.size)) > Z_CRIT


def test_rejects_pre_existing_persister_lineages_in_every_table() -> None:
    # A tenth of 400 barcodes are persister lineages (survive each flask with probability 0.9),
    # the rest survive with 0.05: about 33 shared against a chance mean near 7. Measured on 20000
    # such tables: none had p_value > 0.001 and the 99.9% quantile was 4e-9, so 50 tables all
    # reject with power far above 99.9%.
    rng = np.random.default_rng(7)
    persister = rng.random((50, 400)) < 0.1
    r = sister_overlap(draw_tables(rng, 50, 2, np.where(persister, 0.9, 0.05)), n_barcodes=400)
    assert (r["p_value"].values < 1e-3).all()


# --- bad input ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("counts", "kwargs", "message"),
    [
        ([[1, 2], [-1, 0]], {}, r"counts\[1, 0\] is -1; counts of surviving cells must be whole"),
        ([[1, 2.5], [0, 0]], {}, r"counts\[0, 1\] is 2.5; .* whole numbers from 0 to"),
        ([[1, 2], [math.nan, 0]], {}, r"counts\[1, 0\] is nan"),
        ([[1, 2], [math.inf, 0]], {}, r"counts\[1, 0\] is inf"),
        ([[1, 2], [1e19, 0]], {}, r"counts\[1, 0\] is 1e\+19; .* from 0 to 9223372036854775807"),
        (np.ones((2, 3, 1)), {}, r"counts has 1 flask\(s\)"),
        ([[1], [3]], {}, r"counts has 1 flask\(s\); a sister-flask overlap needs >= 2"),
        ([1, 2, 3], {}, r"counts is \[1, 2, 3\]; expected a table with one row per barcode"),
        ([["a", "b"]], {}, r"counts has dtype <U1; expected whole numbers"),
        ([[True, False]], {}, r"counts has dtype bool"),
        (np.zeros((0, 2)), {}, r"counts has 0 barcodes"),
        ([[1, 2], [3, 0]], {"n_barcodes": 1}, r"n_barcodes is 1; it must be at least the 2"),
        ([[1, 2]], {"n_barcodes": 0}, r"n_barcodes is 0; it must be a whole number >= 1"),
        ([[1, 2]], {"n_barcodes": 2.5}, r"n_barcodes is 2.5; expected a whole number >= 1"),
        (
            xr.DataArray([[1, 2]], dims=("barcode", "sample")),
            {},
            r"counts has dims \('barcode', 'sample'\); expected dims .* \(missing \['flask'\]\)",
        ),
    ],
)
def test_bad_input_is_refused_naming_the_argument(
    counts: object, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidRunError, match=message):
        sister_overlap(counts, **kwargs)
