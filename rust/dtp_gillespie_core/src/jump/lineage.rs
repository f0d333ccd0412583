//! Event-by-event simulation of a few lineages over part of a step: small pools (the event
//! regime), and the lineages that emit (design note scale.md §2.3).
//!
//! - [`simulate_free`]: the direct method over a bag of cells (counts per type), every emission's
//!   time logged. Exact.
//! - [`simulate_emitting`]: one cell's lineage *conditioned on emitting at least once* before the
//!   end of the step, by first-event recursion (a Doob h-transform of the lineage). With `u` the
//!   time left, the first event's time `τ` and channel `c` have density
//!   `∝ r_c e^{−aτ} h_c(u − τ)`, where `h_c(v)` is the chance that at least one emission follows
//!   within `v` once `c` fired: 1 for an emitting channel, 0 for a death, `ψ_y(v)` after a switch
//!   to `y`, `1 − φ_y(v) φ_z(v)` after a division into `y, z` (from [`NoEmission`]). It is drawn
//!   by rejection: `c ∝ r_c h_c(u)`, `τ` exponential of rate `a` truncated to `[0, u]`, accepted
//!   with chance `h_c(u − τ)/h_c(u) ≤ 1` (each `h_c` increases with the time left). After an
//!   emission, the cells continue unconditioned ([`simulate_free`]). After any other event, the
//!   subset of its cells whose lineages emit is drawn from its chances (`∝ Π ψ · Π φ` over
//!   non-empty subsets); those recurse, the others are simulated conditioned on *not* emitting,
//!   by rejection of free simulations (accepted with chance `φ`, close to 1).
//!
//! Both are exact given `ψ` and `φ`, which the Riccati solve gives to its integration tolerance.
//!
//! **Rates that vary over the step** (PK dosing, [`StepRates`]): the direct method runs at each
//! channel's bound over the step and keeps a candidate with chance `rate(s) / bound` (thinning,
//! exact). A lineage conditioned on emitting draws its first event from the density
//! `∝ r_c(s) e^{−∫a} h_c(u − τ)` by rejection against `bound_c · H_c(u) · e^{−Lτ}`, with `L` a
//! lower bound of the cell's total rate over the step and `H_c(u) ≥ max_{v ≤ u} h_c(v)` (from
//! [`EmissionBound`]: under varying rates `h_c` need not grow with the time left): accepted
//! with chance `(r_c(s)/bound_c) · e^{−∫(a − L)} · h_c(u − τ)/H_c(u)`, the integral in closed
//! form. `ψ`, `φ` come from the solve over the same path, indexed by the time left to the step's
//! end, which is what they must be at every time of the step.

use rand::Rng;
use rand::RngExt;
use rand_distr::{Distribution, Exp1};

use super::JumpError;
use super::linear::LinearChannel;
use super::riccati::{EmissionBound, NoEmission};
use super::step_rates::StepRates;

/// What a simulation logged: its first emission (absolute time, infinity if none), the events it
/// fired and the time of its last event.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LineageLog {
    pub first_emission: f64,
    pub emissions: u64,
    pub events: u64,
    pub last_event: f64,
}

impl Default for LineageLog {
    fn default() -> Self {
        Self {
            first_emission: f64::INFINITY,
            emissions: 0,
            events: 0,
            last_event: f64::NEG_INFINITY,
        }
    }
}

impl LineageLog {
    pub(crate) fn event(&mut self, t: f64, emits: bool) {
        self.events += 1;
        self.last_event = self.last_event.max(t);
        if emits {
            self.emissions += 1;
            self.first_emission = self.first_emission.min(t);
        }
    }

    /// Fold another log into this one.
    pub fn absorb(&mut self, other: &LineageLog) {
        self.first_emission = self.first_emission.min(other.first_emission);
        self.emissions += other.emissions;
        self.events += other.events;
        self.last_event = self.last_event.max(other.last_event);
    }
}

fn place(bag: &mut [u64], channel: &LinearChannel, source: usize) -> Result<(), JumpError> {
    bag[source] -= 1;
    for &y in channel.after() {
        bag[y] = bag[y].checked_add(1).ok_or(JumpError::TooLarge {
            name: "population",
            value: bag[y] as f64 + 1.0,
        })?;
    }
    Ok(())
}

