//! The vector loop on AVX2: 4 lanes of doubles and 64-bit integers, a lane's mask an all-ones
//! element. The same steps, draws and float operations as the AVX-512 loop ([`super::avx512`],
//! whose docs list them); what AVX2 lacks is built from what it has, exactly: the conversion of
//! the 53 bits of a uniform to a double (two exact halves), 64-bit rotations (two shifts), the
//! unsigned compare (a signed one with the sign bit flipped) and the arithmetic shift of a pick's
//! population change (a logical one, sign-extended).

use std::arch::x86_64::{
    __m256d, __m256i, _CMP_GE_OQ, _CMP_GT_OQ, _CMP_LT_OQ, _CMP_UNORD_Q, _mm256_add_epi64,
    _mm256_add_pd, _mm256_and_pd, _mm256_and_si256, _mm256_andnot_pd, _mm256_blendv_pd,
    _mm256_castpd_si256, _mm256_castsi256_pd, _mm256_cmp_pd, _mm256_cmpeq_epi64,
    _mm256_cmpgt_epi64, _mm256_div_pd, _mm256_i64gather_pd, _mm256_loadu_pd, _mm256_loadu_si256,
    _mm256_movemask_pd, _mm256_mul_pd, _mm256_or_pd, _mm256_or_si256, _mm256_set1_epi64x,
    _mm256_set1_pd, _mm256_setzero_pd, _mm256_setzero_si256, _mm256_slli_epi64, _mm256_srli_epi64,
    _mm256_storeu_pd, _mm256_storeu_si256, _mm256_sub_epi64, _mm256_sub_pd, _mm256_xor_si256,
};

use super::{Block, Exits, Job, LaneState, MAX_PICKS, MUTATION_BIT, SCANNED, Shared};
use crate::controller::Controller;
use crate::error::Result;
use crate::ziggurat_tables::ZIG_EXP_X;

/// Lanes: two vectors of [`H`].
const W: usize = 8;

/// Lanes per vector.
const H: usize = 4;

/// Every lane's bit in a `movemask`.
const ALL: i32 = 0xf;

/// Run a block of replicates in 8 lanes (two vectors of 4), each under a controller from `start`. The caller has
/// checked that the CPU has AVX2 ([`super::Lanes::avx2_available`]).
pub(super) fn run_block<'a, C: Controller>(
    shared: &Shared<'a>,
    jobs: Vec<Job<'a>>,
    start: &dyn Fn() -> C,
) -> Result<u64> {
    match shared.model.n_states() {
        1 => run_block_of::<1, C>(shared, jobs, start),
        2 => run_block_of::<2, C>(shared, jobs, start),
        3 => run_block_of::<3, C>(shared, jobs, start),
        4 => run_block_of::<4, C>(shared, jobs, start),
        n => unreachable!(
            "the lanes take at most {} states, got {n}",
            super::MAX_STATES
        ),
    }
}

fn run_block_of<'a, const N: usize, C: Controller>(
    shared: &Shared<'a>,
    jobs: Vec<Job<'a>>,
    start: &dyn Fn() -> C,
) -> Result<u64> {
    let mut block = Block::<W, N, C>::new(shared, jobs, start);
    let max_population = block.max_population();
    if block.fill()? {
        loop {
            // SAFETY: the CPU has AVX2 (checked by the caller).
            let exits = unsafe {
                if C::REACTS_TO_EVENTS {
                    vector_loop::<N, true>(&mut block.lanes, max_population)
                } else {
                    vector_loop::<N, false>(&mut block.lanes, max_population)
                }
            };
            if !block.handle(&exits)? {
                break;
            }
        }
    }
    block.finish_tail()
}

#[target_feature(enable = "avx2")]
fn load_f(a: &[f64; H]) -> __m256d {
    // SAFETY: `a` holds 4 doubles.
    unsafe { _mm256_loadu_pd(a.as_ptr()) }
}

#[target_feature(enable = "avx2")]
fn store_f(a: &mut [f64; H], v: __m256d) {
    // SAFETY: `a` holds 4 doubles.
    unsafe { _mm256_storeu_pd(a.as_mut_ptr(), v) }
}

