"""Analysis of ensembles: extinction probability, Kaplan–Meier curves, persister fractions, tables,
fluctuation tests and sister-flask barcode overlaps.

Every function takes a plain :class:`xarray.Dataset` with the output schema of
:func:`dtp_gillespie.simulate` (docs/output.md), so it applies equally to a fresh run, a sweep and
a stored run opened with :func:`dtp_gillespie.open_run`. Leading dimensions in front of
``replicate`` (sweep parameters, schedules stacked by the user) are preserved: every estimate is
made separately for each point of them. :func:`fluctuation_test` also takes plain counts of
mutants per culture, as from a laboratory fluctuation experiment;
:func:`sister_overlap` takes barcode count tables (simulated or a laboratory's own);
:func:`barcode_counts`, :func:`sister_table` and :func:`clone_sizes` read them from a run with
``barcodes=`` or ``clones=True``.

Which replicates count
----------------------
A replicate is used when its ``status`` is one of the known codes and its ``stop_time`` is finite
(blocks of an interrupted store that were never written, and padding introduced when Datasets of
different sizes are combined, are ignored). Counts of ``-1`` (unknown, after a capped replicate
stopped) are ignored wherever counts are used.

Censoring (time-to-event analyses)
----------------------------------
For ``event`` one of ``progression_time``, ``first_mutant_time`` or ``extinction_time``, a replicate
in which the event happened is an event at that time; every other replicate is right-censored
(``progression_time`` of a run without a ``progression`` criterion was not tracked: the functions
refuse it with :class:`~dtp_gillespie.errors.InvalidRunError` rather than report no progression):

- a completed replicate (status 0) at ``t_end`` (its ``stop_time``);
- a capped replicate (status 2, 3 or 4) at its ``stop_time``: what happens after it is unknown;
- an extinct replicate (status 1), for events other than extinction, at ``t_end`` by default
  (``extinct="t_end"``): extinction is absorbing, so an extinct population is *known* never to
  progress or to produce a mutant before ``t_end``, and it stays in the risk set until then. The
  Kaplan–Meier estimate then equals the empirical fraction of replicates without the event whenever
  no replicate was capped, and ``1 - S(t)`` is the probability of the event by ``t`` (the
  cumulative incidence, with cure counted as "never"). ``extinct="censor"`` censors extinct
  replicates at their extinction time instead, which estimates the hazard of the event among
  populations that are still alive (a "net" survival, as if extinction could not happen); with
  many cures it is much lower than the probability of the event.
"""

from ._barcodes import barcode_counts, clone_sizes, sister_table
from ._common import EVENTS as EVENTS
from ._common import GROUP as GROUP
from ._common import Event as Event
from ._common import ExtinctRule as ExtinctRule

# Used by the plots and the CLI, which group and label runs the same way.
from ._common import _as_dataset as _as_dataset
from ._common import _lead_dims as _lead_dims
from ._common import _needs as _needs
from ._compare import compare
from ._composition import on_drug_fraction, persister_fraction, treating_exposures
from ._fluctuation import fluctuation_test, luria_delbruck_pmf
from ._logrank import chi2_sf, logrank_test
from ._proportions import extinction_probability, probability_by, wilson_interval
from ._sister import sister_overlap
from ._survival import cumulative_incidence, kaplan_meier, median_time

__all__ = [
    "EVENTS",
    "barcode_counts",
    "chi2_sf",
    "clone_sizes",
    "compare",
    "cumulative_incidence",
    "extinction_probability",
    "fluctuation_test",
    "kaplan_meier",
    "logrank_test",
    "luria_delbruck_pmf",
    "median_time",
    "on_drug_fraction",
    "persister_fraction",
    "probability_by",
    "sister_overlap",
    "sister_table",
    "treating_exposures",
    "wilson_interval",
]
