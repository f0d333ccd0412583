//! One Python exception class per engine error. The classes live in `dtp_gillespie.errors` so they
//! can derive from both `DtpGillespieError` and `ValueError`.

use dtp_gillespie_core::EngineError;
use pyo3::exceptions::PyKeyboardInterrupt;
use pyo3::prelude::*;

pyo3::import_exception!(dtp_gillespie.errors, InvalidModelError);
pyo3::import_exception!(dtp_gillespie.errors, InvalidScheduleError);
pyo3::import_exception!(dtp_gillespie.errors, InvalidRunError);

pub struct PyEngineError(pub EngineError);

impl From<EngineError> for PyEngineError {
    fn from(e: EngineError) -> Self {
        Self(e)
    }
}

impl From<PyEngineError> for PyErr {
    fn from(PyEngineError(e): PyEngineError) -> Self {
        match e {
            EngineError::InvalidModel(m) => InvalidModelError::new_err(m),
            EngineError::InvalidSchedule(m) => InvalidScheduleError::new_err(m),
            EngineError::InvalidRun(m) => InvalidRunError::new_err(m),
            EngineError::Cancelled => PyKeyboardInterrupt::new_err("simulation cancelled"),
        }
    }
}