#[target_feature(enable = "avx2")]
fn load_u(a: &[u64; H]) -> __m256i {
    // SAFETY: `a` holds 4 words.
    unsafe { _mm256_loadu_si256(a.as_ptr().cast()) }
}

#[target_feature(enable = "avx2")]
fn store_u(a: &mut [u64; H], v: __m256i) {
    // SAFETY: `a` holds 4 words.
    unsafe { _mm256_storeu_si256(a.as_mut_ptr().cast(), v) }
}

#[target_feature(enable = "avx2")]
fn splat_u(x: u64) -> __m256i {
    _mm256_set1_epi64x(x as i64)
}

/// `a` where `mask` is clear, `b` where it is set (words).
#[target_feature(enable = "avx2")]
fn blend_u(a: __m256i, b: __m256i, mask: __m256d) -> __m256i {
    _mm256_castpd_si256(_mm256_blendv_pd(
        _mm256_castsi256_pd(a),
        _mm256_castsi256_pd(b),
        mask,
    ))
}

/// A word comparison as a lane mask.
#[target_feature(enable = "avx2")]
fn equal_u(a: __m256i, b: __m256i) -> __m256d {
    _mm256_castsi256_pd(_mm256_cmpeq_epi64(a, b))
}

#[target_feature(enable = "avx2")]
fn rotl<const L: i32, const R: i32>(x: __m256i) -> __m256i {
    _mm256_or_si256(_mm256_slli_epi64::<L>(x), _mm256_srli_epi64::<R>(x))
}

/// One Xoshiro256++ step in every lane (rand_xoshiro's `next_u64`): the output and the new state.
#[target_feature(enable = "avx2")]
fn xoshiro(s: [__m256i; 4]) -> (__m256i, [__m256i; 4]) {
    let [s0, s1, s2, s3] = s;
    let result = _mm256_add_epi64(rotl::<23, 41>(_mm256_add_epi64(s0, s3)), s0);
    let t = _mm256_slli_epi64::<17>(s1);
    let s2 = _mm256_xor_si256(s2, s0);
    let s3 = _mm256_xor_si256(s3, s1);
    let s1 = _mm256_xor_si256(s1, s2);
    let s0 = _mm256_xor_si256(s0, s3);
    let s2 = _mm256_xor_si256(s2, t);
    let s3 = rotl::<45, 19>(s3);
    (result, [s0, s1, s2, s3])
}

/// The top 53 bits of `bits` as a double, exactly (`(bits >> 11) as f64`): the low 32 and the
/// high 21 bits each converted by the exponent trick, then added (the sum is below 2^53).
#[target_feature(enable = "avx2")]
fn top53(bits: __m256i) -> __m256d {
    let x = _mm256_srli_epi64::<11>(bits);
    let low = _mm256_and_si256(x, splat_u(0xffff_ffff));
    let high = _mm256_srli_epi64::<32>(x);
    let two52 = _mm256_set1_pd(4_503_599_627_370_496.0); // 2^52
    let two84 = _mm256_set1_pd(19_342_813_113_834_066_795_298_816.0); // 2^84
    let low = _mm256_sub_pd(
        _mm256_castsi256_pd(_mm256_or_si256(low, splat_u(0x4330_0000_0000_0000))),
        two52,
    );
    let high = _mm256_sub_pd(
        _mm256_castsi256_pd(_mm256_or_si256(high, splat_u(0x4530_0000_0000_0000))),
        two84,
    );
    _mm256_add_pd(high, low)
}

/// Gather `table[index]` per lane.
#[target_feature(enable = "avx2")]
fn gather(table: &[f64], index: __m256i) -> __m256d {
    // SAFETY: every index is a byte (below 256) and the tables hold 257 values; `table` starts
    // at most one value into `ZIG_EXP_X`.
    debug_assert!(table.len() >= 256);
    unsafe { _mm256_i64gather_pd::<8>(table.as_ptr(), index) }
}

