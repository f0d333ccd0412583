"""Names, units and codes of the output Dataset (docs/output.md): the single source of truth.

Downstream code relies on these names; later schema versions add variables but never rename these.
"""

import math
from dataclasses import dataclass
from typing import Final, Literal

from . import _core
from ._lineage_outputs import (
    BARCODE_TIME,
    CLONE_BARCODE,
    CLONE_BIRTH_EXPOSURE,
    CLONE_BIRTH_TIME,
    CLONE_EXTINCTION_TIME,
    CLONE_ID,
    CLONE_PARENT,
    CLONE_REPLICATE,
    CLONE_ROW,
    CLONE_STATE,
    CLONES_ALIVE,
    CLONES_BORN,
    FIRST_SURVIVING_RESISTANT_TIME,
    LINEAGE_BARCODE,
    LINEAGE_CLONE,
    LINEAGE_COUNT,
    LINEAGE_OUTPUTS,
    LINEAGE_REPLICATE,
    LINEAGE_ROW,
    LINEAGE_STATE,
    LINEAGE_TIME,
)

__all__ = [
    "ATTR_CREATED_AT",
    "ATTR_INCOMPLETE",
    "ATTR_MODEL",
    "ATTR_RNG",
    "ATTR_RUN",
    "ATTR_SCHEDULE",
    "ATTR_SCHEMA_VERSION",
    "ATTR_SEED",
    "ATTR_SEED_SPAWN_KEY",
    "ATTR_VERSION",
    "AUC_CONCENTRATION",
    "AUC_RESPONSE",
    "BARCODE_TIME",
    "BIOMARKER",
    "CELL_STATE",
    "CLONES_ALIVE",
    "CLONES_BORN",
    "CLONE_BARCODE",
    "CLONE_BIRTH_EXPOSURE",
    "CLONE_BIRTH_TIME",
    "CLONE_EXTINCTION_TIME",
    "CLONE_ID",
    "CLONE_PARENT",
    "CLONE_REPLICATE",
    "CLONE_ROW",
    "CLONE_STATE",
    "CLONE_TABLE",
    "CONCENTRATION",
    "CONCENTRATION_UNITS",
    "COORDINATES",
    "COUNT",
    "COUNT_UNKNOWN",
    "EXPOSURE",
    "EXTINCTION_TIME",
    "FIRST_MUTANT_TIME",
    "FIRST_SURVIVING_RESISTANT_TIME",
    "LINEAGE_BARCODE",
    "LINEAGE_CLONE",
    "LINEAGE_COUNT",
    "LINEAGE_REPLICATE",
    "LINEAGE_ROW",
    "LINEAGE_STATE",
    "LINEAGE_TABLE",
    "LINEAGE_TIME",
    "LONG_NAMES",
    "NOT_RUN",
    "N_EVENTS",
    "N_SWITCHES",
    "OPTIONAL_VARIABLES",
    "OUTPUT",
    "OUTPUTS",
    "PK_VARIABLES",
    "PROGRESSION_TIME",
    "REPLICATE",
    "SCHEMA_VERSION",
    "STATUS",
    "STATUS_CAPPED",
    "STATUS_CODES",
    "STATUS_COMPLETED",
    "STATUS_EXTINCT",
    "STATUS_MAX_EVENTS",
    "STATUS_MAX_POPULATION",
    "STATUS_MEANINGS",
    "STATUS_NOT_RUN",
    "STATUS_RATE_OVERFLOW",
    "STOP_TIME",
    "TIME",
    "TIME_ON_DRUG",
    "TIME_UNITS",
    "TREATMENT_START_TIME",
    "UNITS",
    "VARIABLES",
    "Output",
]

SCHEMA_VERSION: Final = "1"
"""Version of the output schema, stored in the ``schema_version`` global attribute."""

# Dimensions and coordinates.
REPLICATE: Final = "replicate"
TIME: Final = "time"
CELL_STATE: Final = "cell_state"

# Data variables, in the order they appear in the Dataset.
COUNT: Final = "count"
EXPOSURE: Final = "exposure"
EXTINCTION_TIME: Final = "extinction_time"
FIRST_MUTANT_TIME: Final = "first_mutant_time"
STOP_TIME: Final = "stop_time"
N_EVENTS: Final = "n_events"
STATUS: Final = "status"
TREATMENT_START_TIME: Final = "treatment_start_time"
TIME_ON_DRUG: Final = "time_on_drug"
N_SWITCHES: Final = "n_switches"
PROGRESSION_TIME: Final = "progression_time"
CONCENTRATION: Final = "concentration"
AUC_CONCENTRATION: Final = "auc_concentration"
AUC_RESPONSE: Final = "auc_response"
BIOMARKER: Final = "biomarker"

