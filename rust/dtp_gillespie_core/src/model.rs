//! The compiled model: a flat table of first-order reaction channels, each fired by one cell of its
//! source state, with one per-cell rate per exposure, optional density dependence (one carrying
//! capacity, or Lotka–Volterra competition) and an optional biomarker.
//!
//! # Density dependence
//!
//! Both forms make a state's per-cell division or death rate a function of the current counts,
//! through a *crowding* `x_i = C_i / K_i`:
//!
//! - on division: `b_i * max(0, 1 - x_i)`;
//! - on death: `max(0, d_i + (b_i - d_i) * x_i)` (with `d_i = 0`, birth `b_i` and death
//!   `b_i x_i`, whose mean is the Lotka–Volterra growth `b_i n_i (1 - x_i)` at every `x_i`, also
//!   above capacity). Where `d_i > b_i` (a killing drug) crowding *lowers* death;
//! - additively on death ([`Capacity`] only): `d_i + c_i * x_i` with a fixed slope `c_i >= 0`, so
//!   crowding only ever adds death, under every exposure.
//!
//! [`Capacity`] is one crowding for every state: `C = sum_j w_j n_j`, constant `K`.
//! [`Competition`] gives each listed state `i` its own row: `C_i = sum_j a_ij n_j` and
//! `K_i = k0_i + sum_j c_ij n_j` (a capacity that may grow with another population, such as the
//! testosterone-dependent cells of Zhang et al. 2017 whose capacity is proportional to the
//! testosterone-producing cells), every coefficient per exposure. `K_i = 0` (only possible on
//! division, when `k0_i = 0` and the populations `K_i` depends on are extinct) means no room to
//! grow: the division rate is 0. On death, `k0_i > 0` is required so that the death rate stays
//! finite. Rates change only at events (and exposure switches), so recomputing them after every
//! event keeps the direct method exact.

use crate::biomarker::Biomarker;
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
    /// Death rate `d + slope * N/K` with a per-state `slope >= 0` (capacity only).
    DeathAdditive,
}

/// Density dependence through a carrying capacity `K`, with `N = sum_i weights[i] * count[i]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Capacity {
    pub k: f64,
    pub target: CapacityTarget,
    pub weights: Vec<f64>,
    /// Per state, the death added at `N = K` ([`CapacityTarget::DeathAdditive`] only; empty
    /// otherwise).
    pub slope: Vec<f64>,
}

/// One state's row of Lotka–Volterra competition: crowding `x = C / K` with
/// `C = sum_j alpha[e][j] n_j` and `K = k0[e] + sum_j k_per_cell[e][j] n_j` under exposure `e`.
#[derive(Clone, Debug, PartialEq)]
pub struct CompetitionRow {
    /// The state whose division (or death) rate this row scales.
    pub state: usize,
    /// Competition coefficients, exposure-major: `alpha[e * n_states + j]`.
    pub alpha: Vec<f64>,
    /// Constant part of the carrying capacity, per exposure.
    pub k0: Vec<f64>,
    /// Carrying capacity gained per cell of state `j`, exposure-major like `alpha`.
    pub k_per_cell: Vec<f64>,
}

impl CompetitionRow {
    /// Crowding `C / K` under exposure `e`; infinity when `K = 0`.
    #[inline]
    #[must_use]
    pub fn crowding(&self, counts: &[u64], exposure: usize) -> f64 {
        let n = counts.len();
        let range = exposure * n..(exposure + 1) * n;
        let (mut c, mut k) = (0.0, self.k0[exposure]);
        for ((&count, &a), &kc) in counts
            .iter()
            .zip(&self.alpha[range.clone()])
            .zip(&self.k_per_cell[range])
        {
            let count = count as f64;
            c += a * count;
            k += kc * count;
        }
        if k > 0.0 { c / k } else { f64::INFINITY }
    }
}

/// Lotka–Volterra competition: each listed state has its own crowding (see the module docs);
/// unlisted states are not density dependent.
#[derive(Clone, Debug, PartialEq)]
pub struct Competition {
    pub target: CapacityTarget,
    pub rows: Vec<CompetitionRow>,
}