/// Fire events in every lane until at least one lane must leave; store the lanes' state and say
/// which left and why (as the AVX-512 loop). The 8 lanes are two independent halves of 4, each
/// iteration stepping both, so that the out-of-order core overlaps their dependency chains.
///
/// # Safety
///
/// The CPU must have AVX2.
#[allow(
    clippy::too_many_lines,
    clippy::similar_names,
    clippy::many_single_char_names
)]
#[target_feature(enable = "avx2")]
unsafe fn vector_loop<const N: usize, const WATCH: bool>(
    lanes: &mut LaneState<W, N>,
    max_population: u64,
) -> Exits {
    let zero = _mm256_setzero_pd();
    let all = _mm256_castsi256_pd(splat_u(u64::MAX));
    let one = _mm256_set1_pd(1.0);
    let infinity = _mm256_set1_pd(f64::INFINITY);
    let scale53 = _mm256_set1_pd(1.0 / (1u64 << 53) as f64);
    let zig_sub = _mm256_set1_pd(1.0 - f64::EPSILON / 2.0);
    let exponent_one = splat_u(0x3ff0_0000_0000_0000);
    let byte = splat_u(0xff);
    let one_u = splat_u(1);
    let sign = splat_u(1 << 63);
    let half_word = splat_u(1 << 31);
    let mutation_bit = splat_u(MUTATION_BIT);
    // The cap as a signed number with the sign bit flipped, for the unsigned compare.
    let cap_minus_one = _mm256_xor_si256(splat_u(max_population - 1), sign);
    let monitor: [__m256d; N] = std::array::from_fn(|s| _mm256_set1_pd(lanes.monitor[s]));

    let lf = |a: &[f64; W], h: usize| load_f(a[H * h..H * h + H].try_into().unwrap());
    let lu = |a: &[u64; W], h: usize| load_u(a[H * h..H * h + H].try_into().unwrap());
    let mut count: [[__m256d; N]; 2] =
        std::array::from_fn(|h| std::array::from_fn(|s| lf(&lanes.count[s], h)));
    let state_total: [[__m256d; N]; 2] =
        std::array::from_fn(|h| std::array::from_fn(|s| lf(&lanes.state_total[s], h)));
    let rate: [[[__m256d; SCANNED]; N]; 2] = std::array::from_fn(|h| {
        std::array::from_fn(|s| std::array::from_fn(|k| lf(&lanes.rate[s][k], h)))
    });
    let code_of: [[[__m256i; MAX_PICKS]; N]; 2] = std::array::from_fn(|h| {
        std::array::from_fn(|s| std::array::from_fn(|k| lu(&lanes.code[s][k], h)))
    });
    let mut total: [__m256i; 2] = std::array::from_fn(|h| lu(&lanes.total, h));
    let mut now = [zero; 2];
    let mut t_next: [__m256d; 2] = std::array::from_fn(|h| lf(&lanes.t_next, h));
    let limit: [__m256d; 2] = std::array::from_fn(|h| lf(&lanes.limit, h));
    let mut left: [__m256i; 2] = std::array::from_fn(|h| lu(&lanes.left, h));
    let mut first_mutant: [__m256d; 2] = std::array::from_fn(|h| lf(&lanes.first_mutant, h));
    let mut rng: [[__m256i; 4]; 2] =
        std::array::from_fn(|h| std::array::from_fn(|i| lu(&lanes.rng[i], h)));
    let low: [__m256d; 2] = std::array::from_fn(|h| lf(&lanes.low, h));
    let high: [__m256d; 2] = std::array::from_fn(|h| lf(&lanes.high, h));

    let mut weight: [[__m256d; N]; 2] = std::array::from_fn(|h| {
        std::array::from_fn(|s| _mm256_mul_pd(count[h][s], state_total[h][s]))
    });
    let mut a0: [__m256d; 2] = std::array::from_fn(|h| sum(&weight[h]));
    let mut check = [zero; 2];
    let mut miss = [zero; 2];
    let mut passed = [zero; 2];
    let mut layer = [_mm256_setzero_si256(); 2];
    let mut x = [zero; 2];

    loop {
        for h in 0..2 {
            let (count, weight, a0) = (&mut count[h], &mut weight[h], &mut a0[h]);
            let (state_total, rate, code_of) = (&state_total[h], &rate[h], &code_of[h]);
            let rng = &mut rng[h];
            now[h] = t_next[h];
            // 1. The selection target.
            let (bits, next) = xoshiro(*rng);
            *rng = next;
            let u = _mm256_mul_pd(top53(bits), scale53);
            let mut target = _mm256_mul_pd(u, *a0);

            // 2. The state, and what is left of the target within it.
            let mut before: [__m256d; N] = [zero; N];
            let mut chosen: [__m256d; N] = [zero; N];
            let mut found = zero;
            for s in 0..N {
                before[s] = target;
                let below = _mm256_cmp_pd::<_CMP_LT_OQ>(target, weight[s]);
                chosen[s] = _mm256_andnot_pd(found, below);
                found = _mm256_or_pd(found, below);
                target = _mm256_sub_pd(target, weight[s]);
            }
            if _mm256_movemask_pd(found) != ALL {
                // Rounding left the target at or above `a0`: the last state with positive
                // weight.
                let mut later = found;
                for s in (0..N).rev() {
                    let positive = _mm256_cmp_pd::<_CMP_GT_OQ>(weight[s], zero);
                    chosen[s] = _mm256_or_pd(chosen[s], _mm256_andnot_pd(later, positive));
                    later = _mm256_or_pd(later, positive);
                }
                chosen[0] = _mm256_or_pd(chosen[0], _mm256_andnot_pd(later, all));
            }
            let mut rest = target;
            let mut n = zero;
            for s in 0..N {
                rest = _mm256_blendv_pd(rest, before[s], _mm256_and_pd(chosen[s], found));
                n = _mm256_blendv_pd(n, count[s], chosen[s]);
            }
            let mut pick_taken = zero;
            let mut code = _mm256_setzero_si256();
            for k in 0..MAX_PICKS {
                let mut code_k = code_of[0][k];
                for s in 1..N {
                    code_k = blend_u(code_k, code_of[s][k], chosen[s]);
                }
                let this = if k < SCANNED {
                    let mut r = rate[0][k];
                    for s in 1..N {
                        r = _mm256_blendv_pd(r, rate[s][k], chosen[s]);
                    }
                    let w = _mm256_mul_pd(r, n);
                    let below = _mm256_cmp_pd::<_CMP_LT_OQ>(rest, w);
                    rest = _mm256_sub_pd(rest, w);
                    _mm256_andnot_pd(pick_taken, below)
                } else {
                    _mm256_andnot_pd(pick_taken, all)
                };
                code = blend_u(code, code_k, this);
                pick_taken = _mm256_or_pd(pick_taken, this);
            }

            // 3. The event.
            let inc = _mm256_and_si256(code, byte);
            let dec = _mm256_and_si256(_mm256_srli_epi64::<8>(code), byte);
            for s in 0..N {
                let state = splat_u(s as u64);
                let up = _mm256_and_pd(equal_u(inc, state), one);
                let down = _mm256_and_pd(equal_u(dec, state), one);
                count[s] = _mm256_add_pd(count[s], _mm256_sub_pd(up, down));
                weight[s] = _mm256_mul_pd(count[s], state_total[s]);
            }
            // The population change, bits 32-63 sign-extended.
            let delta = _mm256_sub_epi64(
                _mm256_xor_si256(_mm256_srli_epi64::<32>(code), half_word),
                half_word,
            );
            total[h] = _mm256_add_epi64(total[h], delta);
            left[h] = _mm256_sub_epi64(left[h], one_u);
            let mutation = equal_u(_mm256_and_si256(code, mutation_bit), mutation_bit);
            let unset = _mm256_cmp_pd::<_CMP_UNORD_Q>(first_mutant[h], first_mutant[h]);
            let mutant = _mm256_and_pd(mutation, unset);
            first_mutant[h] = _mm256_blendv_pd(first_mutant[h], now[h], mutant);
            *a0 = sum(weight);

            // 4. Checks: `total - 1 >= cap - 1` (unsigned, wrapping) at 0 and at the cap.
            let shifted = _mm256_xor_si256(_mm256_sub_epi64(total[h], one_u), sign);
            let uncapped = _mm256_castsi256_pd(_mm256_cmpgt_epi64(cap_minus_one, shifted));
            let spent = equal_u(left[h], _mm256_setzero_si256());
            let finite = _mm256_cmp_pd::<_CMP_LT_OQ>(*a0, infinity);
            let mut stop = _mm256_or_pd(_mm256_andnot_pd(uncapped, all), spent);
            stop = _mm256_or_pd(stop, _mm256_andnot_pd(finite, all));
            if WATCH {
                let mut burden = _mm256_mul_pd(count[0], monitor[0]);
                for s in 1..N {
                    burden = _mm256_add_pd(burden, _mm256_mul_pd(count[s], monitor[s]));
                }
                let quiet = _mm256_and_pd(
                    _mm256_cmp_pd::<_CMP_LT_OQ>(low[h], burden),
                    _mm256_cmp_pd::<_CMP_LT_OQ>(burden, high[h]),
                );
                stop = _mm256_or_pd(stop, _mm256_andnot_pd(quiet, all));
            }
            check[h] = stop;

            // 5. The next waiting time, in the lanes that go on with a positive `a0`.
            let draws = _mm256_andnot_pd(stop, _mm256_cmp_pd::<_CMP_GT_OQ>(*a0, zero));
            let (bits, next) = xoshiro(*rng);
            for i in 0..4 {
                rng[i] = blend_u(rng[i], next[i], draws);
            }
            layer[h] = _mm256_and_si256(bits, byte);
            let unit = _mm256_or_si256(_mm256_srli_epi64::<12>(bits), exponent_one);
            let u = _mm256_sub_pd(_mm256_castsi256_pd(unit), zig_sub);
            x[h] = _mm256_mul_pd(u, gather(&ZIG_EXP_X, layer[h]));
            let inside = _mm256_cmp_pd::<_CMP_LT_OQ>(x[h], gather(&ZIG_EXP_X[1..], layer[h]));
            miss[h] = _mm256_andnot_pd(inside, draws);
            let waiting = _mm256_add_pd(now[h], _mm256_div_pd(x[h], *a0));
            t_next[h] = _mm256_blendv_pd(infinity, waiting, draws);
            passed[h] = _mm256_andnot_pd(
                _mm256_or_pd(stop, miss[h]),
                _mm256_cmp_pd::<_CMP_GE_OQ>(t_next[h], limit[h]),
            );
        }
        let attention = |h: usize| _mm256_or_pd(_mm256_or_pd(check[h], miss[h]), passed[h]);
        if _mm256_movemask_pd(_mm256_or_pd(attention(0), attention(1))) != 0 {
            break;
        }
    }

    let sf = |a: &mut [f64; W], h: usize, v| {
        store_f((&mut a[H * h..H * h + H]).try_into().unwrap(), v);
    };
    let su = |a: &mut [u64; W], h: usize, v| {
        store_u((&mut a[H * h..H * h + H]).try_into().unwrap(), v);
    };
    for h in 0..2 {
        for (stored, value) in lanes.count.iter_mut().zip(count[h]) {
            sf(stored, h, value);
        }
        su(&mut lanes.total, h, total[h]);
        sf(&mut lanes.now, h, now[h]);
        sf(&mut lanes.t_next, h, t_next[h]);
        su(&mut lanes.left, h, left[h]);
        sf(&mut lanes.first_mutant, h, first_mutant[h]);
        for (stored, value) in lanes.rng.iter_mut().zip(rng[h]) {
            su(stored, h, value);
        }
        su(&mut lanes.miss_layer, h, layer[h]);
        sf(&mut lanes.miss_x, h, x[h]);
    }
    let bits = |mask: [__m256d; 2]| {
        (_mm256_movemask_pd(mask[0]) | _mm256_movemask_pd(mask[1]) << H) as u32
    };
    Exits {
        check: bits(check),
        miss: bits(miss),
        passed: bits(passed),
    }
}

/// `a0`: the weights summed in state order, as `weight.iter().sum()`.
#[target_feature(enable = "avx2")]
fn sum<const N: usize>(weight: &[__m256d; N]) -> __m256d {
    let mut a0 = weight[0];
    for w in &weight[1..] {
        a0 = _mm256_add_pd(a0, *w);
    }
    a0
}
