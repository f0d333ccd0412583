"""Exception classes of dtp-gillespie.

Every error raised on purpose by the package is a :class:`DtpGillespieError`. Errors in user
input (model spec, schedule, run options) are also :class:`ValueError`, so ``except ValueError``
keeps working. Warnings about a model that is valid but probably not what was meant are
:class:`CrowdingWarning`. The compiled engine (``dtp_gillespie._core``) imports
``InvalidModelError``, ``InvalidScheduleError`` and ``InvalidRunError`` from this module by name:
do not rename them.
"""

__all__ = [
    "CrowdingWarning",
    "DtpGillespieError",
    "IncompleteStoreWarning",
    "InvalidModelError",
    "InvalidRunError",
    "InvalidScheduleError",
    "MissingDependencyError",
]


class DtpGillespieError(Exception):
    """Base class of every error raised by dtp-gillespie."""


class InvalidModelError(DtpGillespieError, ValueError):
    """The model spec is invalid (unknown key or name, bad rate or probability, bad capacity)."""


class InvalidScheduleError(DtpGillespieError, ValueError):
    """The drug schedule is invalid or names an exposure the model does not have."""


class InvalidRunError(DtpGillespieError, ValueError):
    """A run option is invalid (initial counts, ``t_end``, record times, replicates, seed, caps)."""


class MissingDependencyError(DtpGillespieError, ImportError):
    """An optional dependency is not installed (e.g. matplotlib for :mod:`dtp_gillespie.plot`);
    the message says which extra to install. Also an :class:`ImportError`."""


class IncompleteStoreWarning(UserWarning):
    """A store opened before it was finished: a streamed run still being written or interrupted,
    an interrupted :func:`~dtp_gillespie.write_run` (replicates not run or not written yet read
    ``status`` -1 (``not_run``) and ``count`` -1), or the CLI's store of one group per schedule
    whose schedules are not all written."""


class CrowdingWarning(UserWarning):
    """A declared density dependence stops being biological under some exposure: crowding lowers
    the death rate of a state the drug kills (a crowded tumour survives the drug better), or it
    freezes a population above a capacity that the exposure lowered (cells neither divide nor
    die). The message names the state and the exposure."""
