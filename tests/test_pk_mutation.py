"""Mutation at division under pharmacokinetic dosing: the effective probability (README, PK).

Division without mutation (rate b·(1 − μ)) and division with mutation (rate b·μ) are two channels,
each interpolated between ``off`` and ``on`` by the Hill response H(C). The fraction of divisions
that mutate is therefore
``[b_off μ_off + (b_on μ_on − b_off μ_off) H] / [b_off + (b_on − b_off) H]``,
not ``μ_off + (μ_on − μ_off) H``. A dose that never decays (half-life 1e9 days) holds C at the
EC50, so H = 1/2 and both channels fire at constant rates: each division mutates independently
with that probability, and the pooled count of mutant divisions is binomial given the divisions.
"""

import math

import dtp_gillespie as dg
import pytest
from oracles import Z_CRIT, tiers, z_proportion

B = {"off": 1.0, "on": 0.2}
MU = {"off": 0.01, "on": 0.5}
H = 0.5  # C = EC50 with Hill coefficient 1


def effective_probability(mu_on: float) -> float:
    """The documented m / (m + d) at H."""
    mutant = B["off"] * MU["off"] + (B["on"] * mu_on - B["off"] * MU["off"]) * H
    total = B["off"] + (B["on"] - B["off"]) * H
    return mutant / total


def mutant_fraction_z(mu_on: float, n: int, expected: float) -> float:
    """z of the pooled fraction of mutant divisions (model with ``mu_on``) against ``expected``."""
    model = {
        "states": ["S", {"name": "R", "genetic": True}],
        "exposures": ["off", "on"],
        "division": {"S": dict(B)},
        "mutation": [{"from": "S", "to": "R", "probability": {"off": MU["off"], "on": mu_on}}],
    }
    schedule = {"kind": "pk", "dose": 1.0, "dose_times": [0.0], "half_life": 1e9, "ec50": 1.0}
    ds = dg.simulate(model, schedule, initial={"S": 200}, t_end=3.0, n_replicates=n, seed=5)
    final = ds["count"].isel(time=-1)
    # R cells arise only by mutant divisions (which keep the parent: S unchanged); S grows by
    # one at each plain division.
    mutant = int(final.sel(cell_state="R").sum())
    plain = int((final.sel(cell_state="S") - 200).sum())
    return z_proportion(mutant, mutant + plain, expected)


def test_effective_probability_is_not_a_hill_curve() -> None:
    assert effective_probability(MU["on"]) == pytest.approx(0.055 / 0.6)
    hill = MU["off"] + (MU["on"] - MU["off"]) * H
    assert not math.isclose(effective_probability(MU["on"]), hill, rel_tol=0.5)
    # The Hill reading is rejected outright by the same ensemble (expected z above 100).
    assert abs(mutant_fraction_z(MU["on"], 200, hill)) > Z_CRIT


# About 1.8e5 divisions per 200 replicates. Power of the rejection: mu_on 20% high moves the
# probability from 0.0917 to 0.1083 (expected z 25 at 200 replicates); 5% high to 0.0958,
# expected z 8.8 at 400 (power > 0.9999).
@pytest.mark.parametrize(("factor", "n"), tiers(ci_n=200, deep_n=400))
def test_pk_mutation_probability_matches_the_two_channel_formula(factor: float, n: int) -> None:
    expected = effective_probability(MU["on"])
    assert abs(mutant_fraction_z(MU["on"], n, expected)) < Z_CRIT
    assert abs(mutant_fraction_z(MU["on"] * factor, n, expected)) > Z_CRIT
