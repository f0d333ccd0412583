//! The vector loop on AVX-512 (F and DQ): groups of 8 lanes of doubles and 64-bit integers (one
//! vector per group and quantity), one mask bit per lane. Each iteration fires one event in every
//! lane, exactly as the hot loop's inner loop (`burst`) fires one in its replicate; see the parent
//! module for what happens around it.
//!
//! Per lane and iteration, as the scalar hot loop:
//! 1. a Xoshiro256++ draw, as a uniform `u` in [0, 1) (top 53 bits, times 2^-53), the target
//!    `u * a0`;
//! 2. the state: the first whose weight exceeds what is left of the target after the weights of
//!    the states before it (rounding fallback: the last state with positive weight); then its
//!    picks in scan order, compared with `rate * count`, the last taking the rest;
//! 3. the counts move by one cell (exact in floats), the weights are `count * state_total`, `a0`
//!    their sum in state order;
//! 4. checks: population 0 or at the cap, budget spent, `a0` not finite, and under an adaptive
//!    rule the monitored burden out of the lane's quiet band: the lane leaves;
//! 5. otherwise the next waiting time: a second draw, the ziggurat's first try (table lookups by
//!    gathers), `now + x / a0`; after a miss, the rest of the draw out of line
//!    (`finish_miss`); a candidate at or after the lane's limit, and the lane leaves;
//! 6. a candidate after the lane's next record times: the counts are written there (they hold
//!    from this event to the candidate), and the lane stays.
//!
//! Lanes that leave keep the generator state of their own draws only (a lane that stopped at 4
//! does not draw a waiting time: its state is blended back).

use std::arch::x86_64::{
    __m512d, __m512i, __mmask8, _CMP_GE_OQ, _CMP_GT_OQ, _CMP_LT_OQ, _CMP_UNORD_Q, _MM_CMPINT_NLT,
    _mm_cvtsi128_si64, _mm512_add_epi64, _mm512_add_pd, _mm512_and_si512, _mm512_castpd_si512,
    _mm512_castsi512_pd, _mm512_castsi512_si128, _mm512_cmp_epu64_mask, _mm512_cmp_pd_mask,
    _mm512_cmpeq_epi64_mask, _mm512_cvtepu64_pd, _mm512_cvttpd_epi64, _mm512_div_pd,
    _mm512_i64gather_pd, _mm512_loadu_pd, _mm512_loadu_si512, _mm512_mask_blend_epi64,
    _mm512_mask_blend_pd, _mm512_mul_pd, _mm512_or_si512, _mm512_permutexvar_epi64,
    _mm512_rol_epi64, _mm512_set1_epi64, _mm512_set1_pd, _mm512_setzero_pd, _mm512_setzero_si512,
    _mm512_slli_epi64, _mm512_srai_epi64, _mm512_srli_epi64, _mm512_storeu_pd, _mm512_storeu_si512,
    _mm512_sub_epi64, _mm512_sub_pd, _mm512_test_epi64_mask, _mm512_xor_si512,
};

use super::tracked::{LaneLog, LaneObserver};
use super::{
    Block, Exits, LaneState, LaneStats, MAX_PICKS, MUTATION_BIT, Queue, SCANNED, Shared,
    finish_miss,
};
use crate::controller::Controller;
use crate::error::Result;
use crate::ziggurat_tables::ZIG_EXP_X;

/// Every lane's bit, in a group of 8 (one vector).
const ALL: __mmask8 = 0xff;

