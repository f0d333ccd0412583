"""Experiments as protocols: barcoded cells grown, split, passaged, bottlenecked, treated and
counted, every flask an exact trajectory with its own random stream (docs/protocols.md).

:class:`Protocol` holds the steps; :meth:`Protocol.run` runs them; :func:`barcode_table` reads a
result as the (replicate, barcode, flask) table that
:func:`dtp_gillespie.analysis.sister_overlap` takes.
"""

from ._output import barcode_table
from ._protocol import Protocol
from ._status import FLASK_STATUS
from ._steps import Bottleneck, Count, Grow, Passage, Split, Step
from ._toml import load_protocol

# The steps are public here: documented (and cross-referenced) as dtp_gillespie.protocol.Grow, ...
for _step in (Bottleneck, Count, Grow, Passage, Split):
    _step.__module__ = __name__

__all__ = [
    "FLASK_STATUS",
    "Bottleneck",
    "Count",
    "Grow",
    "Passage",
    "Protocol",
    "Split",
    "Step",
    "barcode_table",
    "load_protocol",
]
