//! The engine dicts of the Python layer (the `TypedDict`s of `_core.pyi`) to engine types, while
//! attached.
//!
//! Each dict is a `#[derive(FromPyObject)]` struct read item by item (`from_item_all`): a field's
//! name is its key. A key that is missing or holds a value the engine cannot read (a wrong type,
//! an unknown string of a string enum) is refused with the typed error of the dict it belongs to
//! (`InvalidModelError` for the model dict, and so on), naming the key and the value. What the
//! values mean is checked by the engine's constructors (`Model::new`, `Dosing::validate`, ...).

use dtp_gillespie_core::lineage::{LineageSpec, LineageStart, LineageTable};
use dtp_gillespie_core::{
    AdaptiveSpec, Biomarker, Capacity, CapacityTarget, Channel, ChannelKind, Competition,
    CompetitionRow, Dosing, DosingKind, EngineError, EnsembleSpec, Model, Phase, PkResponse,
    PkSpec, Progression, Reference, Rule, RunConfig, Schedule,
};
use dtp_gillespie_core::{JumpConfig, jump, jump_run};
use numpy::{PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::{PyKeyError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::{InvalidModelError, InvalidRunError, InvalidScheduleError, PyEngineError};

/// Longest value repr quoted in an error message (a rate table can be long).
const MAX_REPR: usize = 80;

/// The engine dict a key belongs to; its refusals are that dict's typed error.
#[derive(Clone, Copy)]
enum Part {
    Model,
    Schedule,
    Run,
    /// The `lineages` dict inside the run dict (its refusals are the run's).
    Lineages,
}

impl Part {
    fn name(self) -> &'static str {
        match self {
            Part::Model => "model",
            Part::Schedule => "schedule",
            Part::Run => "run",
            Part::Lineages => "run lineages",
        }
    }

    /// This dict's typed error (`InvalidModelError`, `InvalidScheduleError` or `InvalidRunError`).
    fn error(self, msg: String) -> PyErr {
        let e = match self {
            Part::Model => EngineError::InvalidModel(msg),
            Part::Schedule => EngineError::InvalidSchedule(msg),
            Part::Run | Part::Lineages => EngineError::InvalidRun(msg),
        };
        PyEngineError(e).into()
    }
}

/// A dict of one engine part (nested dicts included): the part whose typed error it raises.
trait Spec {
    const PART: Part;
}

/// `obj` read as the dict `T`, or the typed error of `T`'s part naming the key and the value.
fn read<'py, T>(obj: &Bound<'py, PyAny>) -> PyResult<T>
where
    T: Spec + for<'a> FromPyObject<'a, 'py>,
{
    obj.extract::<T>()
        .map_err(|e| refusal(obj, e.into(), T::PART))
}

/// A nested dict that may be None (a field's `from_py_with`).
fn optional<'py, T>(obj: &Bound<'py, PyAny>) -> PyResult<Option<T>>
where
    T: Spec + for<'a> FromPyObject<'a, 'py>,
{
    if obj.is_none() {
        Ok(None)
    } else {
        read(obj).map(Some)
    }
}

/// A list of nested dicts (a field's `from_py_with`).
fn each<'py, T>(obj: &Bound<'py, PyAny>) -> PyResult<Vec<T>>
where
    T: Spec + for<'a> FromPyObject<'a, 'py>,
{
    obj.extract::<Vec<Bound<'py, PyAny>>>()?
        .iter()
        .map(read)
        .collect()
}

