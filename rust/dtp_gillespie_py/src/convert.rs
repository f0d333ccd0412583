//! Plain dicts of the Python layer (see `_core.pyi`) to engine types, while attached.

use dtp_gillespie_core::{
    AdaptiveSpec, Biomarker, Capacity, CapacityTarget, Channel, ChannelKind, Competition,
    CompetitionRow, Dosing, DosingKind, EngineError, Model, Phase, PkResponse, PkSpec, Progression,
    Reference, Rule, RunConfig, Schedule,
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
        Some(k) => Some(Capacity {
            k,
            target: target(&item::<String>(d, "capacity_on")?)?,
            weights: item(d, "capacity_weights")?,
            slope: item(d, "capacity_slope")?,
        }),
    };
    let mut model = Model::new(
        item(d, "n_states")?,
        item(d, "n_exposures")?,
        channels,
        item(d, "channel_rate")?,
        capacity,
    )
    .map_err(PyEngineError)?;
    if let Some(c) = optional_dict(d, "competition")? {
        let rows: Vec<Bound<'_, PyDict>> = item(&c, "rows")?;
        let competition = Competition {
            target: target(&item::<String>(&c, "on")?)?,
            rows: rows
                .iter()
                .map(|r| {
                    Ok(CompetitionRow {
                        state: item(r, "state")?,
                        alpha: item(r, "alpha")?,
                        k0: item(r, "k0")?,
                        k_per_cell: item(r, "k_per_cell")?,
                    })
                })
                .collect::<PyResult<_>>()?,
        };
        model = model.with_competition(competition).map_err(PyEngineError)?;
    }
    if let Some(b) = optional_dict(d, "biomarker")? {
        let biomarker = Biomarker {
            production: item(&b, "production")?,
            decay: item(&b, "decay")?,
            initial: item(&b, "initial")?,
        };
        model = model.with_biomarker(biomarker).map_err(PyEngineError)?;
    }
    Ok(model)
}

/// `d[key]` when present and not None.
fn optional_dict<'py>(d: &Bound<'py, PyDict>, key: &str) -> PyResult<Option<Bound<'py, PyDict>>> {
    match d.get_item(key)? {
        Some(v) if !v.is_none() => Ok(Some(v.cast_into::<PyDict>()?)),
        _ => Ok(None),
    }
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
            Err(PyEngineError(EngineError::InvalidModel(msg)).into())
        }
    }
}

fn bad_schedule(msg: String) -> PyErr {
    PyEngineError(EngineError::InvalidSchedule(msg)).into()
}

/// A fixed schedule (the `segment_*` keys).
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

fn rule(d: &Bound<'_, PyDict>) -> PyResult<Rule> {
    Ok(Rule {
        from: item(d, "from")?,
        to: item(d, "to")?,
        below: item(d, "below")?,
        above: item(d, "above")?,
        absolute: d.get_item("absolute")?.map_or(Ok(false), |v| v.extract())?,
        after: d.get_item("after")?.map_or(Ok(None), |v| v.extract())?,
        min_time: d.get_item("min_time")?.map_or(Ok(0.0), |v| v.extract())?,
        phase: match d
            .get_item("phase")?
            .map(|v| v.extract::<String>())
            .transpose()?
            .as_deref()
        {
            None | Some("any") => Phase::Any,
            Some("before_treatment") => Phase::BeforeTreatment,
            Some("after_treatment") => Phase::AfterTreatment,
            Some(other) => return Err(bad_schedule(format!("unknown rule phase {other:?}"))),
        },
    })
}

/// Any kind of dosing (see `_core.pyi`).
pub fn dosing(d: &Bound<'_, PyDict>) -> PyResult<Dosing> {
    let kind = d
        .get_item("kind")?
        .map_or(Ok("fixed".to_owned()), |v| v.extract::<String>())?;
    let kind = match kind.as_str() {
        "fixed" => DosingKind::Fixed(schedule(d)?),
        "adaptive" => {
            let reference = match item::<String>(d, "reference")?.as_str() {
                "initial" => Reference::Initial,
                "treatment_start" => Reference::TreatmentStart,
                "last_switch" => Reference::LastSwitch,
                "absolute" => Reference::Absolute,
                other => return Err(bad_schedule(format!("unknown reference {other:?}"))),
            };
            let rules: Vec<Bound<'_, PyDict>> = item(d, "rules")?;
            DosingKind::Adaptive(AdaptiveSpec {
                initial_exposure: item(d, "initial_exposure")?,
                monitor_weights: item(d, "monitor_weights")?,
                monitor_biomarker: d
                    .get_item("monitor_biomarker")?
                    .map_or(Ok(false), |v| v.extract())?,
                reference,
                check_every: item(d, "check_every")?,
                rules: rules.iter().map(rule).collect::<PyResult<_>>()?,
            })
        }
        "pk" => DosingKind::Pk(PkSpec {
            off_exposure: item(d, "off_exposure")?,
            on_exposure: item(d, "on_exposure")?,
            dose_times: item(d, "dose_times")?,
            dose: item(d, "dose")?,
            half_life: item(d, "half_life")?,
            ec50: item(d, "ec50")?,
            hill: item(d, "hill")?,
            missed_dose_probability: item(d, "missed_dose_probability")?,
            response: PkResponse {
                ec50: item(d, "response_ec50")?,
                hill: item(d, "response_hill")?,
                on_threshold: item(d, "on_threshold")?,
            },
        }),
        other => return Err(bad_schedule(format!("unknown schedule kind {other:?}"))),
    };
    Ok(Dosing {
        kind,
        treating: item(d, "treating")?,
    })
}

pub fn run(d: &Bound<'_, PyDict>) -> PyResult<RunConfig> {
    Ok(RunConfig {
        initial: item(d, "initial")?,
        record_times: item(d, "record_times")?,
        t_end: item(d, "t_end")?,
        max_events: item::<Option<u64>>(d, "max_events")?.unwrap_or(u64::MAX),
        max_population: item::<Option<u64>>(d, "max_population")?.unwrap_or(u64::MAX),
        progression: match d.get_item("progression_weights")? {
            Some(w) if !w.is_none() => Some(Progression {
                weights: w.extract()?,
                factor: d
                    .get_item("progression_factor")?
                    .map_or(Ok(None), |v| v.extract())?,
                size: d
                    .get_item("progression_size")?
                    .map_or(Ok(None), |v| v.extract())?,
                biomarker: d
                    .get_item("progression_biomarker")?
                    .map_or(Ok(false), |v| v.extract())?,
            }),
            _ => None,
        },
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
