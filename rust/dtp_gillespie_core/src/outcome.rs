//! What one replicate ends with: why it stopped ([`Status`]), its per-replicate results
//! ([`Outcome`]), and the table of those results that become output variables
//! ([`PER_REPLICATE`]).
//!
//! Adding a per-replicate output variable: a field of [`Outcome`] (with its default), a row of
//! [`PER_REPLICATE`], and the line of the event loop that fills it; the Python side lists it in
//! its table of output variables (`dtp_gillespie.conventions.OUTPUTS`).

/// Why a replicate stopped. The discriminants are the `status` codes of the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i8)]
pub enum Status {
    /// Reached `t_end`.
    Completed = 0,
    /// Every state reached 0 (absorbing: no immigration).
    Extinct = 1,
    /// Stopped after `max_events` events.
    MaxEvents = 2,
    /// Stopped when the total population reached `max_population`.
    MaxPopulation = 3,
    /// Stopped when the total event rate (or, under pharmacokinetic dosing, its bound) was no
    /// longer a finite number: the cells' rates overflowed the largest float, and the next event
    /// could not be drawn.
    RateOverflow = 4,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Self::Completed,
        Self::Extinct,
        Self::MaxEvents,
        Self::MaxPopulation,
        Self::RateOverflow,
    ];

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Extinct => "extinct",
            Self::MaxEvents => "max_events",
            Self::MaxPopulation => "max_population",
            Self::RateOverflow => "rate_overflow",
        }
    }
}

/// Per-replicate summary of a run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Outcome {
    pub status: Status,
    /// `t_end`, the extinction time, or the time of the event that hit a cap.
    pub stop_time: f64,
    /// NaN unless the population went extinct.
    pub extinction_time: f64,
    /// Time of the first mutation event, NaN if none happened.
    pub first_mutant_time: f64,
    pub n_events: u64,
    /// First time a treating exposure was in force, NaN if never.
    pub treatment_start_time: f64,
    /// First time the burden progressed (see [`crate::Progression`]), NaN if never or not asked
    /// for.
    pub progression_time: f64,
    /// Time spent under treating exposures up to `stop_time`.
    pub time_on_drug: f64,
    /// Changes of exposure up to `stop_time`.
    pub n_switches: u64,
    /// Events (of `n_events`) fired in the hot loop (module `burst`); the others went through
    /// the general loop. A diagnostic, not an output variable.
    pub hot_loop_events: u64,
    /// Pharmacokinetic runs: area under the concentration up to `stop_time` (NaN otherwise).
    pub auc_concentration: f64,
    /// Pharmacokinetic runs: area under the drug's response up to `stop_time` (NaN otherwise).
    pub auc_response: f64,
}

impl Default for Outcome {
    fn default() -> Self {
        Self {
            status: Status::Completed,
            stop_time: f64::NAN,
            extinction_time: f64::NAN,
            first_mutant_time: f64::NAN,
            n_events: 0,
            treatment_start_time: f64::NAN,
            progression_time: f64::NAN,
            time_on_drug: 0.0,
            n_switches: 0,
            hot_loop_events: 0,
            auc_concentration: f64::NAN,
            auc_response: f64::NAN,
        }
    }
}

/// How to read one per-replicate output variable from an [`Outcome`], by the type of its array.
#[derive(Clone, Copy, Debug)]
pub enum Column {
    /// A float64 array (times, areas; NaN when not applicable).
    Float(fn(&Outcome) -> f64),
    /// An int64 array (tallies).
    Int(fn(&Outcome) -> i64),
    /// An int8 array (codes: [`Status`]).
    Code(fn(&Outcome) -> i8),
}

/// The per-replicate output variables: name (as in the output Dataset) and accessor. Adapters
/// iterate this table instead of naming each variable.
pub const PER_REPLICATE: [(&str, Column); 11] = [
    ("extinction_time", Column::Float(|o| o.extinction_time)),
    ("first_mutant_time", Column::Float(|o| o.first_mutant_time)),
    ("stop_time", Column::Float(|o| o.stop_time)),
    ("n_events", Column::Int(|o| o.n_events as i64)),
    ("status", Column::Code(|o| o.status as i8)),
    (
        "treatment_start_time",
        Column::Float(|o| o.treatment_start_time),
    ),
    ("time_on_drug", Column::Float(|o| o.time_on_drug)),
    ("n_switches", Column::Int(|o| o.n_switches as i64)),
    ("progression_time", Column::Float(|o| o.progression_time)),
    ("auc_concentration", Column::Float(|o| o.auc_concentration)),
    ("auc_response", Column::Float(|o| o.auc_response)),
];

#[cfg(test)]
mod tests {
    use super::{Column, Outcome, PER_REPLICATE, Status};

    #[test]
    fn every_per_replicate_column_has_its_own_name_and_reads_its_field() {
        let mut names: Vec<&str> = PER_REPLICATE.iter().map(|(name, _)| *name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), PER_REPLICATE.len());
        let outcome = Outcome {
            status: Status::MaxEvents,
            n_events: 7,
            n_switches: 3,
            stop_time: 2.5,
            ..Outcome::default()
        };
        for (name, column) in PER_REPLICATE {
            match (name, column) {
                ("status", Column::Code(read)) => assert_eq!(read(&outcome), 2),
                ("n_events", Column::Int(read)) => assert_eq!(read(&outcome), 7),
                ("n_switches", Column::Int(read)) => assert_eq!(read(&outcome), 3),
                ("stop_time", Column::Float(read)) => assert_eq!(read(&outcome), 2.5),
                ("time_on_drug", Column::Float(read)) => assert_eq!(read(&outcome), 0.0),
                (_, Column::Float(read)) => assert!(read(&outcome).is_nan(), "{name}"),
                _ => panic!("unexpected column type for {name}"),
            }
        }
    }
}
