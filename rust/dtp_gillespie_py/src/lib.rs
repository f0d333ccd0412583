//! `dtp_gillespie._core`: the thin adapter between the Python API and the engine crate. It converts
//! inputs while attached, runs the engine detached from the interpreter, watches for Ctrl-C, and
//! hands results to numpy without copying.

mod convert;
mod errors;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use dtp_gillespie_core::jump::{self, RegimeCounts};
use dtp_gillespie_core::lineage::LineageOutput;
use dtp_gillespie_core::{
    Column, PER_REPLICATE, Status, jump_run, run_ensemble, run_ensemble_jump,
};
use numpy::ndarray::{Array2, Array3};
use numpy::{IntoPyArray, PyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::PyEngineError;

/// How often the calling thread checks for Ctrl-C and reports progress while the engine runs.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Run `work` on a worker thread with the interpreter released; meanwhile check for signals (so
/// Ctrl-C sets `cancel` and surfaces as `KeyboardInterrupt`) and call `on_poll` with the GIL held.
fn run_interruptibly<T: Send>(
    py: Python<'_>,
    cancel: &AtomicBool,
    work: impl FnOnce() -> T + Send,
    mut on_poll: impl FnMut(Python<'_>) -> PyResult<()> + Send,
) -> PyResult<T> {
    py.detach(|| {
        std::thread::scope(|scope| {
            let (finished, wait) = std::sync::mpsc::channel();
            let worker = scope.spawn(move || {
                let result = work();
                // The receiver outlives the worker (same scope); a failed send cannot happen.
                let _ = finished.send(());
                result
            });
            let mut interrupted = Ok(());
            while let Err(RecvTimeoutError::Timeout) = wait.recv_timeout(POLL_INTERVAL) {
                if interrupted.is_ok() {
                    interrupted =
                        Python::attach(|py| py.check_signals().and_then(|()| on_poll(py)));
                    if interrupted.is_err() {
                        cancel.store(true, Ordering::Relaxed);
                    }
                }
            }
            let result = worker.join().map_err(|_| {
                pyo3::exceptions::PyRuntimeError::new_err("internal error: the engine panicked")
            })?;
            interrupted.map(|()| result)
        })
    })
}

#[pyfunction]
#[pyo3(signature = (model, schedule, run, progress = None))]
fn simulate_ensemble<'py>(
    py: Python<'py>,
    model: &Bound<'py, PyDict>,
    schedule: &Bound<'py, PyDict>,
    run: &Bound<'py, PyDict>,
    progress: Option<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let model = convert::model(model)?;
    let dosing = convert::dosing(schedule)?;
    let jump = convert::jump(run)?;
    let (run, spec) = convert::run(run)?;
    let progress = progress.map(Bound::unbind);
    let (cancel, done) = (AtomicBool::new(false), AtomicU64::new(0));
    let report = |py: Python<'_>| match &progress {
        Some(callback) => callback
            .bind(py)
            .call1((done.load(Ordering::Relaxed),))
            .map(drop),
        None => Ok(()),
    };
    let out = run_interruptibly(
        py,
        &cancel,
        || match &jump {
            Some(config) => run_ensemble_jump(&model, &dosing, &run, &spec, config, &cancel, &done),
            None => run_ensemble(&model, &dosing, &run, &spec, &cancel, &done),
        },
        report,
    )?
    .map_err(PyEngineError)?;
    report(py)?;

    let (n, n_t, n_s) = (spec.n_replicates, run.record_times.len(), model.n_states());
    let shape_err =
        |e: numpy::ndarray::ShapeError| pyo3::exceptions::PyRuntimeError::new_err(e.to_string());
    let result = PyDict::new(py);
    // One array per row of the engine's table of per-replicate output variables.
    for (name, column) in PER_REPLICATE {
        match column {
            Column::Float(read) => result.set_item(name, out.per_replicate(read).into_pyarray(py)),
            Column::Int(read) => result.set_item(name, out.per_replicate(read).into_pyarray(py)),
            Column::Code(read) => result.set_item(name, out.per_replicate(read).into_pyarray(py)),
        }?;
    }
    let counts = Array3::from_shape_vec((n, n_t, n_s), out.counts).map_err(shape_err)?;
    result.set_item("count", counts.into_pyarray(py))?;
    let exposure = Array2::from_shape_vec((n, n_t), out.exposure).map_err(shape_err)?;
    result.set_item("exposure", exposure.into_pyarray(py))?;
    if !out.concentration.is_empty() {
        let concentration =
            Array2::from_shape_vec((n, n_t), out.concentration).map_err(shape_err)?;
        result.set_item("concentration", concentration.into_pyarray(py))?;
    }
    if !out.biomarker.is_empty() {
        let biomarker = Array2::from_shape_vec((n, n_t), out.biomarker).map_err(shape_err)?;
        result.set_item("biomarker", biomarker.into_pyarray(py))?;
    }
    if let Some(lineages) = out.lineages {
        set_lineage_keys(&result, lineages)?;
    }
    if let Some(regimes) = out.jump_regimes {
        result.set_item(JUMP_POOL_STEPS, pool_steps(&regimes).into_pyarray(py))?;
    }
    Ok(result)
}

