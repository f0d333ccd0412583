//! The compiled model: a flat table of first-order reaction channels, each fired by one cell of its
//! source state, with one per-cell rate per exposure, and optional density dependence.

use crate::error::{EngineError, Result};

/// What a channel does to its source cell; density dependence acts on divisions or on deaths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelKind {
    /// `i -> 2i`, or `i -> i + j` when one daughter mutates.
    Division,
    /// `i -> 0`.
    Death,
    /// `i -> j`, a phenotype switch (or a mutation per unit time into a genetic state).
    Switch,
}

/// One reaction channel. Its propensity is `rate(exposure) * count[source]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channel {
    pub source: usize,
    /// State that loses a cell (always `source` when present).
    pub dec: Option<usize>,
    /// State that gains a cell.
    pub inc: Option<usize>,
    pub kind: ChannelKind,
    /// A firing counts as a mutation event (`first_mutant_time`).
    pub is_mutation: bool,
}

/// Which process the carrying capacity acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapacityTarget {
    /// Division rate `b * max(0, 1 - N/K)`.
    Division,
    /// Death rate `max(0, d + (b - d) * N/K)`, with `b` the state's total division rate.
    Death,
}

/// Density dependence through a carrying capacity `K`, with `N = sum_i weights[i] * count[i]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Capacity {
    pub k: f64,
    pub target: CapacityTarget,
    pub weights: Vec<f64>,
}

/// A validated model, ready for the engine.
#[derive(Clone, Debug)]
pub struct Model {
    n_states: usize,
    n_exposures: usize,
    channels: Vec<Channel>,
    /// Per-cell rates, exposure-major: `rates[e * n_channels + c]`.
    rates: Vec<f64>,
    capacity: Option<Capacity>,
    /// Channels of each state, as a half-open range (channels are sorted by source).
    state_channels: Vec<(usize, usize)>,
    /// Index of each state's death channel, if it has one.
    death_channel: Vec<Option<usize>>,
}

/// Exposure codes are stored as int8 in the output.
pub const MAX_EXPOSURES: usize = 127;

impl Model {
    pub fn new(
        n_states: usize,
        n_exposures: usize,
        channels: Vec<Channel>,
        rates: Vec<f64>,
        capacity: Option<Capacity>,
    ) -> Result<Self> {
        let bad = |msg: String| Err(EngineError::InvalidModel(msg));
        if n_states == 0 {
            return bad("a model needs at least one state".into());
        }
        if n_exposures == 0 || n_exposures > MAX_EXPOSURES {
            return bad(format!(
                "number of exposures is {n_exposures}; it must be between 1 and {MAX_EXPOSURES}"
            ));
        }
        if rates.len() != n_exposures * channels.len() {
            return bad(format!(
                "channel_rate has {} values; expected n_exposures * n_channels = {}",
                rates.len(),
                n_exposures * channels.len()
            ));
        }
        let mut death_channel = vec![None; n_states];
        for (c, ch) in channels.iter().enumerate() {
            let in_range = |s: Option<usize>| s.is_none_or(|s| s < n_states);
            if ch.source >= n_states || !in_range(ch.dec) || !in_range(ch.inc) {
                return bad(format!("channel {c} names a state outside 0..{n_states}"));
            }
            if ch.dec.is_some_and(|d| d != ch.source) {
                return bad(format!(
                    "channel {c} removes a cell from a state other than its source"
                ));
            }
            if c > 0 && channels[c - 1].source > ch.source {
                return bad("channels must be sorted by source state".into());
            }
            if ch.kind == ChannelKind::Death {
                if death_channel[ch.source].is_some() {
                    return bad(format!("state {} has two death channels", ch.source));
                }
                death_channel[ch.source] = Some(c);
            }
        }
        if let Some(i) = rates.iter().position(|r| !r.is_finite() || *r < 0.0) {
            let (e, c) = (i / channels.len(), i % channels.len());
            return bad(format!(
                "rate of channel {c} under exposure {e} is {}; rates must be finite and >= 0",
                rates[i]
            ));
        }
        if let Some(cap) = &capacity {
            if !cap.k.is_finite() || cap.k <= 0.0 {
                return bad(format!(
                    "carrying capacity K is {}; it must be finite and > 0",
                    cap.k
                ));
            }
            if cap.weights.len() != n_states
                || cap.weights.iter().any(|w| !w.is_finite() || *w < 0.0)
            {
                return bad(format!(
                    "capacity weights must be {n_states} finite values >= 0, got {:?}",
                    cap.weights
                ));
            }
        }
        let state_channels = (0..n_states)
            .map(|s| {
                let start = channels.partition_point(|ch| ch.source < s);
                let end = channels.partition_point(|ch| ch.source <= s);
                (start, end)
            })
            .collect();
        let model = Self {
            n_states,
            n_exposures,
            channels,
            rates,
            capacity,
            state_channels,
            death_channel,
        };
        if model
            .capacity
            .as_ref()
            .is_some_and(|c| c.target == CapacityTarget::Death)
        {
            for s in 0..n_states {
                let divides = (0..n_exposures).any(|e| model.division_rate(e, s) > 0.0);
                if divides && model.death_channel[s].is_none() {
                    return bad(format!(
                        "capacity acts on death but state {s} has no death channel"
                    ));
                }
            }
        }
        Ok(model)
    }

    #[must_use]
    pub fn n_states(&self) -> usize {
        self.n_states
    }

    #[must_use]
    pub fn n_exposures(&self) -> usize {
        self.n_exposures
    }

