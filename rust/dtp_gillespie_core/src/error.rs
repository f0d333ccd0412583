//! Errors of the engine. The Python layer validates the user-facing spec first and words its own
//! messages; these errors guard the compiled tables so that no bad input can make the engine panic,
//! hang, or return a silently wrong result.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum EngineError {
    /// The compiled reaction table or capacity is invalid.
    #[error("{0}")]
    InvalidModel(String),
    /// The compiled schedule is invalid.
    #[error("{0}")]
    InvalidSchedule(String),
    /// Run options (initial state, times, caps, replicate range) are invalid.
    #[error("{0}")]
    InvalidRun(String),
    /// The run was cancelled (Ctrl-C) before it finished.
    #[error("simulation cancelled")]
    Cancelled,
}

pub type Result<T> = std::result::Result<T, EngineError>;
