"""Plots of ensembles: fan charts, Kaplan–Meier curves and a one-page report (matplotlib).

matplotlib is imported only when a function here is called (any matplotlib ≥ 3.8, e.g. from
``pip install "dtp-gillespie[plot]"``). Axis labels come from the ``long_name`` and ``units``
attributes. Every function works on plain Datasets, including stored runs opened with
:func:`dtp_gillespie.open_run`.
"""

from ._charts import biomarker_chart, fan_chart, occupancy_chart, spaghetti
from ._common import label
from ._report import MAX_FAN_CHARTS, left_out_note, open_report_data, report
from ._survival import cumulative_incidence, km_plot

__all__ = [
    "MAX_FAN_CHARTS",
    "biomarker_chart",
    "cumulative_incidence",
    "fan_chart",
    "km_plot",
    "label",
    "left_out_note",
    "occupancy_chart",
    "open_report_data",
    "report",
    "spaghetti",
]