/// The direct method over the cells `bag` (updated in place) from `start` for `duration`, in a
/// step that starts at `origin` (varying rates are thinned at their bounds).
pub fn simulate_free<R: Rng + ?Sized>(
    step_rates: &StepRates,
    origin: f64,
    bag: &mut [u64],
    start: f64,
    duration: f64,
    rng: &mut R,
    log: &mut LineageLog,
) -> Result<(), JumpError> {
    let rates = step_rates.bounds();
    let end = start + duration;
    let mut t = start;
    loop {
        let a0: f64 = (0..bag.len()).map(|x| bag[x] as f64 * rates.total(x)).sum();
        if a0 <= 0.0 {
            return Ok(());
        }
        let wait: f64 = Exp1.sample(rng);
        t += wait / a0;
        if t >= end {
            return Ok(());
        }
        let mut target = rng.random::<f64>() * a0;
        let mut source = bag.len() - 1;
        for (x, &n) in bag.iter().enumerate() {
            let w = n as f64 * rates.total(x);
            if target < w {
                source = x;
                break;
            }
            target -= w;
        }
        // Rounding can leave the pick on a type with no cells; the last populated one takes it.
        if bag[source] == 0 {
            source = (0..bag.len())
                .rev()
                .find(|&x| bag[x] > 0 && rates.total(x) > 0.0)
                .expect("a positive total rate has a populated type");
        }
        let channels = rates.channels(source);
        let mut target = target.min(bag[source] as f64 * rates.total(source)) / bag[source] as f64;
        let mut pick = channels.len() - 1;
        for (c, ch) in channels.iter().enumerate() {
            if target < ch.rate {
                pick = c;
                break;
            }
            target -= ch.rate;
        }
        let channel = channels[pick];
        if !step_rates.accepts(source, pick, t - origin, rng) {
            continue;
        }
        place(bag, &channel, source)?;
        log.event(t, channel.emits);
    }
}

/// `h_c(v)`: the chance of at least one emission within `v` after channel `c` fired.
fn follow_up(no_emission: &NoEmission, channel: &LinearChannel, v: f64) -> f64 {
    if channel.emits {
        return 1.0;
    }
    match *channel.after() {
        [] => 0.0,
        [y] => no_emission.emission(y, v),
        [y, z] => {
            let (py, pz) = (no_emission.emission(y, v), no_emission.emission(z, v));
            py + pz - py * pz
        }
        _ => unreachable!("at most two cells after an event"),
    }
}

/// `h_c(v)` bounded over `[0, v]`: `h_c(v)` itself if `bound` is `None` (constant rates, under
/// which `h_c` grows with the time left).
fn follow_up_bound(
    no_emission: &NoEmission,
    bound: Option<&EmissionBound>,
    channel: &LinearChannel,
    v: f64,
) -> f64 {
    let Some(bound) = bound else {
        return follow_up(no_emission, channel, v);
    };
    if channel.emits {
        return 1.0;
    }
    match *channel.after() {
        [] => 0.0,
        [y] => bound.at(y, v),
        [y, z] => {
            let (py, pz) = (bound.at(y, v), bound.at(z, v));
            py + pz - py * pz
        }
        _ => unreachable!("at most two cells after an event"),
    }
}

/// The solve of a step and, if its rates vary, the bound of its `ψ` ([`EmissionBound`]).
#[derive(Clone, Copy)]
pub struct Emission<'a> {
    pub no_emission: &'a NoEmission,
    pub bound: Option<&'a EmissionBound>,
}

