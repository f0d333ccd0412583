//! Plain dicts of the Python layer (see `_core.pyi`) to engine types, while attached.
//!
//! A key that is missing or holds a value of the wrong type is refused with the typed error of
//! the dict it belongs to (`InvalidModelError` for the model dict, and so on), naming the key and
//! the value, exactly like the engine's own validation.

use dtp_gillespie_core::{
    AdaptiveSpec, Biomarker, Capacity, CapacityTarget, Channel, ChannelKind, Competition,
    CompetitionRow, Dosing, DosingKind, EngineError, Model, Phase, PkResponse, PkSpec, Progression,
    Reference, Rule, RunConfig, Schedule,
};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::PyEngineError;

/// Longest value repr quoted in an error message (a rate table can be long).
const MAX_REPR: usize = 80;

/// The engine dict a key belongs to; its refusals are that dict's typed error.
#[derive(Clone, Copy)]
pub enum Part {
    Model,
    Schedule,
    Run,
}

impl Part {
    fn name(self) -> &'static str {
        match self {
            Part::Model => "model",
            Part::Schedule => "schedule",
            Part::Run => "run",
        }
    }

    /// This dict's typed error (`InvalidModelError`, `InvalidScheduleError` or `InvalidRunError`).
    pub fn error(self, msg: String) -> PyErr {
        let e = match self {
            Part::Model => EngineError::InvalidModel(msg),
            Part::Schedule => EngineError::InvalidSchedule(msg),
            Part::Run => EngineError::InvalidRun(msg),
        };
        PyEngineError(e).into()
    }
}

/// `value` (the value of `key`) as a `T`, or the typed error naming the key and the value.
fn extract<'py, T>(value: &Bound<'py, PyAny>, key: &str, part: Part) -> PyResult<T>
where
    T: for<'a> FromPyObject<'a, 'py>,
{
    value.extract::<T>().map_err(|e| {
        let e: PyErr = e.into();
        let mut shown = value
            .repr()
            .map_or_else(|_| "<no repr>".to_owned(), |r| r.to_string());
        if shown.chars().count() > MAX_REPR {
            shown = shown.chars().take(MAX_REPR).collect::<String>() + "...";
        }
        let kind = value
            .get_type()
            .name()
            .map_or_else(|_| "?".to_owned(), |n| n.to_string());
        part.error(format!(
            "engine {} dict: key {key:?} is {shown} ({kind}), which the engine cannot read: {e}",
            part.name()
        ))
    })
}

/// The required key `key` of `dict`.
pub fn item<'py, T>(dict: &Bound<'py, PyDict>, key: &str, part: Part) -> PyResult<T>
where
    T: for<'a> FromPyObject<'a, 'py>,
{
    match dict.get_item(key)? {
        Some(value) => extract(&value, key, part),
        None => Err(part.error(format!(
            "engine {} dict: required key {key:?} is missing",
            part.name()
        ))),
    }
}

/// The optional key `key` of `dict`: None when it is absent or None.
pub fn optional<'py, T>(dict: &Bound<'py, PyDict>, key: &str, part: Part) -> PyResult<Option<T>>
where
    T: for<'a> FromPyObject<'a, 'py>,
{
    match dict.get_item(key)? {
        Some(value) if !value.is_none() => extract(&value, key, part).map(Some),
        _ => Ok(None),
    }
}

fn state(index: i64) -> Option<usize> {
    usize::try_from(index).ok()
}