/// Run the replicates of `queue` until it is empty, each under a controller from `start`,
/// observed by an `O`: in `G` groups of 8 lanes (one vector each) that advance together, 16
/// lanes if `wide`, else 8. The groups' iterations are independent, so the CPU overlaps one
/// group's dependency chain (counts, weights, `a0`, the next target) with the other's; but
/// when the queue runs dry, the lanes still busy finish on the scalar path, so a set of lanes
/// given few replicates runs narrow. The caller has checked that the CPU has AVX-512 F and DQ
/// ([`super::Lanes::avx512_available`]).
pub(super) fn run_block<'a, C: Controller, O: LaneObserver<'a>>(
    shared: &Shared<'a>,
    queue: &Queue<'a>,
    start: &dyn Fn() -> C,
    wide: bool,
) -> Result<LaneStats> {
    debug_assert!(super::Lanes::avx512_available());
    match (shared.model.n_states(), wide) {
        (1, false) => run_block_of::<1, 1, 8, C, O>(shared, queue, start),
        (2, false) => run_block_of::<2, 1, 8, C, O>(shared, queue, start),
        (3, false) => run_block_of::<3, 1, 8, C, O>(shared, queue, start),
        (4, false) => run_block_of::<4, 1, 8, C, O>(shared, queue, start),
        (1, true) => run_block_of::<1, 2, 16, C, O>(shared, queue, start),
        (2, true) => run_block_of::<2, 2, 16, C, O>(shared, queue, start),
        (3, true) => run_block_of::<3, 2, 16, C, O>(shared, queue, start),
        (4, true) => run_block_of::<4, 2, 16, C, O>(shared, queue, start),
        (n, _) => unreachable!(
            "the lanes take at most {} states, got {n}",
            super::MAX_STATES
        ),
    }
}

/// [`run_block`] for `N` states in `G` groups of 8 lanes, `W = 8 * G` lanes.
fn run_block_of<'a, const N: usize, const G: usize, const W: usize, C, O>(
    shared: &Shared<'a>,
    queue: &Queue<'a>,
    start: &dyn Fn() -> C,
) -> Result<LaneStats>
where
    C: Controller,
    O: LaneObserver<'a>,
{
    const { assert!(W == 8 * G) };
    let mut block = Block::<W, N, C, O>::new(shared, queue, start);
    let max_population = block.max_population();
    if block.fill()? {
        loop {
            // A controller that reacts to events promises a quiet band (else the event loop
            // fires no burst): the vector loop watches it.
            // An observer is shown each lane's events from the log (`super::tracked`).
            // SAFETY: the CPU has AVX-512 F and DQ (checked by the caller).
            let (lanes, times, log) = (&mut block.lanes, &block.times, &mut block.log);
            let exits = unsafe {
                match (C::REACTS_TO_EVENTS, O::OBSERVES) {
                    (true, false) => {
                        vector_loop::<N, G, W, true, false>(lanes, times, max_population, log)
                    }
                    (false, false) => {
                        vector_loop::<N, G, W, false, false>(lanes, times, max_population, log)
                    }
                    (true, true) => {
                        vector_loop::<N, G, W, true, true>(lanes, times, max_population, log)
                    }
                    (false, true) => {
                        vector_loop::<N, G, W, false, true>(lanes, times, max_population, log)
                    }
                }
            };
            if !block.handle(&exits)? {
                break;
            }
        }
    }
    block.finish_tail()
}

#[target_feature(enable = "avx512f,avx512dq")]
fn load_f<const W: usize>(a: &[f64; W], g: usize) -> __m512d {
    assert!(8 * g + 8 <= W);
    // SAFETY: `a` holds 8 doubles from `8 * g` on.
    unsafe { _mm512_loadu_pd(a.as_ptr().add(8 * g)) }
}

#[target_feature(enable = "avx512f,avx512dq")]
fn store_f<const W: usize>(a: &mut [f64; W], g: usize, v: __m512d) {
    assert!(8 * g + 8 <= W);
    // SAFETY: `a` holds 8 doubles from `8 * g` on.
    unsafe { _mm512_storeu_pd(a.as_mut_ptr().add(8 * g), v) }
}

#[target_feature(enable = "avx512f,avx512dq")]
fn load_u<const W: usize>(a: &[u64; W], g: usize) -> __m512i {
    assert!(8 * g + 8 <= W);
    // SAFETY: `a` holds 8 words from `8 * g` on.
    unsafe { _mm512_loadu_si512(a.as_ptr().add(8 * g).cast()) }
}

#[target_feature(enable = "avx512f,avx512dq")]
fn store_u<const W: usize>(a: &mut [u64; W], g: usize, v: __m512i) {
    assert!(8 * g + 8 <= W);
    // SAFETY: `a` holds 8 words from `8 * g` on.
    unsafe { _mm512_storeu_si512(a.as_mut_ptr().add(8 * g).cast(), v) }
}