/// One `x` cell's lineage from `start` for `duration`, conditioned on at least one emission in
/// that time, in a step that starts at `origin`; its cells at the end are added to `out`.
pub fn simulate_emitting<R: Rng + ?Sized>(
    step_rates: &StepRates,
    origin: f64,
    emission: Emission<'_>,
    x: usize,
    start: f64,
    duration: f64,
    rng: &mut R,
    out: &mut [u64],
    log: &mut LineageLog,
) -> Result<(), JumpError> {
    let (rates, no_emission) = (step_rates.bounds(), emission.no_emission);
    let mut pending = vec![(x, start, duration)];
    let mut bag = vec![0u64; rates.n_types()];
    let mut weights = Vec::new();
    while let Some((x, start, left)) = pending.pop() {
        let channels = rates.channels(x);
        // The total rate if constant; under varying rates a lower bound of it (maybe 0).
        let a = step_rates.lower_total(x);
        weights.clear();
        weights.extend(
            channels
                .iter()
                .map(|c| c.rate * follow_up_bound(no_emission, emission.bound, c, left)),
        );
        let sum: f64 = weights.iter().sum();
        if !(sum > 0.0 && (a > 0.0 || step_rates.varies())) {
            return Err(JumpError::InvalidParameter {
                name: "emission chance of a lineage conditioned to emit",
                value: sum,
                expected: "positive",
            });
        }
        let window = -(-a * left).exp_m1();
        let (channel, tau) = loop {
            let mut target = rng.random::<f64>() * sum;
            let mut pick = weights.len() - 1;
            for (c, &w) in weights.iter().enumerate() {
                if target < w && w > 0.0 {
                    pick = c;
                    break;
                }
                target -= w;
            }
            while weights[pick] == 0.0 {
                pick -= 1;
            }
            let tau = if a > 0.0 {
                (-(-rng.random::<f64>() * window).ln_1p() / a).min(left)
            } else {
                rng.random::<f64>() * left
            };
            let mut ratio = follow_up(no_emission, &channels[pick], left - tau)
                / follow_up_bound(no_emission, emission.bound, &channels[pick], left);
            if step_rates.varies() {
                let s = start - origin;
                ratio *= step_rates.rate_at(x, pick, s + tau) / channels[pick].rate
                    * (-step_rates.excess_hazard(x, s, tau)).exp();
            }
            if rng.random::<f64>() < ratio {
                break (channels[pick], tau);
            }
        };
        let (t, rest) = (start + tau, left - tau);
        log.event(t, channel.emits);
        if channel.emits {
            bag.fill(0);
            for &y in channel.after() {
                bag[y] += 1;
            }
            simulate_free(step_rates, origin, &mut bag, t, rest, rng, log)?;
            add_into(out, &bag)?;
            continue;
        }
        let after = channel.after();
        let psi: Vec<f64> = after
            .iter()
            .map(|&y| no_emission.emission(y, rest))
            .collect();
        let phi: Vec<f64> = after
            .iter()
            .map(|&y| no_emission.silence(y, rest))
            .collect();
        // Which of the cells emit: a non-empty subset, by its chance.
        let emitting: [bool; 2] = if after.len() == 1 {
            [true, false]
        } else {
            let both = psi[0] * psi[1];
            let first = psi[0] * phi[1];
            let second = phi[0] * psi[1];
            let u = rng.random::<f64>() * (both + first + second);
            if u < both {
                [true, true]
            } else if u < both + first {
                [true, false]
            } else {
                [false, true]
            }
        };
        for (&y, &emits) in after.iter().zip(&emitting) {
            if emits {
                pending.push((y, t, rest));
            } else {
                simulate_silent(step_rates, origin, y, t, rest, rng, &mut bag, log)?;
                add_into(out, &bag)?;
            }
        }
    }
    Ok(())
}

/// One `y` cell's lineage conditioned on no emission, by rejection; its cells end in `bag`.
fn simulate_silent<R: Rng + ?Sized>(
    rates: &StepRates,
    origin: f64,
    y: usize,
    start: f64,
    duration: f64,
    rng: &mut R,
    bag: &mut [u64],
    log: &mut LineageLog,
) -> Result<(), JumpError> {
    loop {
        bag.fill(0);
        bag[y] = 1;
        let mut trial = LineageLog::default();
        simulate_free(rates, origin, bag, start, duration, rng, &mut trial)?;
        if trial.emissions == 0 {
            log.absorb(&trial);
            return Ok(());
        }
    }
}

/// `out += add`, refusing an overflow.
pub(crate) fn add_into(out: &mut [u64], add: &[u64]) -> Result<(), JumpError> {
    for (o, &a) in out.iter_mut().zip(add) {
        *o = o.checked_add(a).ok_or(JumpError::TooLarge {
            name: "population",
            value: *o as f64 + a as f64,
        })?;
    }
    Ok(())
}