/// The typed error for a failed read of `obj` as a dict of `part`.
///
/// A derived struct reports a missing key as the `KeyError` of the dict lookup and an unreadable
/// value as pyo3's "failed to extract field Struct.key" error caused by the value's own error; a
/// nested dict has already raised its typed error, which is passed on. (The "failed to extract
/// field" wording is pyo3's: `tests/test_core_errors.py` fails if a pyo3 upgrade changes it.)
fn refusal(obj: &Bound<'_, PyAny>, err: PyErr, part: Part) -> PyErr {
    let py = obj.py();
    let mut link = Some(err.clone_ref(py));
    while let Some(e) = link {
        if e.is_instance_of::<InvalidModelError>(py)
            || e.is_instance_of::<InvalidScheduleError>(py)
            || e.is_instance_of::<InvalidRunError>(py)
        {
            return e;
        }
        link = e.cause(py);
    }
    let dict = part.name();
    if err.is_instance_of::<PyKeyError>(py) {
        let key = err.value(py).getattr("args").and_then(|a| a.get_item(0));
        if let Ok(key) = key.and_then(|k| k.extract::<String>()) {
            return part.error(format!(
                "engine {dict} dict: required key {key:?} is missing"
            ));
        }
    }
    if err.is_instance_of::<PyTypeError>(py) {
        let message = err.value(py).to_string();
        let key = message
            .strip_prefix("failed to extract field ")
            .and_then(|field| field.rsplit_once('.'))
            .map(|(_, key)| key);
        if let Some(value) = key.and_then(|k| obj.get_item(k).ok()) {
            let key = key.unwrap_or_default();
            let reason = err.cause(py).unwrap_or(err);
            return part.error(format!(
                "engine {dict} dict: key {key:?} is {}, which the engine cannot read: {reason}",
                shown(&value)
            ));
        }
    }
    err
}

/// `value`'s repr (shortened) and type, for an error message.
fn shown(value: &Bound<'_, PyAny>) -> String {
    let mut repr = value
        .repr()
        .map_or_else(|_| "<no repr>".to_owned(), |r| r.to_string());
    if repr.chars().count() > MAX_REPR {
        repr = repr.chars().take(MAX_REPR).collect::<String>() + "...";
    }
    let kind = value
        .get_type()
        .name()
        .map_or_else(|_| "?".to_owned(), |n| n.to_string());
    format!("{repr} ({kind})")
}

/// A string enum of the engine dicts: the string of each engine value.
trait Named: Copy + 'static {
    /// The start of the refusal of an unknown string, which follows it.
    const UNKNOWN: &'static str;
    const NAMES: &'static [(&'static str, Self)];
}

/// A string enum (a field's `from_py_with`): one of `T::NAMES`, else a ValueError naming the
/// string and the accepted ones.
fn named<T: Named>(obj: &Bound<'_, PyAny>) -> PyResult<T> {
    let name = obj.extract::<String>()?;
    T::NAMES
        .iter()
        .find(|(option, _)| *option == name)
        .map(|&(_, value)| value)
        .ok_or_else(|| {
            let accepted: Vec<String> = T::NAMES.iter().map(|(o, _)| format!("{o:?}")).collect();
            let accepted = accepted.join(", ");
            PyValueError::new_err(format!(
                "{} {name:?}; expected one of {accepted}",
                T::UNKNOWN
            ))
        })
}

/// A string enum that may be None (its default).
fn named_or_default<T: Named + Default>(obj: &Bound<'_, PyAny>) -> PyResult<T> {
    if obj.is_none() {
        Ok(T::default())
    } else {
        named(obj)
    }
}

impl Named for ChannelKind {
    const UNKNOWN: &'static str = "unknown channel kind";
    const NAMES: &'static [(&'static str, Self)] = &[
        ("division", Self::Division),
        ("death", Self::Death),
        ("switch", Self::Switch),
    ];
}

impl Named for CapacityTarget {
    const UNKNOWN: &'static str = "density dependence acts on";
    const NAMES: &'static [(&'static str, Self)] = &[
        ("division", Self::Division),
        ("death", Self::Death),
        ("death_additive", Self::DeathAdditive),
    ];
}

/// The kinds of dosing, the `kind` key of the schedule dict (absent or None: fixed).
#[derive(Clone, Copy, Default)]
enum ScheduleKind {
    #[default]
    Fixed,
    Adaptive,
    Pk,
}

impl Named for ScheduleKind {
    const UNKNOWN: &'static str = "unknown schedule kind";
    const NAMES: &'static [(&'static str, Self)] = &[
        ("fixed", Self::Fixed),
        ("adaptive", Self::Adaptive),
        ("pk", Self::Pk),
    ];
}

impl Named for Reference {
    const UNKNOWN: &'static str = "unknown reference";
    const NAMES: &'static [(&'static str, Self)] = &[
        ("initial", Self::Initial),
        ("treatment_start", Self::TreatmentStart),
        ("last_switch", Self::LastSwitch),
        ("absolute", Self::Absolute),
    ];
}

