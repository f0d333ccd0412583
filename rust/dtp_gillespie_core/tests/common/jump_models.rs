//! Models shared by the statistical tests of the exact jumps (`jump_tables.rs`, `jump_runs.rs`).
#![allow(dead_code)]

use dtp_gillespie_core::{Channel, ChannelKind, Model};

use super::common::{death, division, switch};

/// S (0) ⇄ P (1) with mutant divisions and conversion into R (2), one exposure. `s_birth` is the
/// S division rate (a share `mu` of divisions mutant, and S → R conversion at rate `mu / 4`),
/// `p_switch` the P → S rate.
#[must_use]
pub fn sp_model(s_birth: f64, mu: f64, p_switch: f64) -> Model {
    let conversion = Channel {
        source: 0,
        dec: Some(0),
        inc: Some(2),
        kind: ChannelKind::Switch,
        is_mutation: true,
    };
    let channels = vec![
        division(0, 0, false),
        division(0, 2, true),
        death(0),
        switch(0, 1),
        conversion,
        division(1, 1, false),
        division(1, 2, true),
        death(1),
        switch(1, 0),
        division(2, 2, false),
        death(2),
    ];
    let rates = vec![
        s_birth * (1.0 - mu),
        s_birth * mu,
        0.3,
        0.2,
        0.25 * mu,
        0.2 * (1.0 - mu),
        0.2 * mu,
        0.05,
        p_switch,
        0.6,
        0.1,
    ];
    Model::new(3, 1, channels, rates, None).unwrap()
}