/// The key of a jump run's regime counts in `simulate_ensemble`'s result (`_core.pyi`).
const JUMP_POOL_STEPS: &str = "jump_pool_steps";

/// A jump run's regime counts as an `(n_states, 4)` array: per pool, the (replicate, step)
/// pairs simulated event by event, jumped and empty, and the emitting lineages simulated.
fn pool_steps(regimes: &RegimeCounts) -> Array2<i64> {
    let columns = [
        &regimes.event_by_event,
        &regimes.jumped,
        &regimes.empty,
        &regimes.emitting,
    ];
    Array2::from_shape_fn((regimes.n_types(), columns.len()), |(x, k)| {
        i64::try_from(columns[k][x]).unwrap_or(i64::MAX)
    })
}

/// The lineage table, the clone table and, when clones are tracked, the per-replicate clone
/// summary, as the output keys of `_core.pyi` (numpy arrays that take over the engine's vectors).
fn set_lineage_keys(result: &Bound<'_, PyDict>, lineages: LineageOutput) -> PyResult<()> {
    let py = result.py();
    let LineageOutput {
        rows,
        clones,
        clones_born,
        clones_alive,
        first_surviving_resistant_time,
    } = lineages;
    let has_summary = !clones_born.is_empty();
    result.set_item("lineage_replicate", rows.replicate.into_pyarray(py))?;
    result.set_item("lineage_time", rows.time.into_pyarray(py))?;
    result.set_item("lineage_barcode", rows.barcode.into_pyarray(py))?;
    result.set_item("lineage_clone", rows.clone.into_pyarray(py))?;
    result.set_item("lineage_state", rows.state.into_pyarray(py))?;
    result.set_item("lineage_count", rows.count.into_pyarray(py))?;
    result.set_item("clone_replicate", clones.replicate.into_pyarray(py))?;
    result.set_item("clone_id", clones.id.into_pyarray(py))?;
    result.set_item("clone_parent", clones.parent.into_pyarray(py))?;
    result.set_item("clone_barcode", clones.barcode.into_pyarray(py))?;
    result.set_item("clone_birth_time", clones.birth_time.into_pyarray(py))?;
    result.set_item("clone_state", clones.state.into_pyarray(py))?;
    result.set_item(
        "clone_birth_exposure",
        clones.birth_exposure.into_pyarray(py),
    )?;
    result.set_item(
        "clone_extinction_time",
        clones.extinction_time.into_pyarray(py),
    )?;
    if has_summary {
        result.set_item("clones_born", clones_born.into_pyarray(py))?;
        result.set_item("clones_alive", clones_alive.into_pyarray(py))?;
        let first = first_surviving_resistant_time.into_pyarray(py);
        result.set_item("first_surviving_resistant_time", first)?;
    }
    Ok(())
}

#[pyfunction]
fn trace<'py>(
    py: Python<'py>,
    model: &Bound<'py, PyDict>,
    schedule: &Bound<'py, PyDict>,
    run: &Bound<'py, PyDict>,
    replicate: u64,
) -> PyResult<Bound<'py, PyDict>> {
    let (model, dosing) = (convert::model(model)?, convert::dosing(schedule)?);
    let (run, spec) = convert::run(run)?;
    let key = spec.seed_key;
    let cancel = AtomicBool::new(false);
    let trace = run_interruptibly(
        py,
        &cancel,
        || dtp_gillespie_core::trace(&model, &dosing, &run, &key, replicate, &cancel),
        |_| Ok(()),
    )?
    .map_err(PyEngineError)?;
    let n_s = model.n_states();
    let counts = Array2::from_shape_vec((trace.time.len(), n_s), trace.counts)
        .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))?;
    let result = PyDict::new(py);
    result.set_item("time", trace.time.into_pyarray(py))?;
    result.set_item("channel", trace.channel.into_pyarray(py))?;
    result.set_item("count", counts.into_pyarray(py))?;
    result.set_item("exposure", trace.exposure.into_pyarray(py))?;
    result.set_item("switch_time", trace.switch_time.into_pyarray(py))?;
    result.set_item("switch_exposure", trace.switch_exposure.into_pyarray(py))?;
    let status = trace.status.unwrap_or(Status::Completed) as i8;
    result.set_item("status", status)?;
    result.set_item("stop_time", trace.stop_time)?;
    Ok(result)
}

