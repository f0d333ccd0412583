//! Plain dicts of the Python layer (see `_core.pyi`) to engine types, while attached.

use dtp_gillespie_core::{
    Capacity, CapacityTarget, Channel, ChannelKind, EngineError, Model, RunConfig, Schedule,
};
use pyo3::exceptions::PyKeyError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::PyEngineError;

fn item<'py, T>(dict: &Bound<'py, PyDict>, key: &str) -> PyResult<T>
where
    T: for<'a> FromPyObject<'a, 'py>,
{
    match dict.get_item(key)? {
        Some(value) => value.extract().map_err(Into::into),
        None => Err(PyKeyError::new_err(format!("missing key {key:?}"))),
    }
}

fn state(index: i64) -> Option<usize> {
    usize::try_from(index).ok()
}

pub fn model(d: &Bound<'_, PyDict>) -> PyResult<Model> {
    let source: Vec<usize> = item(d, "channel_source")?;
    let dec: Vec<i64> = item(d, "channel_dec")?;
    let inc: Vec<i64> = item(d, "channel_inc")?;
    let kind: Vec<u8> = item(d, "channel_kind")?;
    let mutation: Vec<bool> = item(d, "channel_mutation")?;
    let n = source.len();
    if [dec.len(), inc.len(), kind.len(), mutation.len()]
        .iter()
        .any(|&l| l != n)
    {
        return Err(PyEngineError(EngineError::InvalidModel(
            "channel arrays differ in length".into(),
        ))
        .into());
    }
    let mut channels = Vec::with_capacity(n);
    for c in 0..n {
        let kind = match kind[c] {
            0 => ChannelKind::Division,
            1 => ChannelKind::Death,
            2 => ChannelKind::Switch,
            k => {
                let msg = format!("channel {c} has kind {k}; expected 0, 1 or 2");
                return Err(PyEngineError(EngineError::InvalidModel(msg)).into());
            }
        };
        channels.push(Channel {
            source: source[c],
            dec: state(dec[c]),
            inc: state(inc[c]),
            kind,
            is_mutation: mutation[c],
        });
    }
    let capacity = match item::<Option<f64>>(d, "capacity")? {
        None => None,
        Some(k) => {
            let target = match item::<String>(d, "capacity_on")?.as_str() {
                "division" => CapacityTarget::Division,
                "death" => CapacityTarget::Death,
                other => {
                    let msg =
                        format!("capacity acts on {other:?}; expected \"division\" or \"death\"");
                    return Err(PyEngineError(EngineError::InvalidModel(msg)).into());
                }
            };
            Some(Capacity {
                k,
                target,
                weights: item(d, "capacity_weights")?,
            })
        }
    };
    Ok(Model::new(
        item(d, "n_states")?,
        item(d, "n_exposures")?,
        channels,
        item(d, "channel_rate")?,
        capacity,
    )
    .map_err(PyEngineError)?)
}

pub fn schedule(d: &Bound<'_, PyDict>) -> PyResult<Schedule> {
    let cycle = item::<Option<usize>>(d, "cycle_start")?
        .map(|first| item::<f64>(d, "period").map(|p| (first, p)));
    Ok(Schedule::new(
        item(d, "segment_start")?,
        item(d, "segment_exposure")?,
        cycle.transpose()?,
    )
    .map_err(PyEngineError)?)
}

pub fn run(d: &Bound<'_, PyDict>) -> PyResult<RunConfig> {
    Ok(RunConfig {
        initial: item(d, "initial")?,
        record_times: item(d, "record_times")?,
        t_end: item(d, "t_end")?,
        max_events: item::<Option<u64>>(d, "max_events")?.unwrap_or(u64::MAX),
        max_population: item::<Option<u64>>(d, "max_population")?.unwrap_or(u64::MAX),
    })
}

pub fn seed_key(d: &Bound<'_, PyDict>) -> PyResult<[u8; 32]> {
    let key: Vec<u8> = item(d, "seed_key")?;
    key.try_into().map_err(|k: Vec<u8>| {
        PyEngineError(EngineError::InvalidRun(format!(
            "seed_key has {} bytes; expected 32",
            k.len()
        )))
        .into()
    })
}
