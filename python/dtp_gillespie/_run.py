"""The front ends' one call into the pipeline: pick the sink and the executor of a plan, check
that its result fits in memory, and execute it."""

from collections.abc import Mapping
from typing import Any

import xarray as xr

from ._execute import Sink, execute
from ._executors import executor_for
from ._plan import Plan
from ._sink_memory import MemorySink
from ._sink_store import StoreSink
from ._sink_summary import SummarySink
from .errors import InvalidRunError

__all__ = ["run_plan"]


def run_plan(
    plan: Plan,
    *,
    store: str | None = None,
    group: str | None = None,
    resume: bool = False,
    overwrite: bool = False,
    storage_options: Mapping[str, Any] | None = None,
    client: Any = None,
    progress: bool | str = False,
    seed_drawn: bool = False,
) -> xr.Dataset:
    """Run ``plan`` into a zarr ``store`` (resumable), else in memory (``plan.summary_only``:
    summaries and statistics only), locally or on the Dask ``client``.

    ``seed_drawn``: ``resume=True`` came without a seed and the store records none (see
    :func:`~dtp_gillespie._store_status.seed_for_resume`)."""
    if store is None:
        _check_no_store_options(resume, overwrite, group, storage_options)
    plan.check_fits(in_memory=store is None)
    sink: Sink
    if store is not None:
        sink = StoreSink(
            store,
            group=group,
            storage_options=storage_options,
            resume=resume,
            overwrite=overwrite,
            seed_drawn=seed_drawn,
            # Dask tasks stage their table rows in the store instead of sending them back.
            stage_tables=client is not None,
        )
    elif plan.summary_only:
        sink = SummarySink()
    else:
        sink = MemorySink()
        if client is None:
            # One engine call per grid point: its threads share the replicates.
            plan = plan.with_block_size(plan.n_replicates)
    return execute(plan, sink, executor_for(client), progress)


def _check_no_store_options(resume: Any, overwrite: Any, group: Any, storage_options: Any) -> None:
    """Options of a store given without ``store=``: refused, not silently ignored."""
    given = [
        f"{name}={value!r}"
        for name, value, default in (
            ("resume", resume, False),
            ("overwrite", overwrite, False),
            ("group", group, None),
            ("storage_options", storage_options, None),
        )
        if value is not default
    ]
    if given:
        raise InvalidRunError(
            f"{', '.join(given)} without store=: these options apply to a zarr store; pass "
            "store='run.zarr' to stream the run into one, or leave them out"
        )