/// Lane `j` of `v`.
#[target_feature(enable = "avx512f,avx512dq")]
fn lane_u(v: __m512i, j: usize) -> u64 {
    let moved = _mm512_permutexvar_epi64(splat_u(j as u64), v);
    _mm_cvtsi128_si64(_mm512_castsi512_si128(moved)) as u64
}

/// Lane `j` of `v`.
#[target_feature(enable = "avx512f,avx512dq")]
fn lane_f(v: __m512d, j: usize) -> f64 {
    f64::from_bits(lane_u(_mm512_castpd_si512(v), j))
}

/// A splat of a 64-bit pattern.
#[target_feature(enable = "avx512f,avx512dq")]
fn splat_u(x: u64) -> __m512i {
    _mm512_set1_epi64(x as i64)
}

/// One Xoshiro256++ step in every lane (rand_xoshiro's `next_u64`): the output and the new state.
#[target_feature(enable = "avx512f,avx512dq")]
fn xoshiro(s: [__m512i; 4]) -> (__m512i, [__m512i; 4]) {
    let [s0, s1, s2, s3] = s;
    let result = _mm512_add_epi64(_mm512_rol_epi64::<23>(_mm512_add_epi64(s0, s3)), s0);
    let t = _mm512_slli_epi64::<17>(s1);
    let s2 = _mm512_xor_si512(s2, s0);
    let s3 = _mm512_xor_si512(s3, s1);
    let s1 = _mm512_xor_si512(s1, s2);
    let s0 = _mm512_xor_si512(s0, s3);
    let s2 = _mm512_xor_si512(s2, t);
    let s3 = _mm512_rol_epi64::<45>(s3);
    (result, [s0, s1, s2, s3])
}

/// Gather `table[index]` per lane.
#[target_feature(enable = "avx512f,avx512dq")]
fn gather(table: &[f64], index: __m512i) -> __m512d {
    // SAFETY: every index is a byte (below 256) and the tables hold 257 values; `table` starts
    // at most one value into `ZIG_EXP_X`.
    debug_assert!(table.len() >= 256);
    unsafe { _mm512_i64gather_pd::<8>(index, table.as_ptr()) }
}

/// Fire events in every lane until at least one lane must leave; store the lanes' state and say
/// which left and why. With `WATCH`, a lane whose monitored burden is not strictly inside its
/// quiet band after an event leaves too (as the scalar hot loop's `BurdenBand` watch returns).
/// With `LOG`, each iteration's event times and pick codes go to the next row of `log` (the
/// caller leaves a row free), and the loop returns when the log is full.
/// A lane whose candidate passes its next record time (`record_time`, from `times`: the record
/// grid with infinity after it) writes its counts there and stays.
///
/// # Safety
///
/// The CPU must have AVX-512 F and DQ. In each lane with a finite `record_time`, `rows` points
/// at the counts of a recorder of `N` states on the grid `times` (without its infinity) that
/// nothing else uses until the lane leaves, and `record_next` is the index of `record_time`.
#[target_feature(enable = "avx512f,avx512dq")]
#[allow(clippy::too_many_lines, clippy::needless_range_loop)]
unsafe fn vector_loop<
    const N: usize,
    const G: usize,
    const W: usize,
    const WATCH: bool,
    const LOG: bool,