CONCENTRATION_UNITS: Final = "1"
"""Units of ``concentration``: those of the schedule's ``dose`` and ``ec50`` (multiples of EC50
with the default ``ec50 = 1``), written as the dimensionless "1"."""

TIME_UNITS: Final = "day"
"""Unit of every time and the inverse unit of every rate (rates are per day)."""

COUNT_UNKNOWN: Final = -1
"""Value of ``count`` at record times after a capped replicate's ``stop_time``."""

NOT_RUN: Final = -1
"""What an integer variable of a replicate not run yet reads as, in a streamed store that is
still being written or was interrupted (float variables read NaN): no count, tally, code or
exposure index is negative."""

Present = Literal["always", "pk", "biomarker", "lineages", "clones"]
"""Which runs have a variable: every run, pharmacokinetic (pk) runs (filled by the thinning
engine), runs of a model with a biomarker, runs that track lineages (``barcodes=`` or
``clones=True``: the long table of lineage sizes), or runs that track clones (``clones=True``:
the clone table and the per-replicate clone tallies)."""

Summarised = Literal["keep", "final", "drop"]
"""What summary mode (``summary_only=True``) keeps of a variable: the variable as it is (every
per-replicate variable), its value at the last record time as ``final_<name>``, or nothing."""

Survival = Literal["endpoint", "censoring"] | None
"""The variable's part in the survival analysis (:mod:`dtp_gillespie.analysis`): the time of an
event (an ``event`` it accepts), what censors one (``stop_time``, ``status``), or none."""


@dataclass(frozen=True)
class Output:
    """One variable of the output Dataset (docs/output.md): one row of :data:`OUTPUTS`."""

    name: str
    dims: tuple[str, ...]
    dtype: str
    """numpy dtype name of its array (and of the engine's array)."""
    units: str
    long_name: str
    fill: float
    """What a replicate not run yet reads as (a streamed store's fill value): -1 (integers) or
    NaN (floats)."""
    comment: str | None = None
    """The ``comment`` attribute: what NaN or -1 means, how it is computed."""
    present: Present = "always"
    summary: Summarised = "keep"
    final_comment: str | None = None
    """``comment`` of ``final_<name>`` (summary ``"final"`` only)."""
    survival: Survival = None
    flags: Literal["exposures", "status", "states"] | None = None
    """Integer codes with ``flag_values`` and ``flag_meanings``: the model's exposures,
    :data:`STATUS_CODES`, or the model's cell states."""

    def __post_init__(self) -> None:
        # A wrong row is a programming error: refuse it at import, not in a user's run.
        if (self.summary == "final") != (self.final_comment is not None):
            raise ValueError(f"output {self.name!r}: final_comment goes with summary 'final'")
        if self.survival is not None and self.dims != (REPLICATE,):
            raise ValueError(f"output {self.name!r}: survival variables are per replicate")

    @property
    def per_replicate(self) -> bool:
        """One value per replicate (an engine ``Outcome`` field), not a trajectory."""
        return self.dims == (REPLICATE,)

    @property
    def table(self) -> bool:
        """A column of a long table (dims ``lineage_row`` or ``clone_row``): its length is not
        known before the run, and a streamed store appends to it."""
        return self.dims in ((LINEAGE_ROW,), (CLONE_ROW,))


_PER_REPLICATE = (REPLICATE,)
_TRAJECTORY = (REPLICATE, TIME)
_NAN = math.nan

