//! The branching structure of a linear model under one exposure: per channel, the cells that
//! replace the firing cell and whether the firing is an *emission* (a mutation event, whose time
//! the jump keeps exact; design note scale.md §2.1).
//!
//! A linear model is a multi-type branching process: every cell acts independently, so the
//! descendants of `n` ancestors are the sum of `n` independent one-ancestor draws. That is what
//! the tables ([`super::offspring`]), the no-emission probabilities ([`super::riccati`]) and the
//! lineage simulations ([`super::lineage`]) rely on.

use crate::model::Model;

use super::JumpError;

/// One channel of one type: it fires at `rate` per cell and replaces the cell by `after`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinearChannel {
    /// Per-cell rate (finite, > 0; channels of rate 0 are left out).
    pub rate: f64,
    /// The cells that replace the firing cell: none (death), one (switch) or two (division).
    after: [usize; 2],
    n_after: u8,
    /// A mutation event: its time is an emission time (`first_mutant_time`).
    pub emits: bool,
}

impl LinearChannel {
    /// A channel replacing the cell by `after` (at most two cells).
    pub fn new(rate: f64, after: &[usize], emits: bool) -> Result<Self, JumpError> {
        if !(rate.is_finite() && rate >= 0.0) {
            return Err(JumpError::InvalidParameter {
                name: "rate",
                value: rate,
                expected: "finite and non-negative",
            });
        }
        if after.len() > 2 {
            return Err(JumpError::InvalidParameter {
                name: "cells after an event",
                value: after.len() as f64,
                expected: "at most 2",
            });
        }
        let mut cells = [0; 2];
        cells[..after.len()].copy_from_slice(after);
        Ok(Self {
            rate,
            after: cells,
            n_after: after.len() as u8,
            emits,
        })
    }

    /// The cells that replace the firing cell.
    #[must_use]
    pub fn after(&self) -> &[usize] {
        &self.after[..usize::from(self.n_after)]
    }
}

/// The channels of every type under one exposure.
#[derive(Clone, Debug, PartialEq)]
pub struct LinearRates {
    /// Channels of type `x`: `channels[x]`.
    channels: Vec<Vec<LinearChannel>>,
    /// Total per-cell rate of each type.
    total: Vec<f64>,
}

impl LinearRates {
    /// Rates from per-type channel lists; every type named in an `after` must exist.
    pub fn new(channels: Vec<Vec<LinearChannel>>) -> Result<Self, JumpError> {
        let n = channels.len();
        for ch in channels.iter().flatten() {
            if let Some(&bad) = ch.after().iter().find(|&&y| y >= n) {
                return Err(JumpError::InvalidParameter {
                    name: "type after an event",
                    value: bad as f64,
                    expected: "a type of the model",
                });
            }
        }
        let channels: Vec<Vec<LinearChannel>> = channels
            .into_iter()
            .map(|list| list.into_iter().filter(|c| c.rate > 0.0).collect())
            .collect();
        let total = channels
            .iter()
            .map(|list| list.iter().map(|c| c.rate).sum())
            .collect();
        Ok(Self { channels, total })
    }

    /// The rates of `model` under exposure `exposure`, before any density dependence (a
    /// density-dependent run freezes its rates per step with [`LinearRates::from_channel_rates`]).
    pub fn from_model(model: &Model, exposure: usize) -> Result<Self, JumpError> {
        Self::from_channel_rates(model, model.rates_of(exposure))
    }

    /// The channels of `model` with per-cell rates `rates` (one per channel, in the model's
    /// order). A division leaves the mother and its daughter (`inc`); a death nothing; a switch
    /// its target.
    pub fn from_channel_rates(model: &Model, rates: &[f64]) -> Result<Self, JumpError> {
        let mut channels = vec![Vec::new(); model.n_states()];
        for (ch, &rate) in model.channels().iter().zip(rates) {
            let mut after = Vec::with_capacity(2);
            if ch.dec.is_none() {
                after.push(ch.source);
            }
            after.extend(ch.inc);
            channels[ch.source].push(LinearChannel::new(rate, &after, ch.is_mutation)?);
        }
        Self::new(channels)
    }

    /// Number of types.
    #[must_use]
    pub fn n_types(&self) -> usize {
        self.channels.len()
    }

    /// The channels of type `x` (rates > 0 only).
    #[must_use]
    pub fn channels(&self, x: usize) -> &[LinearChannel] {
        &self.channels[x]
    }

    /// Total per-cell event rate of type `x`.
    #[must_use]
    pub fn total(&self, x: usize) -> f64 {
        self.total[x]
    }

    /// The largest per-cell division rate (events that add a cell), over all types.
    #[must_use]
    pub fn max_growth_rate(&self) -> f64 {
        self.channels
            .iter()
            .map(|list| {
                list.iter()
                    .filter(|c| c.after().len() == 2)
                    .map(|c| c.rate)
                    .sum::<f64>()
            })
            .fold(0.0, f64::max)
    }

    /// The types reachable from `x` through channels that do not emit, `x` first.
    #[must_use]
    pub fn reachable_without_emission(&self, x: usize) -> Vec<usize> {
        let mut seen = vec![false; self.n_types()];
        let mut order = vec![x];
        seen[x] = true;
        let mut next = 0;
        while next < order.len() {
            let y = order[next];
            next += 1;
            for ch in self.channels[y].iter().filter(|c| !c.emits) {
                for &z in ch.after() {
                    if !std::mem::replace(&mut seen[z], true) {
                        order.push(z);
                    }
                }
            }
        }
        order
    }
}