>(
    lanes: &mut LaneState<W, N>,
    times: &[f64],
    max_population: u64,
    log: &mut LaneLog<W>,
) -> Exits {
    const { assert!(W == 8 * G) };
    let zero = _mm512_setzero_pd();
    let one = _mm512_set1_pd(1.0);
    let infinity = _mm512_set1_pd(f64::INFINITY);
    let scale53 = _mm512_set1_pd(1.0 / (1u64 << 53) as f64);
    let zig_sub = _mm512_set1_pd(1.0 - f64::EPSILON / 2.0);
    let exponent_one = splat_u(0x3ff0_0000_0000_0000);
    let byte = splat_u(0xff);
    let one_u = splat_u(1);
    let cap_minus_one = splat_u(max_population - 1);
    let monitor: [__m512d; N] = std::array::from_fn(|s| _mm512_set1_pd(lanes.monitor[s]));

    // Per group: what changes from event to event, in registers (the per-lane tables, rates
    // and pick codes, are read from `lanes` as they are needed).
    let mut count: [[__m512d; N]; G] =
        std::array::from_fn(|g| std::array::from_fn(|s| load_f(&lanes.count[s], g)));
    let mut weight: [[__m512d; N]; G] = std::array::from_fn(|g| {
        std::array::from_fn(|s| _mm512_mul_pd(count[g][s], load_f(&lanes.state_total[s], g)))
    });
    let mut a0: [__m512d; G] = std::array::from_fn(|g| sum(&weight[g]));
    let mut total: [__m512i; G] = std::array::from_fn(|g| load_u(&lanes.total, g));
    let mut now: [__m512d; G] = [zero; G];
    let mut t_next: [__m512d; G] = std::array::from_fn(|g| load_f(&lanes.t_next, g));
    let mut record_time: [__m512d; G] = std::array::from_fn(|g| load_f(&lanes.record_time, g));
    let mut left: [__m512i; G] = std::array::from_fn(|g| load_u(&lanes.left, g));
    let mut first_mutant: [__m512d; G] = std::array::from_fn(|g| load_f(&lanes.first_mutant, g));
    let mut rng: [[__m512i; 4]; G] =
        std::array::from_fn(|g| std::array::from_fn(|i| load_u(&lanes.rng[i], g)));
    let mut rows = log.rows;

    let mut iterations = 0;
    let mut records = 0;
    let mut misses = 0;
    let (check, passed) = loop {
        iterations += 1;
        let (mut check_all, mut passed_all) = (0u32, 0u32);
        for g in 0..G {
            now[g] = t_next[g];
            // 1. The selection target.
            let (bits, next) = xoshiro(rng[g]);
            rng[g] = next;
            let u = _mm512_mul_pd(_mm512_cvtepu64_pd(_mm512_srli_epi64::<11>(bits)), scale53);
            let mut target = _mm512_mul_pd(u, a0[g]);

            // 2. The state (one mask per state, at most one bit per lane), and what is left of
            // the target within it.
            let weight_g = &mut weight[g];
            let count_g = &mut count[g];
            let mut before: [__m512d; N] = [zero; N];
            let mut chosen: [__mmask8; N] = [0; N];
            let mut found: __mmask8 = 0;
            for s in 0..N {
                before[s] = target;
                let below = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(target, weight_g[s]);
                chosen[s] = below & !found;
                found |= below;
                target = _mm512_sub_pd(target, weight_g[s]);
            }
            if found != ALL {
                // Rounding left the target at or above `a0`: the last state with positive
                // weight (`last_positive`), with the whole remainder.
                let mut later: __mmask8 = found;
                for s in (0..N).rev() {
                    let positive = _mm512_cmp_pd_mask::<_CMP_GT_OQ>(weight_g[s], zero);
                    chosen[s] |= positive & !later;
                    later |= positive;
                }
                chosen[0] |= !later;
            }
            let mut rest = target;
            let mut n = zero;
            for s in 0..N {
                rest = _mm512_mask_blend_pd(chosen[s] & found, rest, before[s]);
                n = _mm512_mask_blend_pd(chosen[s], n, count_g[s]);
            }
            let mut pick_taken: __mmask8 = 0;
            let mut code = _mm512_setzero_si512();
            for k in 0..MAX_PICKS {
                let mut code_k = load_u(&lanes.code[0][k], g);
                for s in 1..N {
                    code_k =
                        _mm512_mask_blend_epi64(chosen[s], code_k, load_u(&lanes.code[s][k], g));
                }
                let this = if k < SCANNED {
                    let mut r = load_f(&lanes.rate[0][k], g);
                    for s in 1..N {
                        r = _mm512_mask_blend_pd(chosen[s], r, load_f(&lanes.rate[s][k], g));
                    }
                    let w = _mm512_mul_pd(r, n);
                    let below = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(rest, w);
                    rest = _mm512_sub_pd(rest, w);
                    below & !pick_taken
                } else {
                    !pick_taken
                };
                code = _mm512_mask_blend_epi64(this, code, code_k);
                pick_taken |= this;
            }

            // 3. The event (and its record in the log).
            if LOG {
                let row = &mut log.row[rows];
                store_f(&mut row.time, g, now[g]);
                store_u(&mut row.code, g, code);
            }
            let inc = _mm512_and_si512(code, byte);
            let dec = _mm512_and_si512(_mm512_srli_epi64::<8>(code), byte);
            for s in 0..N {
                let state = splat_u(s as u64);
                let up = _mm512_mask_blend_pd(_mm512_cmpeq_epi64_mask(inc, state), zero, one);
                let down = _mm512_mask_blend_pd(_mm512_cmpeq_epi64_mask(dec, state), zero, one);
                count_g[s] = _mm512_add_pd(count_g[s], _mm512_sub_pd(up, down));
                weight_g[s] = _mm512_mul_pd(count_g[s], load_f(&lanes.state_total[s], g));
            }
            total[g] = _mm512_add_epi64(total[g], _mm512_srai_epi64::<32>(code));
            left[g] = _mm512_sub_epi64(left[g], one_u);
            let mutation = _mm512_test_epi64_mask(code, splat_u(MUTATION_BIT));
            let unset = _mm512_cmp_pd_mask::<_CMP_UNORD_Q>(first_mutant[g], first_mutant[g]);
            first_mutant[g] = _mm512_mask_blend_pd(mutation & unset, first_mutant[g], now[g]);
            a0[g] = sum(weight_g);

            // 4. Checks: `total - 1 >= cap - 1` (wrapping) at 0 and at the cap.
            let capped = _mm512_cmp_epu64_mask::<_MM_CMPINT_NLT>(
                _mm512_sub_epi64(total[g], one_u),
                cap_minus_one,
            );
            let spent = _mm512_cmpeq_epi64_mask(left[g], _mm512_setzero_si512());
            let finite = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(a0[g], infinity);
            let mut check = capped | spent | !finite;
            if WATCH {
                // The burden as `weighted_sum` adds it, in state order; quiet strictly inside.
                let mut burden = _mm512_mul_pd(count_g[0], monitor[0]);
                for s in 1..N {
                    burden = _mm512_add_pd(burden, _mm512_mul_pd(count_g[s], monitor[s]));
                }
                let above_low = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(load_f(&lanes.low, g), burden);
                let below_high = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(burden, load_f(&lanes.high, g));
                check |= !(above_low & below_high);
            }

            // 5. The next waiting time, in the lanes that go on with a positive `a0`.
            let draws = !check & _mm512_cmp_pd_mask::<_CMP_GT_OQ>(a0[g], zero);
            let (bits, next) = xoshiro(rng[g]);
            for i in 0..4 {
                rng[g][i] = _mm512_mask_blend_epi64(draws, rng[g][i], next[i]);
            }
            let layer = _mm512_and_si512(bits, byte);
            let unit = _mm512_or_si512(_mm512_srli_epi64::<12>(bits), exponent_one);
            let u = _mm512_sub_pd(_mm512_castsi512_pd(unit), zig_sub);
            let x = _mm512_mul_pd(u, gather(&ZIG_EXP_X, layer));
            let inside = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(x, gather(&ZIG_EXP_X[1..], layer));
            let miss = draws & !inside;
            let waiting = _mm512_add_pd(now[g], _mm512_div_pd(x, a0[g]));
            t_next[g] = _mm512_mask_blend_pd(draws, infinity, waiting);
            if miss != 0 {
                // The rest of the ziggurat, out of line, on each missed lane's generator. The
                // lane's values move between registers and the scalar side by permutes and
                // blends, not through memory: a vector load of words just stored one by one
                // would wait for the stores to retire.
                misses += u64::from(miss.count_ones());
                let mut todo = miss;
                while todo != 0 {
                    let j = todo.trailing_zeros() as usize;
                    todo &= todo - 1;
                    let (candidate, words) = finish_miss(
                        lane_u(layer, j) as u8,
                        lane_f(x, j),
                        lane_f(now[g], j),
                        lane_f(a0[g], j),
                        std::array::from_fn(|i| lane_u(rng[g][i], j)),
                    );
                    let lane: __mmask8 = 1 << j;
                    for (value, word) in rng[g].iter_mut().zip(words) {
                        *value = _mm512_mask_blend_epi64(lane, *value, splat_u(word));
                    }
                    t_next[g] = _mm512_mask_blend_pd(lane, t_next[g], _mm512_set1_pd(candidate));
                }
            }
            let passed =
                _mm512_cmp_pd_mask::<_CMP_GE_OQ>(t_next[g], load_f(&lanes.limit, g)) & !check;
            // Lanes that stay, whose candidate passes a record time: the counts now hold until
            // the candidate, as the hot loop's `record_before` writes them.
            let record =
                _mm512_cmp_pd_mask::<_CMP_GT_OQ>(t_next[g], record_time[g]) & !(check | passed);
            if record != 0 {
                let mut row = [[0i64; 8]; N];
                for (out, c) in row.iter_mut().zip(*count_g) {
                    // Exact: counts are whole numbers below 2^52.
                    let c = _mm512_cvttpd_epi64(c);
                    // SAFETY: `out` holds 8 words.
                    unsafe { _mm512_storeu_si512(out.as_mut_ptr().cast(), c) };
                }
                let mut candidate = [0.0; 8];
                // SAFETY: `candidate` holds 8 doubles.
                unsafe { _mm512_storeu_pd(candidate.as_mut_ptr(), t_next[g]) };
                let mut todo = record;
                while todo != 0 {
                    let jj = todo.trailing_zeros() as usize;
                    todo &= todo - 1;
                    let j = 8 * g + jj;
                    let mut next = lanes.record_next[j];
                    loop {
                        // SAFETY: `times[next]` is finite (the candidate passed it), so `next`
                        // is a record time of the lane's recorder, and its `N` counts from
                        // `next * N` on lie in the rows `rows` points at.
                        unsafe {
                            let at = lanes.rows[j].add(next * N);
                            for (s, counts) in row.iter().enumerate() {
                                at.add(s).write(counts[jj]);
                            }
                        }
                        records += 1;
                        next += 1;
                        if candidate[jj] <= times[next] {
                            break;
                        }
                    }
                    lanes.record_next[j] = next;
                    lanes.record_time[j] = times[next];
                    // Into the register too: reloading the whole vector after these scalar
                    // stores would wait for them to retire.
                    let lane: __mmask8 = 1 << jj;
                    record_time[g] =
                        _mm512_mask_blend_pd(lane, record_time[g], _mm512_set1_pd(times[next]));
                }
            }
            check_all |= u32::from(check) << (8 * g);
            passed_all |= u32::from(passed) << (8 * g);
        }
        if LOG {
            rows += 1;
        }
        if check_all | passed_all != 0 || (LOG && rows == log.row.len()) {
            break (check_all, passed_all);
        }
    };

    for g in 0..G {
        for (stored, value) in lanes.count.iter_mut().zip(count[g]) {
            store_f(stored, g, value);
        }
        store_u(&mut lanes.total, g, total[g]);
        store_f(&mut lanes.now, g, now[g]);
        store_f(&mut lanes.t_next, g, t_next[g]);
        store_u(&mut lanes.left, g, left[g]);
        store_f(&mut lanes.first_mutant, g, first_mutant[g]);
        for (stored, value) in lanes.rng.iter_mut().zip(rng[g]) {
            store_u(stored, g, value);
        }
    }
    if LOG {
        log.rows = rows;
    }
    Exits {
        check,
        passed,
        full: LOG && rows == log.row.len(),
        iterations,
        records,
        misses,
    }
}

/// `a0`: the weights summed in state order, as `weight.iter().sum()`.
#[target_feature(enable = "avx512f,avx512dq")]
fn sum<const N: usize>(weight: &[__m512d; N]) -> __m512d {
    let mut a0 = weight[0];
    for w in &weight[1..] {
        a0 = _mm512_add_pd(a0, *w);
    }
    a0
}