OUTPUTS: Final[tuple[Output, ...]] = (
    Output(
        COUNT,
        (REPLICATE, TIME, CELL_STATE),
        "int64",
        "1",
        "number of cells in each state",
        fill=NOT_RUN,
        comment=(
            f"{COUNT_UNKNOWN} (unknown) at record times after stop_time for replicates stopped "
            "by a cap (status max_events, max_population or rate_overflow)"
        ),
        summary="final",
        final_comment=f"{COUNT_UNKNOWN} (unknown) for replicates stopped by a cap before it",
    ),
    Output(
        EXPOSURE,
        _TRAJECTORY,
        "int8",
        "1",
        "drug exposure in force",
        fill=NOT_RUN,
        summary="drop",
        flags="exposures",
    ),
    Output(
        EXTINCTION_TIME,
        _PER_REPLICATE,
        "float64",
        TIME_UNITS,
        "time the population went extinct",
        fill=_NAN,
        comment="NaN if the population did not go extinct",
        survival="endpoint",
    ),
    Output(
        FIRST_MUTANT_TIME,
        _PER_REPLICATE,
        "float64",
        TIME_UNITS,
        "time of the first mutation event",
        fill=_NAN,
        comment="NaN if no mutation event happened",
        survival="endpoint",
    ),
    Output(
        STOP_TIME,
        _PER_REPLICATE,
        "float64",
        TIME_UNITS,
        "time the replicate stopped",
        fill=_NAN,
        comment="t_end for completed replicates",
        survival="censoring",
    ),
    Output(
        N_EVENTS,
        _PER_REPLICATE,
        "int64",
        "1",
        "number of reaction events simulated",
        fill=NOT_RUN,
    ),
    Output(
        STATUS,
        _PER_REPLICATE,
        "int8",
        "1",
        "why the replicate stopped",
        fill=NOT_RUN,
        survival="censoring",
        flags="status",
    ),
    Output(
        TREATMENT_START_TIME,
        _PER_REPLICATE,
        "float64",
        TIME_UNITS,
        "time a treating exposure was first in force",
        fill=_NAN,
        comment=(
            "0 when the schedule starts on a treating exposure; NaN if no treating exposure was "
            "in force before stop_time (see the schedule's treating exposures)"
        ),
    ),
    Output(
        TIME_ON_DRUG,
        _PER_REPLICATE,
        "float64",
        TIME_UNITS,
        "total time under a treating exposure up to stop_time",
        fill=_NAN,
        comment="time under the exposures the schedule counts as treating",
    ),
    Output(
        N_SWITCHES,
        _PER_REPLICATE,
        "int64",
        "1",
        "number of changes of the exposure in force",
        fill=NOT_RUN,
        comment="every change of the exposure in force before stop_time counts once",
    ),
    Output(
        PROGRESSION_TIME,
        _PER_REPLICATE,
        "float64",
        TIME_UNITS,
        "first time the monitored burden reached the progression size",
        fill=_NAN,
        comment=(
            "NaN if the run has no progression criterion or the burden never reached it; the "
            "criterion and the monitored states (or biomarker) are in the run attribute "
            "(progression)"
        ),
        survival="endpoint",
    ),
    Output(
        CONCENTRATION,
        _TRAJECTORY,
        "float64",
        CONCENTRATION_UNITS,
        (
            "drug concentration, in the units of the schedule's dose and ec50 "
            "(multiples of EC50 when ec50 = 1)"
        ),
        fill=_NAN,
        comment="right-continuous at dose times: a record at a dose time includes the dose",
        present="pk",
        summary="drop",
    ),
    Output(
        AUC_CONCENTRATION,
        _PER_REPLICATE,
        "float64",
        TIME_UNITS,
        "area under the drug concentration up to stop_time",
        fill=_NAN,
        comment=(
            "in the concentration's units times days; exact (closed form of the decaying doses)"
        ),
        present="pk",
    ),
    Output(
        AUC_RESPONSE,
        _PER_REPLICATE,
        "float64",
        TIME_UNITS,
        "area under the drug's response C^h / (EC50^h + C^h) up to stop_time",
        fill=_NAN,
        comment=(
            "exact (closed form); the response is the schedule's top-level ec50 and hill, the one "
            "that defines the exposure in force (on while >= on_threshold)"
        ),
        present="pk",
    ),
    Output(
        BIOMARKER,
        _TRAJECTORY,
        "float64",
        "1",
        "biomarker driven by the cells",
        fill=_NAN,
        comment=(
            "dy/dt = sum_i p_i n_i - decay y, solved exactly between events (model attribute, "
            "biomarker); NaN after a capped replicate stopped"
        ),
        present="biomarker",
        summary="final",
        final_comment=(
            "NaN for replicates stopped by a cap before it; summary mode keeps no statistics of "
            "the biomarker over time (run without summary_only for those)"
        ),
    ),
    # Lineages and clones (docs/lineages.md).
    *(Output(**row) for row in LINEAGE_OUTPUTS),
)
"""The output variables, in Dataset order: the one table the Dataset, the store template, summary
mode and the analysis read (CONTRIBUTING.md, "Adding an output variable"). Per-replicate
variables are filled by the engine's table of the same names (``dtp_gillespie_core::outcome``).
A ``biomarker`` takes its ``units`` and the start of its ``long_name`` from the model's biomarker
spec."""

OUTPUT: Final[dict[str, Output]] = {v.name: v for v in OUTPUTS}
""":data:`OUTPUTS` by name."""

VARIABLES: Final = tuple(OUTPUT)
"""Names of the data variables, in Dataset order."""