/// Index of the exposure in force at each time, exactly as the engine sees it.
#[pyfunction]
fn exposure_at<'py>(
    py: Python<'py>,
    schedule: &Bound<'py, PyDict>,
    times: Vec<f64>,
) -> PyResult<Bound<'py, PyArray1<i64>>> {
    let schedule = convert::schedule(schedule)?;
    let index = times
        .into_iter()
        .map(|t| schedule.segment_at(t).map(|s| s.exposure as i64))
        .collect::<Result<Vec<i64>, _>>()
        .map_err(PyEngineError)?;
    Ok(index.into_pyarray(py))
}

/// Start times and exposure indices of the segments of a fixed schedule that start at or before
/// `t_end`, by the engine's own arithmetic; an error beyond `limit` of them.
#[pyfunction]
fn breakpoints(
    schedule: &Bound<'_, PyDict>,
    t_end: f64,
    limit: usize,
) -> PyResult<(Vec<f64>, Vec<usize>)> {
    let schedule = convert::schedule(schedule)?;
    Ok(schedule.breakpoints(t_end, limit).map_err(PyEngineError)?)
}

/// How many segments of a fixed schedule start at or before `t_end` (from the period; see
/// `Schedule::segment_count`), for the caller's bound check before [`breakpoints`].
#[pyfunction]
fn segment_count(schedule: &Bound<'_, PyDict>, t_end: f64) -> PyResult<f64> {
    Ok(convert::schedule(schedule)?.segment_count(t_end))
}

/// What the mean-field path of a density-dependent jump run says about its approximation:
/// `(max_rate_change_per_step, density_rate_error)`, or `None` for a linear model (or a run
/// that is not `method="jump"`).
#[pyfunction]
fn jump_density_report(
    model: &Bound<'_, PyDict>,
    schedule: &Bound<'_, PyDict>,
    run: &Bound<'_, PyDict>,
) -> PyResult<Option<(f64, f64)>> {
    let (model, dosing) = (convert::model(model)?, convert::dosing(schedule)?);
    let Some(config) = convert::jump(run)? else {
        return Ok(None);
    };
    let (run, _) = convert::run(run)?;
    let report = jump_run::density_report(&model, &dosing, &run, &config).map_err(PyEngineError)?;
    Ok(report.map(|r| (r.max_rate_change_per_step, r.quantum_rate_error)))
}

/// The process's cache of jump step laws (`jump::cache`): laws held, their bytes, the budget,
/// hits and misses so far.
#[pyfunction]
fn jump_cache_stats() -> (usize, usize, usize, u64, u64) {
    let s = jump::cache::LAWS.stats();
    (s.laws, s.bytes, s.budget, s.hits, s.misses)
}

/// The most replicates whose lineage trackers a tracked call holds at once (for the memory
/// guard): `dtp_gillespie_core::trackers_at_once`.
#[pyfunction]
#[pyo3(signature = (n_threads, n_replicates))]
fn trackers_at_once(n_threads: Option<usize>, n_replicates: usize) -> usize {
    dtp_gillespie_core::trackers_at_once(n_threads, n_replicates)
}

/// Set the jump law cache's budget in bytes (0 keeps no law: every engine call builds its own).
#[pyfunction]
fn set_jump_cache_budget(bytes: usize) {
    jump::cache::LAWS.set_budget(bytes);
}

/// Drop every cached jump law.
#[pyfunction]
fn clear_jump_cache() {
    jump::cache::LAWS.clear();
}

#[pymodule(gil_used = false)]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("RNG_NAME", dtp_gillespie_core::RNG_NAME)?;
    let codes = PyDict::new(m.py());
    for status in Status::ALL {
        codes.set_item(status.name(), status as i8)?;
    }
    m.add("STATUS_CODES", codes)?;
    m.add_function(wrap_pyfunction!(simulate_ensemble, m)?)?;
    m.add_function(wrap_pyfunction!(trace, m)?)?;
    m.add_function(wrap_pyfunction!(exposure_at, m)?)?;
    m.add_function(wrap_pyfunction!(breakpoints, m)?)?;
    m.add_function(wrap_pyfunction!(segment_count, m)?)?;
    m.add_function(wrap_pyfunction!(jump_density_report, m)?)?;
    m.add_function(wrap_pyfunction!(jump_cache_stats, m)?)?;
    m.add_function(wrap_pyfunction!(set_jump_cache_budget, m)?)?;
    m.add_function(wrap_pyfunction!(clear_jump_cache, m)?)?;
    m.add_function(wrap_pyfunction!(trackers_at_once, m)?)?;
    Ok(())
}