    #[must_use]
    pub fn channels(&self) -> &[Channel] {
        &self.channels
    }

    #[must_use]
    pub fn capacity(&self) -> Option<&Capacity> {
        self.capacity.as_ref()
    }

    /// Per-cell rates of every channel under exposure `e`, before density dependence.
    #[must_use]
    pub fn rates_of(&self, e: usize) -> &[f64] {
        &self.rates[e * self.channels.len()..(e + 1) * self.channels.len()]
    }

    /// Per-cell rate of channel `c` under exposure `e`, before density dependence.
    #[must_use]
    pub fn rate(&self, e: usize, c: usize) -> f64 {
        self.rates[e * self.channels.len() + c]
    }

    /// Half-open range of the channels whose source is `state`.
    #[must_use]
    pub fn channels_of(&self, state: usize) -> (usize, usize) {
        self.state_channels[state]
    }

    /// Total per-cell division rate (with and without mutation) of `state` under exposure `e`.
    #[must_use]
    pub fn division_rate(&self, e: usize, state: usize) -> f64 {
        let (a, b) = self.state_channels[state];
        (a..b)
            .filter(|&c| self.channels[c].kind == ChannelKind::Division)
            .map(|c| self.rate(e, c))
            .sum()
    }

    #[must_use]
    pub fn death_channel(&self, state: usize) -> Option<usize> {
        self.death_channel[state]
    }
}

/// A channel ready to fire: its effective per-cell rate and its effect on the counts. A missing
/// `dec` or `inc` points at [`Pick::SINK`] slot `n_states`, a scratch count that is never read, so
/// that firing needs no branches.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Pick {
    pub rate: f64,
    pub channel: usize,
    pub dec: usize,
    pub inc: usize,
    /// Change of the total population: -1, 0 or +1.
    pub delta_total: i64,
    pub is_mutation: bool,
}

impl Pick {
    pub(crate) fn new(model: &Model, rate: f64, channel: usize) -> Self {
        let ch = &model.channels[channel];
        let sink = model.n_states;
        Self {
            rate,
            channel,
            dec: ch.dec.unwrap_or(sink),
            inc: ch.inc.unwrap_or(sink),
            delta_total: i64::from(ch.inc.is_some()) - i64::from(ch.dec.is_some()),
            is_mutation: ch.is_mutation,
        }
    }
}

/// Effective per-cell rates in force: one exposure and, under density dependence, one `N`.
/// Refilled at every breakpoint, and after every event when the model has a capacity.
#[derive(Clone, Debug)]
pub(crate) struct PhaseRates {
    /// Per-cell total rate of each state (sum of its channels), then 0 for the sink slot.
    pub state_total: Vec<f64>,
    /// Effective per-cell rate of each channel.
    pub channel: Vec<f64>,
    /// For each state (see `pick_range`), its channels with a positive rate, highest rate first
    /// so that the selection scan usually stops at the first entry. The order of channels does not
    /// change the law of the direct method, only which uniform picks which channel.
    pub pick: Vec<Pick>,
    pub pick_range: Vec<(usize, usize)>,
}

impl PhaseRates {
    pub fn new(model: &Model) -> Self {
        Self {
            state_total: vec![0.0; model.n_states + 1],
            channel: vec![0.0; model.channels.len()],
            pick: Vec::with_capacity(model.channels.len()),
            pick_range: vec![(0, 0); model.n_states],
        }
    }

    /// Fill from base rates (before density dependence) of every channel. With time-varying
    /// rates, `upper` and `lower` bound each base rate over an interval and the result bounds the
    /// effective rates (used for thinning); otherwise pass the same slice twice. `weighted_n` is
    /// only read when the model has a capacity. With `sort`, each state's picks are ordered by
    /// rate (worth it when the rates are used for many events). Allocates nothing.
    pub fn fill(
        &mut self,
        model: &Model,
        upper: &[f64],
        lower: &[f64],
        weighted_n: f64,
        sort: bool,
    ) {
        self.channel.copy_from_slice(upper);
        if let Some(cap) = &model.capacity {
            let crowding = weighted_n / cap.k;
            match cap.target {
                CapacityTarget::Division => {
                    let factor = (1.0 - crowding).max(0.0);
                    for (rate, ch) in self.channel.iter_mut().zip(&model.channels) {
                        if ch.kind == ChannelKind::Division {
                            *rate *= factor;
                        }
                    }
                }
                CapacityTarget::Death => {
                    // d + (b - d) x = d (1 - x) + b x: bound each term by its own extreme.
                    for s in 0..model.n_states {
                        if let Some(c) = model.death_channel[s] {
                            let (a, z) = model.state_channels[s];
                            let b: f64 = (a..z)
                                .filter(|&k| model.channels[k].kind == ChannelKind::Division)
                                .map(|k| upper[k])
                                .sum();
                            let d = if crowding <= 1.0 { upper[c] } else { lower[c] };
                            self.channel[c] = (d * (1.0 - crowding) + b * crowding).max(0.0);
                        }
                    }
                }
            }
        }
        self.pick.clear();
        for s in 0..model.n_states {
            let (a, b) = model.state_channels[s];
            self.state_total[s] = self.channel[a..b].iter().sum();
            let first = self.pick.len();
            for c in a..b {
                if self.channel[c] > 0.0 {
                    self.pick.push(Pick::new(model, self.channel[c], c));
                }
            }
            if sort {
                self.pick[first..].sort_by(|x, y| y.rate.total_cmp(&x.rate));
            }
            self.pick_range[s] = (first, self.pick.len());
        }
    }
}