PK_VARIABLES: Final = tuple(v.name for v in OUTPUTS if v.present == "pk")
"""Variables of pharmacokinetic (pk) runs only."""

LINEAGE_TABLE: Final = tuple(v.name for v in OUTPUTS if v.dims == (LINEAGE_ROW,))
"""The columns of the long table of lineage sizes (dim ``lineage_row``)."""

CLONE_TABLE: Final = tuple(v.name for v in OUTPUTS if v.dims == (CLONE_ROW,))
"""The columns of the clone table (dim ``clone_row``)."""

OPTIONAL_VARIABLES: Final = tuple(v.name for v in OUTPUTS if v.present != "always")
"""Variables present only in some runs: ``concentration``, ``auc_concentration`` and
``auc_response`` only for pharmacokinetic (pk) runs,
``biomarker`` only for models with a biomarker (its ``units`` and ``long_name`` come from the
model's biomarker spec), the lineage table only for runs with ``barcodes=`` or ``clones=True``,
and the clone table and tallies only for runs with ``clones=True``."""

COORDINATES: Final[dict[str, tuple[str, str]]] = {
    REPLICATE: ("1", "replicate index"),
    TIME: (TIME_UNITS, "time"),
    CELL_STATE: ("1", "cell state"),
    BARCODE_TIME: (TIME_UNITS, "record time of the lineage table"),
}
"""Units and long name of each coordinate."""

UNITS: Final[dict[str, str]] = {
    **{name: units for name, (units, _) in COORDINATES.items()},
    **{v.name: v.units for v in OUTPUTS},
}

LONG_NAMES: Final[dict[str, str]] = {
    **{name: long_name for name, (_, long_name) in COORDINATES.items()},
    **{v.name: v.long_name for v in OUTPUTS},
}

STATUS_CODES: Final[dict[str, int]] = dict(_core.STATUS_CODES)
"""Why a replicate stopped, as written to ``status``: the engine's codes (``_core.STATUS_CODES``,
the one source), in the engine's order (the order of the ``flag_values`` attribute)."""
STATUS_COMPLETED: Final = STATUS_CODES["completed"]
STATUS_EXTINCT: Final = STATUS_CODES["extinct"]
STATUS_MAX_EVENTS: Final = STATUS_CODES["max_events"]
STATUS_MAX_POPULATION: Final = STATUS_CODES["max_population"]
STATUS_RATE_OVERFLOW: Final = STATUS_CODES["rate_overflow"]

STATUS_NOT_RUN: Final = NOT_RUN
"""Status of a replicate not run yet: the fill value of ``status`` in a streamed store that is
still being written or was interrupted (its ``count`` reads -1 and its times NaN). The engine never
produces it, so it is not in :data:`STATUS_CODES`; ``status`` is int8 and holds it."""


STATUS_MEANINGS: Final[dict[int, str]] = {
    STATUS_COMPLETED: "reached t_end",
    STATUS_EXTINCT: "population hit 0 (counts stay 0 afterwards)",
    STATUS_MAX_EVENTS: "stopped at the max_events cap (counts after stop_time are -1)",
    STATUS_MAX_POPULATION: "stopped at the max_population cap (counts after stop_time are -1)",
    STATUS_RATE_OVERFLOW: (
        "stopped because the total event rate overflowed the largest float (counts after "
        "stop_time are -1)"
    ),
    STATUS_NOT_RUN: "not run yet: a streamed store still being written or interrupted (count -1)",
}

STATUS_CAPPED: Final = (STATUS_MAX_EVENTS, STATUS_MAX_POPULATION, STATUS_RATE_OVERFLOW)
"""Status codes of replicates stopped early (by a cap, or by a rate overflow, the engine's
hard cap) before ``t_end``: what happens after ``stop_time`` is unknown."""

# Global attributes.
ATTR_MODEL: Final = "model"
ATTR_SCHEDULE: Final = "schedule"
ATTR_RUN: Final = "run"
ATTR_SEED: Final = "seed"
ATTR_SEED_SPAWN_KEY: Final = "seed_spawn_key"
ATTR_RNG: Final = "rng"
ATTR_VERSION: Final = "dtp_gillespie_version"
ATTR_CREATED_AT: Final = "created_at"
ATTR_SCHEMA_VERSION: Final = "schema_version"
ATTR_INCOMPLETE: Final = "incomplete"
"""Attribute of a store (group) not finished yet: a streamed run still being written or
interrupted, a ``write_run`` interrupted, or the CLI's root of one group per schedule before the
last schedule is written. Its value says how to finish the store; it is removed once it is."""
