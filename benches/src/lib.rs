//! The canonical S/P/R benchmark model (benches/bench-model.toml) as an engine reaction table, shared
//! by the criterion benches.

use dtp_gillespie_core::{
    AdaptiveSpec, Channel, ChannelKind, Dosing, DosingKind, Model, PkResponse, PkSpec, Reference,
    Rule, RunConfig, Schedule,
};

/// Exposure indices of the canonical model.
pub const OFF: usize = 0;
pub const ON: usize = 1;

fn channel(
    source: usize,
    dec: Option<usize>,
    inc: Option<usize>,
    kind: ChannelKind,
    is_mutation: bool,
) -> Channel {
    Channel {
        source,
        dec,
        inc,
        kind,
        is_mutation,
    }
}

/// S (0), P (1), R (2) with mutation at division; rates per day, `[off, on]`.
#[must_use]
pub fn canonical_model() -> Model {
    use ChannelKind::{Death, Division, Switch};
    let (s, p, r) = (0, 1, 2);
    let b_s = [0.040_000_1, 0.040_000_01];
    let mu_s = [2.499_993_8e-6, 2.499_999_4e-7];
    let b_p = [0.005_01, 0.005_1];
    let mu_p = [1.996_008_0e-3, 1.960_784_3e-2];
    let table: Vec<(Channel, [f64; 2])> = vec![
        (
            channel(s, None, Some(s), Division, false),
            [b_s[0] * (1.0 - mu_s[0]), b_s[1] * (1.0 - mu_s[1])],
        ),
        (
            channel(s, None, Some(r), Division, true),
            [b_s[0] * mu_s[0], b_s[1] * mu_s[1]],
        ),
        (channel(s, Some(s), None, Death, false), [0.01, 0.30]),
        (channel(s, Some(s), Some(p), Switch, false), [0.001, 0.01]),
        (
            channel(p, None, Some(p), Division, false),
            [b_p[0] * (1.0 - mu_p[0]), b_p[1] * (1.0 - mu_p[1])],
        ),
        (
            channel(p, None, Some(r), Division, true),
            [b_p[0] * mu_p[0], b_p[1] * mu_p[1]],
        ),
        (channel(p, Some(p), None, Death, false), [0.005, 0.005]),
        (channel(p, Some(p), Some(s), Switch, false), [0.05, 0.001]),
        (channel(r, None, Some(r), Division, false), [0.035, 0.035]),
        (channel(r, Some(r), None, Death, false), [0.01, 0.01]),
    ];
    let rates = [OFF, ON]
        .iter()
        .flat_map(|&e| table.iter().map(move |(_, r)| r[e]))
        .collect();
    let channels = table.into_iter().map(|(c, _)| c).collect();
    Model::new(3, 2, channels, rates, None).expect("the canonical model is valid")
}

/// 14 days on, 14 days off, starting on.
#[must_use]
pub fn intermittent_14_14() -> Dosing {
    let schedule =
        Schedule::new(vec![0.0, 14.0], vec![ON, OFF], Some((0, 28.0))).expect("valid schedule");
    Dosing::fixed(schedule, 2, Some(OFF))
}

/// Continuous exposure to the drug.
#[must_use]
pub fn continuous_on() -> Dosing {
    Dosing::fixed(Schedule::constant(ON), 2, Some(OFF))
}

/// A run from `s0` sensitive cells to `t_end`, recorded daily.
#[must_use]
pub fn daily_run(s0: u64, t_end: f64) -> RunConfig {
    RunConfig {
        initial: vec![s0, 0, 0],
        record_times: (0..=t_end as usize).map(|d| d as f64).collect(),
        t_end,
        max_events: u64::MAX,
        max_population: u64::MAX,
        progression: None,
        force_general_loop: false,
        lineages: None,
    }
}

/// Zhang-style adaptive therapy on the canonical model: treat until the total burden halves, hold
/// until it is back to its value at treatment start; monitored after every event.
#[must_use]
pub fn adaptive_zhang() -> Dosing {
    let rule = |from, to, below, above| Rule {
        from,
        to,
        below,
        above,
        absolute: false,
        after: None,
        min_time: 0.0,
        phase: dtp_gillespie_core::Phase::Any,
    };
    let spec = AdaptiveSpec {
        initial_exposure: ON,
        monitor_weights: vec![1.0; 3],
        monitor_biomarker: false,
        reference: Reference::TreatmentStart,
        check_every: 0.0,
        rules: vec![
            rule(ON, OFF, Some(0.5), None),
            rule(OFF, ON, None, Some(1.0)),
        ],
    };
    Dosing {
        kind: DosingKind::Adaptive(spec),
        treating: vec![false, true],
    }
}

/// Daily boluses of one EC50 (half-life 1.5 days, Hill coefficient 2) up to `t_end`.
#[must_use]
pub fn daily_pk(t_end: f64) -> Dosing {
    let n_channels = canonical_model().channels().len();
    let spec = PkSpec {
        off_exposure: OFF,
        on_exposure: ON,
        dose_times: (0..t_end as usize).map(|d| d as f64).collect(),
        dose: 1.0,
        half_life: 1.5,
        ec50: vec![1.0; n_channels],
        hill: vec![2.0; n_channels],
        missed_dose_probability: 0.0,
        response: PkResponse {
            hill: 2.0,
            ..PkResponse::default()
        },
    };
    Dosing {
        kind: DosingKind::Pk(spec),
        treating: vec![false, true],
    }
}
