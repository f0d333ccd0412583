"""Names, units and codes of the output Dataset (README, "Output"): the single source of truth.

Downstream code relies on these names; later schema versions add variables but never rename these.
"""

from typing import Final

from . import _core

__all__ = [
    "ATTR_CREATED_AT",
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
    "BIOMARKER",
    "CELL_STATE",
    "CONCENTRATION",
    "CONCENTRATION_UNITS",
    "COUNT",
    "COUNT_UNKNOWN",
    "EXPOSURE",
    "EXTINCTION_TIME",
    "FIRST_MUTANT_TIME",
    "LONG_NAMES",
    "N_EVENTS",
    "N_SWITCHES",
    "OPTIONAL_VARIABLES",
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

VARIABLES: Final = (
    COUNT,
    EXPOSURE,
    EXTINCTION_TIME,
    FIRST_MUTANT_TIME,
    STOP_TIME,
    N_EVENTS,
    STATUS,
    TREATMENT_START_TIME,
    TIME_ON_DRUG,
    N_SWITCHES,
    PROGRESSION_TIME,
    CONCENTRATION,
    AUC_CONCENTRATION,
    AUC_RESPONSE,
    BIOMARKER,
)

PK_VARIABLES: Final = (CONCENTRATION, AUC_CONCENTRATION, AUC_RESPONSE)
"""Variables of pharmacokinetic (pk) runs only."""

OPTIONAL_VARIABLES: Final = (*PK_VARIABLES, BIOMARKER)
"""Variables present only in some runs: ``concentration``, ``auc_concentration`` and
``auc_response`` only for pharmacokinetic (pk) runs,
``biomarker`` only for models with a biomarker (its ``units`` and ``long_name`` come from the
model's biomarker spec)."""

CONCENTRATION_UNITS: Final = "1"
"""Units of ``concentration``: those of the schedule's ``dose`` and ``ec50`` (multiples of EC50
with the default ``ec50 = 1``), written as the dimensionless "1"."""

TIME_UNITS: Final = "day"
"""Unit of every time and the inverse unit of every rate (rates are per day)."""

UNITS: Final[dict[str, str]] = {
    REPLICATE: "1",
    TIME: TIME_UNITS,
    CELL_STATE: "1",
    COUNT: "1",
    EXPOSURE: "1",
    EXTINCTION_TIME: TIME_UNITS,
    FIRST_MUTANT_TIME: TIME_UNITS,
    STOP_TIME: TIME_UNITS,
    N_EVENTS: "1",
    STATUS: "1",
    TREATMENT_START_TIME: TIME_UNITS,
    TIME_ON_DRUG: TIME_UNITS,
    N_SWITCHES: "1",
    PROGRESSION_TIME: TIME_UNITS,
    CONCENTRATION: CONCENTRATION_UNITS,
    AUC_CONCENTRATION: TIME_UNITS,
    AUC_RESPONSE: TIME_UNITS,
    BIOMARKER: "1",
}

LONG_NAMES: Final[dict[str, str]] = {
    REPLICATE: "replicate index",
    TIME: "time",
    CELL_STATE: "cell state",
    COUNT: "number of cells in each state",
    EXPOSURE: "drug exposure in force",
    EXTINCTION_TIME: "time the population went extinct",
    FIRST_MUTANT_TIME: "time of the first mutation event",
    STOP_TIME: "time the replicate stopped",
    N_EVENTS: "number of reaction events simulated",
    STATUS: "why the replicate stopped",
    TREATMENT_START_TIME: "time a treating exposure was first in force",
    TIME_ON_DRUG: "total time under a treating exposure up to stop_time",
    N_SWITCHES: "number of changes of the exposure in force",
    PROGRESSION_TIME: "first time the monitored burden reached the progression size",
    CONCENTRATION: (
        "drug concentration, in the units of the schedule's dose and ec50 "
        "(multiples of EC50 when ec50 = 1)"
    ),
    AUC_CONCENTRATION: "area under the drug concentration up to stop_time",
    AUC_RESPONSE: "area under the drug's response C^h / (EC50^h + C^h) up to stop_time",
    BIOMARKER: "biomarker driven by the cells",
}

COUNT_UNKNOWN: Final = -1
"""Value of ``count`` at record times after a capped replicate's ``stop_time``."""

STATUS_CODES: Final[dict[str, int]] = dict(_core.STATUS_CODES)
"""Why a replicate stopped, as written to ``status``: the engine's codes (``_core.STATUS_CODES``,
the one source), in the engine's order (the order of the ``flag_values`` attribute)."""
STATUS_COMPLETED: Final = STATUS_CODES["completed"]
STATUS_EXTINCT: Final = STATUS_CODES["extinct"]
STATUS_MAX_EVENTS: Final = STATUS_CODES["max_events"]
STATUS_MAX_POPULATION: Final = STATUS_CODES["max_population"]
STATUS_RATE_OVERFLOW: Final = STATUS_CODES["rate_overflow"]

STATUS_NOT_RUN: Final = -1
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
