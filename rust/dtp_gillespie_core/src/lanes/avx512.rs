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
//!    gathers; both done at the top of the iteration in every lane, as they depend on the
//!    generator only, and undone in a lane that left at 4), `now + x / a0`; after a miss, the rest of the draw (`finish_misses`: the wedge
//!    test by bounds, out of line where they cannot decide); a candidate at or after the lane's
//!    limit, and the lane leaves;
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
    _mm512_i64gather_pd, _mm512_loadu_pd, _mm512_loadu_si512, _mm512_mask_add_pd,
    _mm512_mask_blend_epi64, _mm512_mask_blend_pd, _mm512_mask_sub_pd, _mm512_max_pd,
    _mm512_mul_pd, _mm512_or_si512, _mm512_permutexvar_epi64, _mm512_rol_epi64, _mm512_set1_epi64,
    _mm512_set1_pd, _mm512_setzero_pd, _mm512_setzero_si512, _mm512_slli_epi64, _mm512_srai_epi64,
    _mm512_srli_epi64, _mm512_storeu_pd, _mm512_storeu_si512, _mm512_sub_epi64, _mm512_sub_pd,
    _mm512_test_epi64_mask, _mm512_xor_si512,
};

use super::tracked::{LaneLog, LaneObserver};
use super::{
    Block, Exits, LaneState, LaneStats, MUTATION_BIT, Queue, SCANNED, Shared, finish_miss,
    finish_wedge,
};
use crate::controller::Controller;
use crate::error::Result;
use crate::ziggurat_tables::{ZIG_EXP_F, ZIG_EXP_X};

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

/// One Xoshiro256++ step in the lanes of `lanes`, whose generators move on (the others keep
/// theirs): the output (in every lane).
#[target_feature(enable = "avx512f,avx512dq")]
fn draw(rng: &mut [__m512i; 4], lanes: __mmask8) -> __m512i {
    let (bits, next) = xoshiro(*rng);
    move_on(rng, lanes, next);
    bits
}

/// The generators of `lanes` take the state `moved`; the others keep theirs.
#[target_feature(enable = "avx512f,avx512dq")]
fn move_on(rng: &mut [__m512i; 4], lanes: __mmask8, moved: [__m512i; 4]) {
    for (state, moved) in rng.iter_mut().zip(moved) {
        *state = _mm512_mask_blend_epi64(lanes, *state, moved);
    }
}