pub fn model(d: &Bound<'_, PyDict>) -> PyResult<Model> {
    let source: Vec<usize> = item(d, "channel_source", Part::Model)?;
    let dec: Vec<i64> = item(d, "channel_dec", Part::Model)?;
    let inc: Vec<i64> = item(d, "channel_inc", Part::Model)?;
    let kind: Vec<u8> = item(d, "channel_kind", Part::Model)?;
    let mutation: Vec<bool> = item(d, "channel_mutation", Part::Model)?;
    let n = source.len();
    if [dec.len(), inc.len(), kind.len(), mutation.len()]
        .iter()
        .any(|&l| l != n)
    {
        return Err(Part::Model.error("channel arrays differ in length".into()));
    }
    let mut channels = Vec::with_capacity(n);
    for c in 0..n {
        let kind = match kind[c] {
            0 => ChannelKind::Division,
            1 => ChannelKind::Death,
            2 => ChannelKind::Switch,
            k => {
                let msg = format!("channel {c} has kind {k}; expected 0, 1 or 2");
                return Err(Part::Model.error(msg));
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
    let capacity = match item::<Option<f64>>(d, "capacity", Part::Model)? {
        None => None,
        Some(k) => Some(Capacity {
            k,
            target: target(&item::<String>(d, "capacity_on", Part::Model)?)?,
            weights: item(d, "capacity_weights", Part::Model)?,
            slope: item(d, "capacity_slope", Part::Model)?,
        }),
    };
    let mut model = Model::new(
        item(d, "n_states", Part::Model)?,
        item(d, "n_exposures", Part::Model)?,
        channels,
        item(d, "channel_rate", Part::Model)?,
        capacity,
    )
    .map_err(PyEngineError)?;
    if let Some(c) = optional::<Bound<'_, PyDict>>(d, "competition", Part::Model)? {
        let rows: Vec<Bound<'_, PyDict>> = item(&c, "rows", Part::Model)?;
        let competition = Competition {
            target: target(&item::<String>(&c, "on", Part::Model)?)?,
            rows: rows
                .iter()
                .map(|r| {
                    Ok(CompetitionRow {
                        state: item(r, "state", Part::Model)?,
                        alpha: item(r, "alpha", Part::Model)?,
                        k0: item(r, "k0", Part::Model)?,
                        k_per_cell: item(r, "k_per_cell", Part::Model)?,
                    })
                })
                .collect::<PyResult<_>>()?,
        };
        model = model.with_competition(competition).map_err(PyEngineError)?;
    }
    if let Some(b) = optional::<Bound<'_, PyDict>>(d, "biomarker", Part::Model)? {
        let biomarker = Biomarker {
            production: item(&b, "production", Part::Model)?,
            decay: item(&b, "decay", Part::Model)?,
            initial: item(&b, "initial", Part::Model)?,
        };
        model = model.with_biomarker(biomarker).map_err(PyEngineError)?;
    }
    Ok(model)
}

fn target(name: &str) -> PyResult<CapacityTarget> {
    match name {
        "division" => Ok(CapacityTarget::Division),
        "death" => Ok(CapacityTarget::Death),
        "death_additive" => Ok(CapacityTarget::DeathAdditive),
        other => {
            let msg = format!(
                "density dependence acts on {other:?}; expected \"division\", \"death\" or \
                 \"death_additive\""
            );
            Err(Part::Model.error(msg))
        }
    }
}

/// A fixed schedule (the `segment_*` keys).
pub fn schedule(d: &Bound<'_, PyDict>) -> PyResult<Schedule> {
    let cycle = item::<Option<usize>>(d, "cycle_start", Part::Schedule)?
        .map(|first| item::<f64>(d, "period", Part::Schedule).map(|p| (first, p)));
    Ok(Schedule::new(
        item(d, "segment_start", Part::Schedule)?,
        item(d, "segment_exposure", Part::Schedule)?,
        cycle.transpose()?,
    )
    .map_err(PyEngineError)?)
}

fn rule(d: &Bound<'_, PyDict>) -> PyResult<Rule> {
    Ok(Rule {
        from: item(d, "from", Part::Schedule)?,
        to: item(d, "to", Part::Schedule)?,
        below: item(d, "below", Part::Schedule)?,
        above: item(d, "above", Part::Schedule)?,
        absolute: optional(d, "absolute", Part::Schedule)?.unwrap_or(false),
        after: optional(d, "after", Part::Schedule)?,
        min_time: optional(d, "min_time", Part::Schedule)?.unwrap_or(0.0),
        phase: match optional::<String>(d, "phase", Part::Schedule)?.as_deref() {
            None | Some("any") => Phase::Any,
            Some("before_treatment") => Phase::BeforeTreatment,
            Some("after_treatment") => Phase::AfterTreatment,
            Some(other) => {
                return Err(Part::Schedule.error(format!("unknown rule phase {other:?}")));
            }
        },
    })
}

/// Any kind of dosing (see `_core.pyi`).
pub fn dosing(d: &Bound<'_, PyDict>) -> PyResult<Dosing> {
    let kind = optional::<String>(d, "kind", Part::Schedule)?.unwrap_or_else(|| "fixed".into());
    let kind = match kind.as_str() {
        "fixed" => DosingKind::Fixed(schedule(d)?),
        "adaptive" => {
            let reference = match item::<String>(d, "reference", Part::Schedule)?.as_str() {
                "initial" => Reference::Initial,
                "treatment_start" => Reference::TreatmentStart,
                "last_switch" => Reference::LastSwitch,
                "absolute" => Reference::Absolute,
                other => return Err(Part::Schedule.error(format!("unknown reference {other:?}"))),
            };
            let rules: Vec<Bound<'_, PyDict>> = item(d, "rules", Part::Schedule)?;
            DosingKind::Adaptive(AdaptiveSpec {
                initial_exposure: item(d, "initial_exposure", Part::Schedule)?,
                monitor_weights: item(d, "monitor_weights", Part::Schedule)?,
                monitor_biomarker: optional(d, "monitor_biomarker", Part::Schedule)?
                    .unwrap_or(false),
                reference,
                check_every: item(d, "check_every", Part::Schedule)?,
                rules: rules.iter().map(rule).collect::<PyResult<_>>()?,
            })
        }
        "pk" => DosingKind::Pk(PkSpec {
            off_exposure: item(d, "off_exposure", Part::Schedule)?,
            on_exposure: item(d, "on_exposure", Part::Schedule)?,
            dose_times: item(d, "dose_times", Part::Schedule)?,
            dose: item(d, "dose", Part::Schedule)?,
            half_life: item(d, "half_life", Part::Schedule)?,
            ec50: item(d, "ec50", Part::Schedule)?,
            hill: item(d, "hill", Part::Schedule)?,
            missed_dose_probability: item(d, "missed_dose_probability", Part::Schedule)?,
            response: PkResponse {
                ec50: item(d, "response_ec50", Part::Schedule)?,
                hill: item(d, "response_hill", Part::Schedule)?,
                on_threshold: item(d, "on_threshold", Part::Schedule)?,
            },
        }),
        other => return Err(Part::Schedule.error(format!("unknown schedule kind {other:?}"))),
    };
    Ok(Dosing {
        kind,
        treating: item(d, "treating", Part::Schedule)?,
    })
}

pub fn run(d: &Bound<'_, PyDict>) -> PyResult<RunConfig> {
    Ok(RunConfig {
        initial: item(d, "initial", Part::Run)?,
        record_times: item(d, "record_times", Part::Run)?,
        t_end: item(d, "t_end", Part::Run)?,
        max_events: item::<Option<u64>>(d, "max_events", Part::Run)?.unwrap_or(u64::MAX),
        max_population: item::<Option<u64>>(d, "max_population", Part::Run)?.unwrap_or(u64::MAX),
        progression: match optional(d, "progression_weights", Part::Run)? {
            Some(weights) => Some(Progression {
                weights,
                factor: optional(d, "progression_factor", Part::Run)?,
                size: optional(d, "progression_size", Part::Run)?,
                min_size: optional(d, "progression_min_size", Part::Run)?.unwrap_or(0.0),
                biomarker: optional(d, "progression_biomarker", Part::Run)?.unwrap_or(false),
            }),
            None => None,
        },
        force_general_loop: false,
    })
}

pub fn seed_key(d: &Bound<'_, PyDict>) -> PyResult<[u8; 32]> {
    let key: Vec<u8> = item(d, "seed_key", Part::Run)?;
    key.try_into().map_err(|k: Vec<u8>| {
        Part::Run.error(format!("seed_key has {} bytes; expected 32", k.len()))
    })
}