/// A rule's phase (absent or None: any).
impl Named for Phase {
    const UNKNOWN: &'static str = "unknown rule phase";
    const NAMES: &'static [(&'static str, Self)] = &[
        ("any", Self::Any),
        ("before_treatment", Self::BeforeTreatment),
        ("after_treatment", Self::AfterTreatment),
    ];
}

// ------------------------------------------------------------------------------------ model

/// `ModelSpec` of `_core.pyi`.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct ModelDict {
    n_states: usize,
    n_exposures: usize,
    #[pyo3(from_py_with = each)]
    channels: Vec<ChannelDict>,
    channel_rate: Vec<f64>,
    capacity: Option<f64>,
    #[pyo3(from_py_with = named)]
    capacity_on: CapacityTarget,
    capacity_weights: Vec<f64>,
    capacity_slope: Vec<f64>,
    #[pyo3(default, from_py_with = optional)]
    competition: Option<CompetitionDict>,
    #[pyo3(default, from_py_with = optional)]
    biomarker: Option<BiomarkerDict>,
    #[pyo3(default)]
    state_names: Vec<String>,
}

/// `ChannelSpec` of `_core.pyi`.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct ChannelDict {
    source: usize,
    dec: Option<usize>,
    inc: Option<usize>,
    #[pyo3(from_py_with = named)]
    kind: ChannelKind,
    mutation: bool,
}

/// `CompetitionSpec` of `_core.pyi`.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct CompetitionDict {
    #[pyo3(from_py_with = named)]
    on: CapacityTarget,
    #[pyo3(from_py_with = each)]
    rows: Vec<CompetitionRowDict>,
}

/// `CompetitionRowSpec` of `_core.pyi`.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct CompetitionRowDict {
    state: usize,
    alpha: Vec<f64>,
    k0: Vec<f64>,
    k_per_cell: Vec<f64>,
}

/// `BiomarkerSpec` of `_core.pyi`.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct BiomarkerDict {
    production: Vec<f64>,
    decay: f64,
    initial: Option<f64>,
}

impl Spec for ModelDict {
    const PART: Part = Part::Model;
}
impl Spec for ChannelDict {
    const PART: Part = Part::Model;
}
impl Spec for CompetitionDict {
    const PART: Part = Part::Model;
}
impl Spec for CompetitionRowDict {
    const PART: Part = Part::Model;
}
impl Spec for BiomarkerDict {
    const PART: Part = Part::Model;
}

pub fn model(d: &Bound<'_, PyDict>) -> PyResult<Model> {
    let m: ModelDict = read(d.as_any())?;
    let channels = m
        .channels
        .into_iter()
        .map(|c| Channel {
            source: c.source,
            dec: c.dec,
            inc: c.inc,
            kind: c.kind,
            is_mutation: c.mutation,
        })
        .collect();
    let capacity = m.capacity.map(|k| Capacity {
        k,
        target: m.capacity_on,
        weights: m.capacity_weights,
        slope: m.capacity_slope,
    });
    let mut model = Model::new(
        m.n_states,
        m.n_exposures,
        channels,
        m.channel_rate,
        capacity,
    )
    .map_err(PyEngineError)?;
    if let Some(c) = m.competition {
        let rows = c
            .rows
            .into_iter()
            .map(|r| CompetitionRow {
                state: r.state,
                alpha: r.alpha,
                k0: r.k0,
                k_per_cell: r.k_per_cell,
            })
            .collect();
        let competition = Competition { target: c.on, rows };
        model = model.with_competition(competition).map_err(PyEngineError)?;
    }
    if let Some(b) = m.biomarker {
        let biomarker = Biomarker {
            production: b.production,
            decay: b.decay,
            initial: b.initial,
        };
        model = model.with_biomarker(biomarker).map_err(PyEngineError)?;
    }
    if !m.state_names.is_empty() {
        model = model
            .with_state_names(m.state_names)
            .map_err(PyEngineError)?;
    }
    Ok(model)
}

// --------------------------------------------------------------------------------- schedule

/// The keys of `ScheduleSpec` of `_core.pyi` common to every kind.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct DosingDict {
    #[pyo3(default, from_py_with = named_or_default)]
    kind: ScheduleKind,
    treating: Vec<bool>,
}

/// `FixedScheduleSpec` of `_core.pyi` (also the dict of `exposure_at`).
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct FixedDict {
    segment_start: Vec<f64>,
    segment_exposure: Vec<usize>,
    cycle_start: Option<usize>,
    /// Read only when `cycle_start` is not None.
    #[pyo3(default)]
    period: Option<f64>,
}

