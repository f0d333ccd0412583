//! The drug pressure of a run: a fixed schedule, an adaptive rule, or pharmacokinetic dosing, and
//! which exposures count as treatment.

use crate::adaptive::AdaptiveSpec;
use crate::error::{EngineError, Result};
use crate::model::Model;
use crate::pk::PkSpec;
use crate::schedule::Schedule;

#[derive(Clone, Debug, PartialEq)]
pub enum DosingKind {
    Fixed(Schedule),
    Adaptive(AdaptiveSpec),
    Pk(PkSpec),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Dosing {
    pub kind: DosingKind,
    /// Per exposure: is it "on drug" (time on drug, treatment start).
    pub treating: Vec<bool>,
}

impl Dosing {
    /// A fixed schedule in which every exposure but `off` (if given) is treatment.
    #[must_use]
    pub fn fixed(schedule: Schedule, n_exposures: usize, off: Option<usize>) -> Self {
        let treating = (0..n_exposures).map(|e| Some(e) != off).collect();
        Self {
            kind: DosingKind::Fixed(schedule),
            treating,
        }
    }

    pub fn validate(&self, model: &Model) -> Result<()> {
        let n_exposures = model.n_exposures();
        if self.treating.len() != n_exposures {
            return Err(EngineError::InvalidSchedule(format!(
                "treating has {} flags; the model has {n_exposures} exposures",
                self.treating.len()
            )));
        }
        match &self.kind {
            DosingKind::Fixed(schedule) if schedule.max_exposure() >= n_exposures => {
                Err(EngineError::InvalidSchedule(format!(
                    "the schedule uses exposure {}; the model has {n_exposures} exposures",
                    schedule.max_exposure()
                )))
            }
            DosingKind::Fixed(_) => Ok(()),
            // Which features combine (a biomarker monitor needs a biomarker; pk dosing takes no
            // biomarker and no exposure-dependent competition) is a semantic rule of the Python
            // layer (`Schedule.validate`): the engine only needs sizes and indices it can trust.
            DosingKind::Adaptive(spec) => spec.validate(model.n_states(), n_exposures),
            DosingKind::Pk(spec) => spec.validate(n_exposures, model.channels().len()),
        }
    }
}