impl Competition {
    fn validate(&self, n_states: usize, n_exposures: usize) -> Result<()> {
        let bad = |msg: String| Err(EngineError::InvalidModel(msg));
        if self.rows.is_empty() {
            return bad("competition has no rows".into());
        }
        if self.target == CapacityTarget::DeathAdditive {
            return bad("competition acts on division or death, not additively on death".into());
        }
        let mut seen = vec![false; n_states];
        for row in &self.rows {
            let s = row.state;
            if s >= n_states {
                return bad(format!(
                    "competition row names state {s} outside 0..{n_states}"
                ));
            }
            if std::mem::replace(&mut seen[s], true) {
                return bad(format!("competition has two rows for state {s}"));
            }
            let sizes = [
                (row.alpha.len(), n_states * n_exposures, "alpha"),
                (row.k_per_cell.len(), n_states * n_exposures, "k_per_cell"),
                (row.k0.len(), n_exposures, "k0"),
            ];
            if let Some((got, want, what)) = sizes.iter().find(|(got, want, _)| got != want) {
                return bad(format!(
                    "competition row of state {s}: {what} has {got} values, expected {want}"
                ));
            }
            let values = row.alpha.iter().chain(&row.k0).chain(&row.k_per_cell);
            if let Some(v) = values.copied().find(|v| !v.is_finite() || *v < 0.0) {
                return bad(format!(
                    "competition row of state {s} has coefficient {v}; coefficients must be \
                     finite and >= 0"
                ));
            }
            for e in 0..n_exposures {
                let per_cell = &row.k_per_cell[e * n_states..(e + 1) * n_states];
                if self.target == CapacityTarget::Death && row.k0[e] <= 0.0 {
                    return bad(format!(
                        "competition on death: the constant part of K of state {s} under \
                         exposure {e} is {}; it must be > 0 (K = 0 would make the death rate \
                         infinite)",
                        row.k0[e]
                    ));
                }
                if row.k0[e] <= 0.0 && per_cell.iter().all(|&k| k == 0.0) {
                    return bad(format!(
                        "competition: K of state {s} under exposure {e} is always 0"
                    ));
                }
            }
        }
        Ok(())
    }
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
    competition: Option<Competition>,
    biomarker: Option<Biomarker>,
    /// Channels of each state, as a half-open range (channels are sorted by source).
    state_channels: Vec<(usize, usize)>,
    /// Index of each state's death channel, if it has one.
    death_channel: Vec<Option<usize>>,
    /// The states' names, for messages (empty: known by index only).
    state_names: Vec<String>,
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
            let additive = cap.target == CapacityTarget::DeathAdditive;
            if additive
                && (cap.slope.len() != n_states
                    || cap.slope.iter().any(|c| !c.is_finite() || *c < 0.0))
            {
                return bad(format!(
                    "capacity slopes must be {n_states} finite values >= 0, got {:?}",
                    cap.slope
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
            competition: None,
            biomarker: None,
            state_channels,
            death_channel,
            state_names: Vec::new(),
        };
        if let Some(cap) = &model.capacity {
            for s in 0..n_states {
                let crowding_kills = match cap.target {
                    CapacityTarget::Division => false,
                    CapacityTarget::Death => {
                        (0..n_exposures).any(|e| model.division_rate(e, s) > 0.0)
                    }
                    CapacityTarget::DeathAdditive => cap.slope[s] > 0.0,
                };
                if crowding_kills && model.death_channel[s].is_none() {
                    return bad(format!(
                        "capacity acts on death but state {s} has no death channel"
                    ));
                }
            }
        }
        Ok(model)
    }

    /// The same model with Lotka–Volterra competition (instead of a capacity).
    pub fn with_competition(mut self, competition: Competition) -> Result<Self> {
        let bad = |msg: String| Err(EngineError::InvalidModel(msg));
        if self.capacity.is_some() {
            return bad(
                "a model has either a capacity or competition, not both (a capacity is \
                 competition with the same row for every state)"
                    .into(),
            );
        }
        competition.validate(self.n_states, self.n_exposures)?;
        if competition.target == CapacityTarget::Death {
            for row in &competition.rows {
                let s = row.state;
                let divides = (0..self.n_exposures).any(|e| self.division_rate(e, s) > 0.0);
                if divides && self.death_channel[s].is_none() {
                    return bad(format!(
                        "competition acts on death but state {s} has no death channel"
                    ));
                }
            }
        }
        self.competition = Some(competition);
        Ok(self)
    }

    /// The same model with a biomarker.
    pub fn with_biomarker(mut self, biomarker: Biomarker) -> Result<Self> {
        biomarker.validate(self.n_states, self.n_exposures)?;
        self.biomarker = Some(biomarker);
        Ok(self)
    }

    /// The model with its states' names, which messages use (one per state).
    pub fn with_state_names(mut self, names: Vec<String>) -> Result<Self> {
        if names.len() != self.n_states {
            return Err(EngineError::InvalidModel(format!(
                "{} state names for {} states: {names:?}",
                names.len(),
                self.n_states
            )));
        }
        self.state_names = names;
        Ok(self)
    }

    /// State `s` for a message: its name quoted, or `state {s}` in a model without names.
    #[must_use]
    pub fn state_label(&self, s: usize) -> String {
        self.state_names
            .get(s)
            .map_or_else(|| format!("state {s}"), |name| format!("'{name}'"))
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

    #[must_use]
    pub fn competition(&self) -> Option<&Competition> {
        self.competition.as_ref()
    }

    #[must_use]
    pub fn biomarker(&self) -> Option<&Biomarker> {
        self.biomarker.as_ref()
    }

    /// Do rates depend on the counts (capacity or competition)? Then they are recomputed after
    /// every event.
    #[inline]
    #[must_use]
    pub fn density_dependent(&self) -> bool {
        self.capacity.is_some() || self.competition.is_some()
    }

    /// `N = sum_i weights[i] * count[i]` of the capacity (0 without one).
    #[must_use]
    pub fn weighted_population(&self, counts: &[u64]) -> f64 {
        self.capacity
            .as_ref()
            .map_or(0.0, |cap| weighted_count(&cap.weights, counts))
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
/// that firing needs no branches. Kept to 32 bytes: the hot loop indexes a table of them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Pick {
    pub rate: f64,
    pub dec: usize,
    pub inc: usize,
    pub channel: u32,
    /// Change of the total population: -1, 0 or +1.
    pub delta_total: i8,
    pub is_mutation: bool,
}

impl Pick {
    /// A pick that changes nothing (both ends at slot 0 cancel), standing in for a state that has
    /// no channel; it is never fired.
    pub(crate) const NONE: Pick = Pick {
        rate: 0.0,
        dec: 0,
        inc: 0,
        channel: u32::MAX,
        delta_total: 0,
        is_mutation: false,
    };

    pub(crate) fn new(model: &Model, rate: f64, channel: usize) -> Self {
        let ch = &model.channels[channel];
        let sink = model.n_states;
        Self {
            rate,
            channel: u32::try_from(channel).expect("fewer than 2^32 channels"),
            dec: ch.dec.unwrap_or(sink),
            inc: ch.inc.unwrap_or(sink),
            delta_total: i8::from(ch.inc.is_some()) - i8::from(ch.dec.is_some()),
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
    /// only read when the model has a capacity (use [`PhaseRates::fill_at`] for competition).
    /// With `sort`, each state's picks are ordered by rate (worth it when the rates are used for
    /// many events). Allocates nothing.
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
            self.apply_crowding_to(model, cap.target, None, weighted_n / cap.k, upper, lower);
        }
        self.pick(model, sort);
    }

    /// As [`PhaseRates::fill`], with the density dependence of the model (capacity or
    /// competition) evaluated at `counts` under exposure `exposure` (the exposure selects the
    /// competition coefficients). Competition rates change at every event, so their picks are
    /// never sorted (sorting would not pay off; the order does not change the law).
    pub fn fill_at(
        &mut self,
        model: &Model,
        upper: &[f64],
        lower: &[f64],
        counts: &[u64],
        exposure: usize,
        sort: bool,
    ) {
        if let Some(comp) = &model.competition {
            self.channel.copy_from_slice(upper);
            for row in &comp.rows {
                let crowding = row.crowding(counts, exposure);
                self.apply_crowding_to(model, comp.target, Some(row.state), crowding, upper, lower);
            }
            self.pick(model, false);
        } else {
            self.fill(model, upper, lower, model.weighted_population(counts), sort);
        }
    }

    /// Effective rates from base rates `base` at given crowdings instead of counts: `crowding[0]`
    /// for a capacity, `crowding[r]` for competition row `r`. For the population jumps, which
    /// evaluate the rates at a mean-field state (not a count vector); the arithmetic per crowding
    /// is the one [`PhaseRates::fill`] and [`PhaseRates::fill_at`] use.
    pub(crate) fn fill_crowded(&mut self, model: &Model, base: &[f64], crowding: &[f64]) {
        self.channel.copy_from_slice(base);
        if let Some(cap) = &model.capacity {
            self.apply_crowding_to(model, cap.target, None, crowding[0], base, base);
        } else if let Some(comp) = &model.competition {
            for (row, &x) in comp.rows.iter().zip(crowding) {
                self.apply_crowding_to(model, comp.target, Some(row.state), x, base, base);
            }
        }
        self.pick(model, false);
    }

    /// Scale the division channels (or set the death channel) of `state` (every state if `None`)
    /// for crowding `crowding`.
    fn apply_crowding_to(
        &mut self,
        model: &Model,
        target: CapacityTarget,
        state: Option<usize>,
        crowding: f64,
        upper: &[f64],
        lower: &[f64],
    ) {
        let states = state.map_or(0..model.n_states, |s| s..s + 1);
        match target {
            CapacityTarget::Division => {
                // A crowding that is not a number (competition sums that both overflowed) makes
                // the rates not a number, which stops the replicate (`rate_overflow`).
                let factor = if crowding.is_nan() {
                    f64::NAN
                } else {
                    (1.0 - crowding).max(0.0)
                };
                let range = state.map_or((0, model.channels.len()), |s| model.state_channels[s]);
                for c in range.0..range.1 {
                    if model.channels[c].kind == ChannelKind::Division {
                        self.channel[c] *= factor;
                    }
                }
            }
            CapacityTarget::Death => {
                // d + (b - d) x = d (1 - x) + b x: bound each term by its own extreme.
                for s in states {
                    if let Some(c) = model.death_channel[s] {
                        let (a, z) = model.state_channels[s];
                        let b: f64 = (a..z)
                            .filter(|&k| model.channels[k].kind == ChannelKind::Division)
                            .map(|k| upper[k])
                            .sum();
                        let d = if crowding <= 1.0 { upper[c] } else { lower[c] };
                        self.channel[c] = crowded_death_rate(d, b, crowding);
                    }
                }
            }
            CapacityTarget::DeathAdditive => {
                // d + c x with c, x >= 0 grows with d: the upper base rate bounds it.
                let slope = model
                    .capacity
                    .as_ref()
                    .map_or(&[][..], |cap| &cap.slope[..]);
                for s in states {
                    if let Some(c) = model.death_channel[s] {
                        self.channel[c] = upper[c] + slope[s] * crowding;
                    }
                }
            }
        }
    }

    /// Per-state totals and picks from `self.channel`.
    fn pick(&mut self, model: &Model, sort: bool) {
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

/// The death rate `max(0, d + (b - d) x)` under crowding `x`, computed as `d (1 - x) + b x`
/// (the engine's arithmetic since the first version). Beyond a crowding of 2^52, `1 - x` loses
/// the 1 and the two terms cancel (or both overflow, for a capacity of a few subnormals), so the
/// equivalent `d + (b - d) x` is used there. A rate that cannot be computed (a crowding that is
/// not a number) is infinite: an infinite rate stops the replicate with status `rate_overflow`
/// rather than fire with a wrong one.
fn crowded_death_rate(d: f64, b: f64, x: f64) -> f64 {
    #[allow(clippy::float_cmp)]
    let rate = if x <= EXACT_CROWDING {
        d * (1.0 - x) + b * x
    } else if b == d {
        d
    } else {
        d + (b - d) * x
    };
    if rate.is_nan() {
        f64::INFINITY
    } else {
        rate.max(0.0)
    }
}

/// Largest crowding at which `1 - x` keeps the 1 (2^52).
const EXACT_CROWDING: f64 = 4_503_599_627_370_496.0;

/// `sum_i weights[i] * counts[i]` in index order: a capacity's `N`, a monitored burden, a
/// progression burden.
#[inline]
#[must_use]
pub fn weighted_count(weights: &[f64], counts: &[u64]) -> f64 {
    weighted_sum(weights, counts.iter().map(|&n| n as f64))
}

/// [`weighted_count`] of counts given as floats (the hot loop's), with the same arithmetic.
#[inline]
pub(crate) fn weighted_sum(weights: &[f64], counts: impl Iterator<Item = f64>) -> f64 {
    counts.zip(weights).map(|(n, &w)| n * w).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(source: usize, kind: ChannelKind) -> Channel {
        let (dec, inc) = match kind {
            ChannelKind::Division => (None, Some(source)),
            ChannelKind::Death => (Some(source), None),
            ChannelKind::Switch => unreachable!(),
        };
        Channel {
            source,
            dec,
            inc,
            kind,
            is_mutation: false,
        }
    }

    /// Two states with birth `b` and death `d` each, two exposures with the same rates.
    fn two_states(b: [f64; 2], d: [f64; 2], capacity: Option<Capacity>) -> Model {
        let channels = vec![
            channel(0, ChannelKind::Division),
            channel(0, ChannelKind::Death),
            channel(1, ChannelKind::Division),
            channel(1, ChannelKind::Death),
        ];
        let rates = [b[0], d[0], b[1], d[1]];
        let rates = rates.iter().chain(&rates).copied().collect();
        Model::new(2, 2, channels, rates, capacity).unwrap()
    }

    fn row(state: usize, alpha: [f64; 2], k0: f64, k_per_cell: [f64; 2]) -> CompetitionRow {
        CompetitionRow {
            state,
            alpha: [alpha, alpha].concat(),
            k0: vec![k0; 2],
            k_per_cell: [k_per_cell, k_per_cell].concat(),
        }
    }

    fn rates_at(model: &Model, counts: &[u64], exposure: usize) -> Vec<f64> {
        let mut rates = PhaseRates::new(model);
        let base = model.rates_of(exposure);
        rates.fill_at(model, base, base, counts, exposure, true);
        rates.channel
    }

    #[test]
    fn capacity_is_competition_with_one_row_per_state() {
        for target in [CapacityTarget::Division, CapacityTarget::Death] {
            let weights = vec![1.0, 0.5];
            let cap = Capacity {
                k: 300.0,
                target,
                weights: weights.clone(),
                slope: vec![],
            };
            let with_capacity = two_states([0.4, 0.3], [0.1, 0.05], Some(cap));
            let rows = (0..2)
                .map(|s| row(s, [weights[0], weights[1]], 300.0, [0.0, 0.0]))
                .collect();
            let with_competition = two_states([0.4, 0.3], [0.1, 0.05], None)
                .with_competition(Competition { target, rows })
                .unwrap();
            for counts in [[0, 0], [100, 50], [250, 200], [1000, 3]] {
                assert_eq!(
                    rates_at(&with_capacity, &counts, 0),
                    rates_at(&with_competition, &counts, 0),
                    "{target:?} {counts:?}"
                );
            }
        }
    }

    #[test]
    fn additive_crowding_only_ever_adds_death() {
        // State 0 is killed by the drug (d = 1.5 > b = 0.5); state 1 has slope 0.
        let cap = Capacity {
            k: 1000.0,
            target: CapacityTarget::DeathAdditive,
            weights: vec![1.0, 1.0],
            slope: vec![0.4, 0.0],
        };
        let model = two_states([0.5, 0.3], [1.5, 0.05], Some(cap));
        for counts in [[0, 0], [500, 0], [1500, 0], [1000, 3000]] {
            let x = (counts[0] + counts[1]) as f64 / 1000.0;
            let r = rates_at(&model, &counts, 0);
            assert_eq!(r[0], 0.5, "division is not density dependent");
            assert!((r[1] - (1.5 + 0.4 * x)).abs() < 1e-12, "{counts:?}");
            assert_eq!(r[3], 0.05, "a zero slope adds nothing");
        }
        let bad_slope = |slope: Vec<f64>| {
            let cap = Capacity {
                k: 10.0,
                target: CapacityTarget::DeathAdditive,
                weights: vec![1.0, 1.0],
                slope,
            };
            let channels = vec![
                channel(0, ChannelKind::Division),
                channel(0, ChannelKind::Death),
                channel(1, ChannelKind::Division),
                channel(1, ChannelKind::Death),
            ];
            Model::new(2, 1, channels, vec![0.5, 0.1, 0.5, 0.1], Some(cap)).is_err()
        };
        assert!(bad_slope(vec![0.4]));
        assert!(bad_slope(vec![0.4, -0.1]));
        assert!(bad_slope(vec![0.4, f64::NAN]));
        assert!(!bad_slope(vec![0.4, 0.0]));
        let additive_competition =
            two_states([0.5, 0.5], [0.1, 0.1], None).with_competition(Competition {
                target: CapacityTarget::DeathAdditive,
                rows: vec![row(0, [1.0, 0.0], 10.0, [0.0, 0.0])],
            });
        assert!(additive_competition.is_err());
    }

    #[test]
    fn competition_rates_follow_lotka_volterra_with_count_dependent_capacity() {
        // State 0's capacity is 1.5 per cell of state 1; state 1 has K = 1000.
        let (b, d) = ([0.2, 0.3], [0.0, 0.0]);
        let rows = vec![
            row(0, [1.0, 0.7], 0.0, [0.0, 1.5]),
            row(1, [0.4, 1.0], 1000.0, [0.0, 0.0]),
        ];
        let on_division = two_states(b, d, None)
            .with_competition(Competition {
                target: CapacityTarget::Division,
                rows: rows.clone(),
            })
            .unwrap();
        let counts = [300, 400];
        let x0 = (300.0 + 0.7 * 400.0) / (1.5 * 400.0);
        let x1 = (0.4 * 300.0 + 400.0) / 1000.0;
        let r = rates_at(&on_division, &counts, 0);
        assert!((r[0] - 0.2 * (1.0 - x0)).abs() < 1e-15);
        assert_eq!(r[1], 0.0);
        assert!((r[2] - 0.3 * (1.0 - x1)).abs() < 1e-15);
        // Above capacity on division: no division, death unchanged.
        let r = rates_at(&on_division, &[2000, 400], 0);
        assert_eq!(r[0], 0.0);
        // The capacity of state 0 vanishes with state 1: no room to divide.
        let r = rates_at(&on_division, &[300, 0], 0);
        assert_eq!(r[0], 0.0);
        assert_eq!(r[1], 0.0);

        // On death, with a constant part of K so that it never vanishes: death = b x, whose
        // mean effect b n (1 - x) is the Lotka-Volterra growth above capacity too.
        let mut rows_death = rows;
        rows_death[0].k0 = vec![1.0; 2];
        let on_death = two_states(b, d, None)
            .with_competition(Competition {
                target: CapacityTarget::Death,
                rows: rows_death,
            })
            .unwrap();
        for counts in [[300, 400], [2000, 400], [300, 0]] {
            let x0 = (counts[0] as f64 + 0.7 * counts[1] as f64) / (1.0 + 1.5 * counts[1] as f64);
            let r = rates_at(&on_death, &counts, 0);
            assert_eq!(r[0], 0.2, "division is not density dependent on death");
            assert!(
                (r[1] - 0.2 * x0).abs() < 1e-12 * (0.2 * x0).max(1.0),
                "{counts:?}"
            );
        }
    }

    #[test]
    fn competition_coefficients_may_depend_on_the_exposure() {
        let mut r = row(0, [1.0, 0.0], 100.0, [0.0, 0.0]);
        r.k0 = vec![100.0, 10.0];
        let model = two_states([0.5, 0.0], [0.0, 0.0], None)
            .with_competition(Competition {
                target: CapacityTarget::Division,
                rows: vec![r],
            })
            .unwrap();
        assert!((rates_at(&model, &[5, 0], 0)[0] - 0.5 * 0.95).abs() < 1e-15);
        assert!((rates_at(&model, &[5, 0], 1)[0] - 0.5 * 0.5).abs() < 1e-15);
    }

    #[test]
    fn invalid_competition_is_rejected() {
        let base = || two_states([0.5, 0.5], [0.1, 0.1], None);
        let good = row(0, [1.0, 0.5], 0.0, [0.0, 1.5]);
        let check = |target, rows: Vec<CompetitionRow>| {
            base().with_competition(Competition { target, rows })
        };
        assert!(check(CapacityTarget::Division, vec![good.clone()]).is_ok());
        // On death the capacity must never vanish.
        assert!(check(CapacityTarget::Death, vec![good.clone()]).is_err());
        let mut negative = good.clone();
        negative.alpha[1] = -0.5;
        let mut short = good.clone();
        short.k0.pop();
        let mut outside = good.clone();
        outside.state = 2;
        let mut zero_k = good.clone();
        zero_k.k_per_cell = vec![0.0; 4];
        for rows in [
            vec![],
            vec![negative],
            vec![short],
            vec![outside],
            vec![zero_k],
            vec![good.clone(), good.clone()],
        ] {
            assert!(
                check(CapacityTarget::Division, rows.clone()).is_err(),
                "{rows:?}"
            );
        }
        let cap = Capacity {
            k: 10.0,
            target: CapacityTarget::Division,
            weights: vec![1.0, 1.0],
            slope: vec![],
        };
        let both = two_states([0.5, 0.5], [0.1, 0.1], Some(cap)).with_competition(Competition {
            target: CapacityTarget::Division,
            rows: vec![good],
        });
        assert!(both.is_err());
    }
}