/// `AdaptiveScheduleSpec` of `_core.pyi`.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct AdaptiveDict {
    initial_exposure: usize,
    monitor_weights: Vec<f64>,
    #[pyo3(default)]
    monitor_biomarker: Option<bool>,
    #[pyo3(from_py_with = named)]
    reference: Reference,
    check_every: f64,
    #[pyo3(from_py_with = each)]
    rules: Vec<RuleDict>,
}

/// `RuleSpec` of `_core.pyi`.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct RuleDict {
    r#from: usize,
    to: usize,
    below: Option<f64>,
    above: Option<f64>,
    #[pyo3(default)]
    absolute: Option<bool>,
    #[pyo3(default)]
    after: Option<f64>,
    #[pyo3(default)]
    min_time: Option<f64>,
    #[pyo3(default, from_py_with = named_or_default)]
    phase: Phase,
}

/// `PkScheduleSpec` of `_core.pyi`.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct PkDict {
    off_exposure: usize,
    on_exposure: usize,
    dose_times: Vec<f64>,
    dose: f64,
    half_life: f64,
    ec50: Vec<f64>,
    hill: Vec<f64>,
    missed_dose_probability: f64,
    response_ec50: f64,
    response_hill: f64,
    on_threshold: f64,
}

impl Spec for DosingDict {
    const PART: Part = Part::Schedule;
}
impl Spec for FixedDict {
    const PART: Part = Part::Schedule;
}
impl Spec for AdaptiveDict {
    const PART: Part = Part::Schedule;
}
impl Spec for RuleDict {
    const PART: Part = Part::Schedule;
}
impl Spec for PkDict {
    const PART: Part = Part::Schedule;
}

/// A fixed schedule (the `segment_*` keys).
pub fn schedule(d: &Bound<'_, PyDict>) -> PyResult<Schedule> {
    let f: FixedDict = read(d.as_any())?;
    let cycle = match (f.cycle_start, f.period) {
        (None, _) => None,
        (Some(first), Some(period)) => Some((first, period)),
        (Some(_), None) => {
            let msg = "engine schedule dict: required key \"period\" is missing".to_owned();
            return Err(Part::Schedule.error(msg));
        }
    };
    Ok(Schedule::new(f.segment_start, f.segment_exposure, cycle).map_err(PyEngineError)?)
}

/// Any kind of dosing (see `_core.pyi`).
pub fn dosing(d: &Bound<'_, PyDict>) -> PyResult<Dosing> {
    let common: DosingDict = read(d.as_any())?;
    let kind = match common.kind {
        ScheduleKind::Fixed => DosingKind::Fixed(schedule(d)?),
        ScheduleKind::Adaptive => {
            let a: AdaptiveDict = read(d.as_any())?;
            let rules = a
                .rules
                .into_iter()
                .map(|r| Rule {
                    from: r.r#from,
                    to: r.to,
                    below: r.below,
                    above: r.above,
                    absolute: r.absolute.unwrap_or(false),
                    after: r.after,
                    min_time: r.min_time.unwrap_or(0.0),
                    phase: r.phase,
                })
                .collect();
            DosingKind::Adaptive(AdaptiveSpec {
                initial_exposure: a.initial_exposure,
                monitor_weights: a.monitor_weights,
                monitor_biomarker: a.monitor_biomarker.unwrap_or(false),
                reference: a.reference,
                check_every: a.check_every,
                rules,
            })
        }
        ScheduleKind::Pk => {
            let p: PkDict = read(d.as_any())?;
            DosingKind::Pk(PkSpec {
                off_exposure: p.off_exposure,
                on_exposure: p.on_exposure,
                dose_times: p.dose_times,
                dose: p.dose,
                half_life: p.half_life,
                ec50: p.ec50,
                hill: p.hill,
                missed_dose_probability: p.missed_dose_probability,
                response: PkResponse {
                    ec50: p.response_ec50,
                    hill: p.response_hill,
                    on_threshold: p.on_threshold,
                },
            })
        }
    };
    Ok(Dosing {
        kind,
        treating: common.treating,
    })
}

// -------------------------------------------------------------------------------------- run