/// The exponential ziggurat's first try from a draw's `bits` (`rng::exp1_first_try`): the layer
/// (the low byte), the point `x`, and the lanes where it fell inside its layer's rectangle.
#[target_feature(enable = "avx512f,avx512dq")]
fn first_try(bits: __m512i) -> (__m512i, __m512d, __mmask8) {
    let layer = _mm512_and_si512(bits, splat_u(0xff));
    let unit = _mm512_or_si512(
        _mm512_srli_epi64::<12>(bits),
        splat_u(0x3ff0_0000_0000_0000),
    );
    let u = _mm512_sub_pd(
        _mm512_castsi512_pd(unit),
        _mm512_set1_pd(1.0 - f64::EPSILON / 2.0),
    );
    let x = _mm512_mul_pd(u, gather(&ZIG_EXP_X, layer));
    let inside = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(x, gather(&ZIG_EXP_X[1..], layer));
    (layer, x, inside)
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
    // The loop writes out groups 0 and 1 (`group!`): a third would never advance.
    const { assert!(W == 8 * G && (G == 1 || G == 2)) };
    let zero = _mm512_setzero_pd();
    let one = _mm512_set1_pd(1.0);
    let infinity = _mm512_set1_pd(f64::INFINITY);
    let scale53 = _mm512_set1_pd(1.0 / (1u64 << 53) as f64);
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
    let mut misses_out_of_line = 0;
    let (check, passed) = loop {
        iterations += 1;
        let (mut check_all, mut passed_all) = (0u32, 0u32);
        // One group's event, written out per group (a loop over the groups kept their vectors
        // in memory).
        macro_rules! group {
            ($g:expr) => {{
                let g: usize = $g;
                now[g] = t_next[g];
                // 1. The selection target.
                let (bits, after_target) = xoshiro(rng[g]);
                // The waiting time's draw and first try, before the event: they depend on the
                // generator only, so the gathers' latency overlaps the event's work. Lanes that
                // leave at 4 draw no waiting time: their generator is put back after the checks.
                let (wait_bits, after_wait) = xoshiro(after_target);
                let (layer, x, inside) = first_try(wait_bits);
                let u = _mm512_mul_pd(_mm512_cvtepu64_pd(_mm512_srli_epi64::<11>(bits)), scale53);
                let target = _mm512_mul_pd(u, a0[g]);

                // 2. The state and its pick.
                let weight_g = &mut weight[g];
                let count_g = &mut count[g];
                let code = select(target, weight_g, count_g, lanes, g);

                // 3. The event (and its record in the log).
                if LOG {
                    let row = &mut log.row[rows];
                    store_f(&mut row.time, g, now[g]);
                    store_u(&mut row.code, g, code);
                }
                let inc = _mm512_and_si512(code, byte);
                let dec = _mm512_and_si512(_mm512_srli_epi64::<8>(code), byte);
                for s in 0..N {
                    // Exact either way: counts are whole numbers below 2^52.
                    let state = splat_u(s as u64);
                    let up = _mm512_cmpeq_epi64_mask(inc, state);
                    let down = _mm512_cmpeq_epi64_mask(dec, state);
                    count_g[s] = _mm512_mask_add_pd(count_g[s], up, count_g[s], one);
                    count_g[s] = _mm512_mask_sub_pd(count_g[s], down, count_g[s], one);
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
                    let below_high =
                        _mm512_cmp_pd_mask::<_CMP_LT_OQ>(burden, load_f(&lanes.high, g));
                    check |= !(above_low & below_high);
                }

                // 5. The next waiting time, in the lanes that go on with a positive `a0`.
                let draws = !check & _mm512_cmp_pd_mask::<_CMP_GT_OQ>(a0[g], zero);
                rng[g] = after_target;
                move_on(&mut rng[g], draws, after_wait);
                let miss = draws & !inside;
                let waiting = _mm512_add_pd(now[g], _mm512_div_pd(x, a0[g]));
                t_next[g] = _mm512_mask_blend_pd(draws, infinity, waiting);
                if miss != 0 {
                    misses += u64::from(miss.count_ones());
                    misses_out_of_line +=
                        finish_misses(miss, layer, x, now[g], a0[g], &mut rng[g], &mut t_next[g]);
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
            }};
        }
        group!(0);
        if G > 1 {
            group!(1);
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
        misses_out_of_line,
    }
}

/// The event each lane fires for its selection `target` (uniform in `[0, a0)`), as the scalar
/// hot loop selects it (`select_state_count`, then `scan_picks`): the first state whose weight
/// exceeds what is left of the target after the states before it (rounding fallback: the last
/// state with positive weight, with the whole remainder), then among its picks the first whose
/// `rate * count` exceeds what is left, else the last. Returns the pick's code. States and picks
/// are taken by blends from the last down, so the first one below wins (the masks need not
/// exclude each other).
#[target_feature(enable = "avx512f,avx512dq")]
#[allow(clippy::needless_range_loop)]
fn select<const N: usize, const W: usize>(
    mut target: __m512d,
    weight: &[__m512d; N],
    count: &[__m512d; N],
    lanes: &LaneState<W, N>,
    g: usize,
) -> __m512i {
    let zero = _mm512_setzero_pd();
    let mut before: [__m512d; N] = [zero; N];
    let mut below: [__mmask8; N] = [0; N];
    for s in 0..N {
        before[s] = target;
        below[s] = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(target, weight[s]);
        target = _mm512_sub_pd(target, weight[s]);
    }
    let found = below.iter().fold(0, |found, b| found | b);
    if found != ALL {
        // Rounding left the target at or above `a0`: the last state with positive weight, as
        // exclusive masks.
        let mut taken: __mmask8 = 0;
        for b in &mut below {
            let first = *b & !taken;
            taken |= *b;
            *b = first;
        }
        let mut later: __mmask8 = found;
        for s in (0..N).rev() {
            let positive = _mm512_cmp_pd_mask::<_CMP_GT_OQ>(weight[s], zero);
            below[s] |= positive & !later;
            later |= positive;
        }
        below[0] |= !later;
    }
    let chosen = below;
    let mut rest = before[N - 1];
    let mut n = count[N - 1];
    for s in (0..N - 1).rev() {
        rest = _mm512_mask_blend_pd(chosen[s], rest, before[s]);
        n = _mm512_mask_blend_pd(chosen[s], n, count[s]);
    }
    if found != ALL {
        rest = _mm512_mask_blend_pd(found, target, rest);
    }
    let code_of = |k: usize| {
        let mut v = load_u(&lanes.code[N - 1][k], g);
        for s in (0..N - 1).rev() {
            v = _mm512_mask_blend_epi64(chosen[s], v, load_u(&lanes.code[s][k], g));
        }
        v
    };
    let mut pick_below: [__mmask8; SCANNED] = [0; SCANNED];
    for k in 0..SCANNED {
        let mut r = load_f(&lanes.rate[N - 1][k], g);
        for s in (0..N - 1).rev() {
            r = _mm512_mask_blend_pd(chosen[s], r, load_f(&lanes.rate[s][k], g));
        }
        let w = _mm512_mul_pd(r, n);
        pick_below[k] = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(rest, w);
        rest = _mm512_sub_pd(rest, w);
    }
    let mut code = code_of(SCANNED);
    for k in (0..SCANNED).rev() {
        code = _mm512_mask_blend_epi64(pick_below[k], code, code_of(k));
    }
    code
}

/// Rounds of the wedge test in the vector loop before what is left of a draw goes out of line.
const WEDGE_ROUNDS: usize = 4;

/// Relative margin of the bounds on the density in the wedge test: far above their rounding
/// errors and `exp`'s (a few units in the last place), far below the gap they leave.
const WEDGE_MARGIN: f64 = 1e-12;

/// The rest of the ziggurat in the lanes of `miss`, whose first try missed (the draw's low byte
/// `layer`, the point `x`), as `rng::exp1_after_miss` finishes it, each on its own generator:
/// their candidates' times, `now + x / a0`, into `t_next` (which holds that of the first try
/// on entry). In the vector loop, the wedge test's
/// uniform and the comparison with the density `exp(-x)`, decided by bounds that hold it between
/// two tangents and a chord (it is convex), and a rejected try's fresh draw; out of line, the
/// base layer's tail (`ln`), a height too close to the density for the bounds, or a lane still
/// drawing after [`WEDGE_ROUNDS`] rounds. Every lane draws what the scalar sampler draws, in its
/// order, so the outcome is the same bit for bit. Returns the number of lanes whose draw went
/// out of line.
#[target_feature(enable = "avx512f,avx512dq")]
fn finish_misses(
    miss: __mmask8,
    layer: __m512i,
    x: __m512d,
    now: __m512d,
    a0: __m512d,
    rng: &mut [__m512i; 4],
    t_next: &mut __m512d,
) -> u64 {
    let scale53 = _mm512_set1_pd(1.0 / (1u64 << 53) as f64);
    let one = _mm512_set1_pd(1.0);
    let below_margin = _mm512_set1_pd(1.0 - WEDGE_MARGIN);
    let above_margin = _mm512_set1_pd(1.0 + WEDGE_MARGIN);
    // Each pending lane holds a first try that missed: its layer and point.
    let (mut pending, mut layer, mut x) = (miss, layer, x);
    // And its candidate, `now + x / a0`.
    let mut waiting = *t_next;
    let mut out_of_line: __mmask8 = 0;
    // Lanes whose wedge test went out of line (a lane is counted once: it leaves the loop).
    let mut undecided_all: __mmask8 = 0;
    for _ in 0..WEDGE_ROUNDS {
        let base = _mm512_cmpeq_epi64_mask(layer, _mm512_setzero_si512());
        out_of_line |= pending & base;
        let wedge = pending & !base;
        if wedge == 0 {
            pending = 0;
            break;
        }
        // The wedge's height, from a uniform drawn as `uniform` draws it.
        let bits = draw(rng, wedge);
        let u = _mm512_mul_pd(_mm512_cvtepu64_pd(_mm512_srli_epi64::<11>(bits)), scale53);
        let f_low = gather(&ZIG_EXP_F, layer);
        let f_high = gather(&ZIG_EXP_F[1..], layer);
        let y = _mm512_add_pd(f_high, _mm512_mul_pd(_mm512_sub_pd(f_low, f_high), u));
        // exp(-x) for x in [x_high, x_low): above both tangents at the ends, below the chord.
        let x_low = gather(&ZIG_EXP_X, layer);
        let x_high = gather(&ZIG_EXP_X[1..], layer);
        let from_high = _mm512_sub_pd(x, x_high);
        let tangent_high = _mm512_mul_pd(f_high, _mm512_sub_pd(one, from_high));
        let tangent_low = _mm512_mul_pd(f_low, _mm512_add_pd(one, _mm512_sub_pd(x_low, x)));
        let lower = _mm512_mul_pd(_mm512_max_pd(tangent_high, tangent_low), below_margin);
        // Above the chord, both sides times the layer's width (positive): no division.
        let width = _mm512_sub_pd(x_low, x_high);
        let chord_times_width = _mm512_add_pd(
            _mm512_mul_pd(f_high, width),
            _mm512_mul_pd(_mm512_sub_pd(f_low, f_high), from_high),
        );
        let upper = _mm512_mul_pd(chord_times_width, above_margin);
        let accepted = wedge & _mm512_cmp_pd_mask::<_CMP_LT_OQ>(y, lower);
        let rejected = wedge & _mm512_cmp_pd_mask::<_CMP_GT_OQ>(_mm512_mul_pd(y, width), upper);
        let undecided = wedge & !(accepted | rejected);
        undecided_all |= undecided;
        *t_next = _mm512_mask_blend_pd(accepted, *t_next, waiting);
        for_lanes(undecided, |j| {
            let words = std::array::from_fn(|i| lane_u(rng[i], j));
            let done = finish_wedge(
                lane_f(x, j),
                lane_f(y, j),
                lane_f(now, j),
                lane_f(a0, j),
                words,
            );
            put_lane(rng, t_next, j, done);
        });
        if rejected == 0 {
            pending = 0;
            break;
        }
        // A rejected try starts afresh: a new first try.
        let (fresh_layer, fresh_x, inside) = first_try(draw(rng, rejected));
        let fresh_waiting = _mm512_add_pd(now, _mm512_div_pd(fresh_x, a0));
        *t_next = _mm512_mask_blend_pd(rejected & inside, *t_next, fresh_waiting);
        layer = _mm512_mask_blend_epi64(rejected, layer, fresh_layer);
        x = _mm512_mask_blend_pd(rejected, x, fresh_x);
        waiting = _mm512_mask_blend_pd(rejected, waiting, fresh_waiting);
        pending = rejected & !inside;
    }
    for_lanes(out_of_line | pending, |j| {
        let words = std::array::from_fn(|i| lane_u(rng[i], j));
        let done = finish_miss(
            lane_u(layer, j) as u8,
            lane_f(x, j),
            lane_f(now, j),
            lane_f(a0, j),
            words,
        );
        put_lane(rng, t_next, j, done);
    });
    u64::from((out_of_line | pending | undecided_all).count_ones())
}

/// Call `f` with each lane of `mask`, in order.
fn for_lanes(mask: __mmask8, mut f: impl FnMut(usize)) {
    let mut todo = mask;
    while todo != 0 {
        f(todo.trailing_zeros() as usize);
        todo &= todo - 1;
    }
}

/// Lane `j`'s candidate and generator words, drawn on the scalar side, back into the registers
/// by blends: a vector load of words just stored one by one would wait for the stores to retire.
#[target_feature(enable = "avx512f,avx512dq")]
fn put_lane(
    rng: &mut [__m512i; 4],
    t_next: &mut __m512d,
    j: usize,
    (candidate, words): (f64, [u64; 4]),
) {
    let lane: __mmask8 = 1 << j;
    for (value, word) in rng.iter_mut().zip(words) {
        *value = _mm512_mask_blend_epi64(lane, *value, splat_u(word));
    }
    *t_next = _mm512_mask_blend_pd(lane, *t_next, _mm512_set1_pd(candidate));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{exp1, replicate_rng};

    /// Whether the CPU lacks AVX-512 (F and DQ), in which case the test of `what` is skipped and
    /// says so (it does not pass silently).
    fn skipped(what: &str) -> bool {
        let lacking = !super::super::Lanes::avx512_available();
        if lacking {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr().lock(),
                "SKIPPED: this CPU has no AVX-512 (F and DQ); not tested: {what}"
            );
        }
        lacking
    }

    /// Waiting times drawn in 8 lanes, the first try in vectors and a miss finished by
    /// `finish_misses`, against `rng::exp1` on each lane's generator: the same values and the
    /// same generator states, over enough draws for thousands of misses, tails and rejections.
    #[test]
    fn misses_finished_from_the_loop_draw_what_the_scalar_sampler_draws() {
        if skipped("the lanes' misses") {
            return;
        }
        // SAFETY: the CPU has AVX-512 F and DQ.
        let (misses, out_of_line) = unsafe {
            draw_and_compare(if cfg!(debug_assertions) {
                20_000
            } else {
                200_000
            })
        };
        assert!(misses > 2_000, "{misses} misses");
        // Most misses are finished in the vector loop, not out of line.
        assert!(
            4 * out_of_line < misses,
            "{out_of_line} of {misses} out of line"
        );
    }

    /// Events selected in 8 lanes by `select` against the scalar selection (`ssa::select_state`,
    /// then `ssa::scan_picks`) on the same weights, counts and picks, for 1 to 4 states: random
    /// models (pick lists of 1 to 4, some states empty) and targets, among them the largest a
    /// draw can give, where rounding leaves the target at or above the total in a few percent of
    /// cases (the fallback to the last state with positive weight, which must be exercised).
    #[test]
    fn lanes_select_the_event_the_scalar_selection_selects() {
        if skipped("the lanes' selection") {
            return;
        }
        // SAFETY: the CPU has AVX-512 F and DQ.
        let fallbacks = unsafe {
            select_and_compare::<1>()
                + select_and_compare::<2>()
                + select_and_compare::<3>()
                + select_and_compare::<4>()
        };
        assert!(fallbacks > 100, "{fallbacks} targets past the last state");
    }

    /// [`lanes_select_the_event_the_scalar_selection_selects`] for `N` states; returns how many
    /// lanes' targets fell past the last state.
    #[target_feature(enable = "avx512f,avx512dq")]
    fn select_and_compare<const N: usize>() -> usize {
        use super::super::MAX_PICKS;
        use crate::model::Pick;
        use crate::rng::uniform;
        use crate::ssa::{scan_picks, select_state};
        let mut rng = replicate_rng(&[7; 32], N as u64);
        let pick_of = |rng: &mut crate::rng::ReplicateRng, code: usize| Pick {
            rate: [0.1, 0.37, 1.3, 0.0123, 2.5][(uniform(rng) * 5.0) as usize],
            dec: code,
            inc: 0,
            channel: 0,
            delta_total: 0,
            is_mutation: false,
        };
        let mut fallbacks = 0;
        for round in 0..20_000 {
            let mut lanes = LaneState::<8, N>::new();
            let mut picks: Vec<Vec<Vec<Pick>>> = Vec::new();
            let mut count = [[0.0; 8]; N];
            let mut weight = [[0.0; 8]; N];
            let mut target = [0.0; 8];
            for j in 0..8 {
                let mut lane_picks = Vec::new();
                for s in 0..N {
                    let len = 1 + (uniform(&mut rng) * MAX_PICKS as f64) as usize;
                    let list: Vec<Pick> = (0..len).map(|k| pick_of(&mut rng, 16 * s + k)).collect();
                    let (final_pick, scanned) = list.split_last().unwrap();
                    for k in 0..MAX_PICKS {
                        let pick = scanned.get(k);
                        if k < SCANNED {
                            lanes.rate[s][k][j] = pick.map_or(f64::INFINITY, |p| p.rate);
                        }
                        lanes.code[s][k][j] = pick.unwrap_or(final_pick).dec as u64;
                    }
                    count[s][j] = if uniform(&mut rng) < 0.2 {
                        0.0
                    } else {
                        (uniform(&mut rng) * 1000.0).floor()
                    };
                    let state_total: f64 = list.iter().map(|p| p.rate).sum();
                    weight[s][j] = count[s][j] * state_total;
                    lane_picks.push(list);
                }
                let a0: f64 = weight.iter().map(|w| w[j]).sum();
                // Half the lanes at the largest target a draw can give.
                let u = if round % 2 == 0 {
                    1.0 - f64::EPSILON / 2.0
                } else {
                    uniform(&mut rng)
                };
                target[j] = u * a0;
                if a0 == 0.0 {
                    // No event fires in an empty lane; any count will do for the test.
                    count[0][j] = 1.0;
                    weight[0][j] = lane_picks[0].iter().map(|p| p.rate).sum();
                    target[j] = 0.0;
                }
                picks.push(lane_picks);
            }
            let vector = |a: &[f64; 8]| unsafe { _mm512_loadu_pd(a.as_ptr()) };
            let code = select(
                vector(&target),
                &std::array::from_fn(|s| vector(&weight[s])),
                &std::array::from_fn(|s| vector(&count[s])),
                &lanes,
                0,
            );
            for j in 0..8 {
                let lane_weight: Vec<f64> = weight.iter().map(|w| w[j]).collect();
                let mut rest = target[j];
                let scanned_all = lane_weight.iter().scan(rest, |left, &w| {
                    let below = *left < w;
                    *left -= w;
                    Some(below)
                });
                fallbacks += usize::from(!scanned_all.into_iter().any(|b| b));
                let s = select_state(&lane_weight, &mut rest);
                let (last, scanned) = picks[j][s].split_last().unwrap();
                let expected = scan_picks(scanned, last, count[s][j], rest).dec as u64;
                assert_eq!(
                    lane_u(code, j),
                    expected,
                    "{N} states, round {round}, lane {j}"
                );
            }
        }
        fallbacks
    }

    #[target_feature(enable = "avx512f,avx512dq")]
    fn draw_and_compare(rounds: usize) -> (u64, u64) {
        let mut scalar: Vec<_> = (0..8).map(|j| replicate_rng(&[4; 32], j)).collect();
        let mut rng: [__m512i; 4] = std::array::from_fn(|i| {
            let words: [u64; 8] = std::array::from_fn(|j| super::super::words_of(&scalar[j])[i]);
            // SAFETY: `words` holds 8 words.
            unsafe { _mm512_loadu_si512(words.as_ptr().cast()) }
        });
        let (now, a0) = (_mm512_set1_pd(0.5), _mm512_set1_pd(3.0));
        let (mut misses, mut out_of_line) = (0, 0);
        for _ in 0..rounds {
            let (layer, x, inside) = first_try(draw(&mut rng, 0xff));
            let mut t_next = _mm512_add_pd(now, _mm512_div_pd(x, a0));
            let miss = !inside;
            if miss != 0 {
                misses += u64::from(miss.count_ones());
                out_of_line += finish_misses(miss, layer, x, now, a0, &mut rng, &mut t_next);
            }
            for (j, generator) in scalar.iter_mut().enumerate() {
                let expected = 0.5 + exp1(generator) / 3.0;
                assert_eq!(lane_f(t_next, j).to_bits(), expected.to_bits(), "lane {j}");
                let words: [u64; 4] = std::array::from_fn(|i| lane_u(rng[i], j));
                assert_eq!(words, super::super::words_of(generator), "lane {j}");
            }
        }
        (misses, out_of_line)
    }
}
