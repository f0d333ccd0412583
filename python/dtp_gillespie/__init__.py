"""dtp-gillespie: exact stochastic simulation of cancer drug-tolerant persister cells.

Examples
--------
>>> import dtp_gillespie as dg
>>> model = dg.Model.from_dict({...})  # doctest: +SKIP
>>> ds = dg.simulate(model, {"kind": "intermittent", "on": 14, "off": 14},
...                  initial={"S": 10_000}, t_end=168, record_every=1.0,
...                  n_replicates=1000, seed=42)  # doctest: +SKIP
>>> ds.to_zarr("run.zarr")  # doctest: +SKIP
"""

from . import analysis, errors, plot, presets, protocol
from ._core import __version__
from .barcodes import Barcodes
from .io import open_run, write_run
from .model import Model
from .protocol import Protocol
from .schedule import Schedule
from .simulate import reproduce, simulate, trace
from .stream import store_status
from .sweep import sweep

__all__ = [
    "Barcodes",
    "Model",
    "Protocol",
    "Schedule",
    "__version__",
    "analysis",
    "errors",
    "open_run",
    "plot",
    "presets",
    "protocol",
    "reproduce",
    "simulate",
    "store_status",
    "sweep",
    "trace",
    "write_run",
]