/// `RunSpec` of `_core.pyi`.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct RunDict {
    initial: Vec<u64>,
    record_times: Vec<f64>,
    t_end: f64,
    max_events: Option<u64>,
    max_population: Option<u64>,
    seed_key: Vec<u8>,
    #[pyo3(default)]
    replicate_offset: Option<u64>,
    #[pyo3(default)]
    n_replicates: Option<usize>,
    #[pyo3(default)]
    n_threads: Option<usize>,
    #[pyo3(default)]
    progression_weights: Option<Vec<f64>>,
    #[pyo3(default)]
    progression_biomarker: Option<bool>,
    #[pyo3(default)]
    progression_factor: Option<f64>,
    #[pyo3(default)]
    progression_size: Option<f64>,
    #[pyo3(default)]
    progression_min_size: Option<f64>,
    #[pyo3(default, from_py_with = optional)]
    lineages: Option<LineagesDict>,
}

/// The `start` key of the lineages dict.
#[derive(Clone, Copy)]
enum StartKind {
    Founders,
    Library,
    Table,
}

impl Named for StartKind {
    const UNKNOWN: &'static str = "unknown lineages.start";
    const NAMES: &'static [(&'static str, Self)] = &[
        ("founders", Self::Founders),
        ("library", Self::Library),
        ("table", Self::Table),
    ];
}

/// `LineageSpec` of `_core.pyi`.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct LineagesDict {
    #[pyo3(from_py_with = named)]
    start: StartKind,
    times: Vec<f64>,
    clones: bool,
    #[pyo3(default)]
    n_barcodes: Option<i64>,
    #[pyo3(default, from_py_with = int_array)]
    table_offsets: Option<IntArray>,
    #[pyo3(default, from_py_with = int_array)]
    table_barcode: Option<IntArray>,
    #[pyo3(default, from_py_with = int_array)]
    table_clone: Option<IntArray>,
    #[pyo3(default, from_py_with = int_array)]
    table_count: Option<IntArray>,
    #[pyo3(default)]
    next_clone: Option<i64>,
}

impl Spec for LineagesDict {
    const PART: Part = Part::Lineages;
}

/// An integer array read from an int64 numpy array (any shape) or from nested lists.
struct IntArray {
    values: Vec<i64>,
    shape: Vec<usize>,
}

/// An integer array, or None (a field's `from_py_with`).
fn int_array(obj: &Bound<'_, PyAny>) -> PyResult<Option<IntArray>> {
    if obj.is_none() {
        return Ok(None);
    }
    if let Ok(array) = obj.cast::<PyArrayDyn<i64>>() {
        let array = array.readonly();
        let shape = array.shape().to_vec();
        let values = array.as_array().iter().copied().collect();
        return Ok(Some(IntArray { values, shape }));
    }
    if let Ok(values) = obj.extract::<Vec<i64>>() {
        let shape = vec![values.len()];
        return Ok(Some(IntArray { values, shape }));
    }
    let rows = obj.extract::<Vec<Vec<i64>>>().map_err(|_| {
        PyTypeError::new_err("expected an int64 array (or a list of integers, or of rows)")
    })?;
    let n_columns = rows.first().map_or(0, Vec::len);
    if rows.iter().any(|r| r.len() != n_columns) {
        return Err(PyValueError::new_err("its rows have different lengths"));
    }
    let shape = vec![rows.len(), n_columns];
    Ok(Some(IntArray {
        values: rows.concat(),
        shape,
    }))
}

impl LineagesDict {
    /// The engine's lineage setup; the table arrays must be given for a "table" start.
    fn into_spec(self) -> PyResult<LineageSpec> {
        let refuse = |msg: String| Part::Lineages.error(msg);
        let start = match self.start {
            StartKind::Founders => LineageStart::Founders,
            StartKind::Library => LineageStart::Library {
                n_barcodes: self.n_barcodes.ok_or_else(|| {
                    refuse("lineages.n_barcodes is required for a \"library\" start".into())
                })?,
            },
            StartKind::Table => {
                let array = |a: Option<IntArray>, name: &str, dims: usize| {
                    let a = a.ok_or_else(|| {
                        refuse(format!("lineages.{name} is required for a \"table\" start"))
                    })?;
                    if a.shape.len() == dims {
                        Ok(a)
                    } else {
                        Err(refuse(format!(
                            "lineages.{name} has shape {:?}; it must have {dims} dimension(s)",
                            a.shape
                        )))
                    }
                };
                let count = array(self.table_count, "table_count", 2)?;
                LineageStart::Table(LineageTable {
                    offsets: array(self.table_offsets, "table_offsets", 1)?.values,
                    barcode: array(self.table_barcode, "table_barcode", 1)?.values,
                    clone: array(self.table_clone, "table_clone", 1)?.values,
                    n_columns: count.shape[1],
                    count: count.values,
                })
            }
        };
        Ok(LineageSpec {
            start,
            times: self.times,
            clones: self.clones,
            next_clone: self.next_clone.unwrap_or(1),
        })
    }
}

