//! A probability and its complement, each to full relative precision.
//!
//! `1 − p` loses every digit of a tiny complement once `p` is within 1e-16 of 1: a survival
//! probability `1 − α` with `α = 1e-17` rounds to exactly 1, and a binomial of 1e11 survivors then
//! never kills anyone (expected deaths 1e-6 per step, which add up over many steps). OncoSimulR's
//! `pow(U, 1/n)` fails the same way near 1e8 cells ("ti set to DBL_MIN"; design note
//! scale.md §1.2: compute `1 − r` as `−expm1(ln U / n)` instead). So callers that know both
//! sides of a probability accurately (from `expm1`, `ln_1p`, or suffix sums) pass both, and the
//! samplers draw on the smaller side.

use super::JumpError;

/// The probability `p` of an event and `q = 1 − p`, both accurate in relative terms.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Chance {
    p: f64,
    q: f64,
}

/// How far `p + q` may be from 1: a few roundings of the expressions that produced them.
const SUM_TOLERANCE: f64 = 16.0 * f64::EPSILON;

impl Chance {
    /// The chance `p`; its complement `1 − p` is computed here. That is exact for `p ≥ 0.5`
    /// (Sterbenz) and accurate to 2^-53 relative for `p < 0.5`, so `p` itself must already be
    /// accurate on its smaller side: use [`Chance::from_complement`] or [`Chance::from_parts`]
    /// when it is `1 − p` that is known precisely.
    pub fn new(p: f64) -> Result<Self, JumpError> {
        check_unit("p", p)?;
        Ok(Self { p, q: 1.0 - p })
    }

    /// The chance whose complement is `q` (e.g. a tiny death probability given a survival chance).
    pub fn from_complement(q: f64) -> Result<Self, JumpError> {
        check_unit("q", q)?;
        Ok(Self { p: 1.0 - q, q })
    }

    /// The chance `p` with its complement `q`, both computed without cancellation by the caller.
    /// They must add up to 1 within a few roundings.
    pub fn from_parts(p: f64, q: f64) -> Result<Self, JumpError> {
        check_unit("p", p)?;
        check_unit("q", q)?;
        let sum = p + q;
        if (sum - 1.0).abs() > SUM_TOLERANCE {
            return Err(JumpError::InvalidParameter {
                name: "p + q",
                value: sum,
                expected: "1 within 16 ulps",
            });
        }
        Ok(Self { p, q })
    }

    /// The probability of the event.
    #[must_use]
    pub fn p(self) -> f64 {
        self.p
    }

    /// The probability of its complement, `1 − p`.
    #[must_use]
    pub fn q(self) -> f64 {
        self.q
    }

    /// The complementary chance (`q` becomes the event).
    #[must_use]
    pub fn complement(self) -> Self {
        Self {
            p: self.q,
            q: self.p,
        }
    }
}

fn check_unit(name: &'static str, value: f64) -> Result<(), JumpError> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(JumpError::InvalidParameter {
            name,
            value,
            expected: "a probability in [0, 1]",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tiny_complement_survives() {
        let c = Chance::from_complement(1e-17).unwrap();
        assert_eq!(c.p(), 1.0);
        assert_eq!(c.q(), 1e-17);
        assert_eq!(c.complement().p(), 1e-17);
    }

    #[test]
    fn bad_probabilities_are_refused() {
        assert!(Chance::new(f64::NAN).is_err());
        assert!(Chance::new(-0.1).is_err());
        assert!(Chance::from_complement(1.5).is_err());
        assert!(Chance::from_parts(0.5, 0.6).is_err());
        assert!(Chance::from_parts(0.25, 0.75).is_ok());
    }
}