impl Spec for RunDict {
    const PART: Part = Part::Run;
}

/// The run dict: the run's options and which replicates to run (`trace` uses the seed key).
pub fn run(d: &Bound<'_, PyDict>) -> PyResult<(RunConfig, EnsembleSpec)> {
    let r: RunDict = read(d.as_any())?;
    let seed_key: [u8; 32] = r.seed_key.try_into().map_err(|k: Vec<u8>| {
        Part::Run.error(format!("seed_key has {} bytes; expected 32", k.len()))
    })?;
    let progression = r.progression_weights.map(|weights| Progression {
        weights,
        factor: r.progression_factor,
        size: r.progression_size,
        min_size: r.progression_min_size.unwrap_or(0.0),
        biomarker: r.progression_biomarker.unwrap_or(false),
    });
    let config = RunConfig {
        initial: r.initial,
        record_times: r.record_times,
        t_end: r.t_end,
        max_events: r.max_events.unwrap_or(u64::MAX),
        max_population: r.max_population.unwrap_or(u64::MAX),
        progression,
        force_general_loop: false,
        lineages: r.lineages.map(LineagesDict::into_spec).transpose()?,
    };
    let spec = EnsembleSpec {
        seed_key,
        replicate_offset: r.replicate_offset.unwrap_or(0),
        n_replicates: r.n_replicates.unwrap_or(1),
        n_threads: r.n_threads,
    };
    Ok((config, spec))
}

/// The run dict's `jump_density_rates` (`"midpoint"`, the default, or `"frozen"`).
fn density_predictor(d: &Bound<'_, PyDict>) -> PyResult<jump::Predictor> {
    let Some(v) = d.get_item("jump_density_rates")?.filter(|v| !v.is_none()) else {
        return Ok(jump::Predictor::Midpoint);
    };
    match v.extract::<String>().as_deref() {
        Ok("midpoint") => Ok(jump::Predictor::Midpoint),
        Ok("frozen") => Ok(jump::Predictor::Frozen),
        _ => Err(Part::Run.error(format!(
            "jump_density_rates is {v}; expected \"midpoint\" or \"frozen\""
        ))),
    }
}

/// The run dict's jump options: `None` for `method` `"ssa"` (or absent); the engine checks the
/// values (`JumpConfig::validate`).
pub fn jump(d: &Bound<'_, PyDict>) -> PyResult<Option<JumpConfig>> {
    let number = |key: &str, default: f64| -> PyResult<f64> {
        match d.get_item(key)? {
            Some(v) if !v.is_none() => v
                .extract::<f64>()
                .map_err(|_| Part::Run.error(format!("{key} is {v}; expected a number"))),
            _ => Ok(default),
        }
    };
    let method = match d.get_item("method")? {
        Some(v) if !v.is_none() => v
            .extract::<String>()
            .map_err(|_| Part::Run.error(format!("method is {v}; expected a string")))?,
        _ => return Ok(None),
    };
    match method.as_str() {
        "ssa" => Ok(None),
        "jump" => Ok(Some(JumpConfig {
            step: number("jump_step", jump_run::DEFAULT_STEP)?,
            tolerance: number("jump_tolerance", jump_run::DEFAULT_TOLERANCE)?,
            threshold: number("jump_threshold", jump_run::DEFAULT_THRESHOLD)?,
            density_quantum: number("jump_density_quantum", jump::density::DEFAULT_QUANTUM)?,
            density_predictor: density_predictor(d)?,
        })),
        other => Err(Part::Run.error(format!(
            "method is {other:?}; expected one of \"ssa\", \"jump\""
        ))),
    }
}
