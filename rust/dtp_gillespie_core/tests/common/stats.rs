//! Critical values and sample statistics shared by the statistical tests of the exact jumps.
#![allow(dead_code)]

/// Two-sided critical value of a z test at α = 0.001.
pub const Z_CRIT: f64 = 3.290_526_731_491_926;
/// One-sided quantile for 99.9% power (and the one-sided α = 0.001 point).
pub const Z_POWER: f64 = 3.090_232_306_167_813;
/// `c(α)` of the two-sample Kolmogorov–Smirnov test at α = 0.001: `sqrt(−ln(α/2)/2)`.
pub const KS_CRIT: f64 = 1.949_469_629_700_058;

/// The upper α = 0.001 point of χ² with `df` degrees of freedom (Wilson–Hilferty).
pub fn chi_square_critical(df: f64) -> f64 {
    let c = 2.0 / (9.0 * df);
    df * (1.0 - c + Z_POWER * c.sqrt()).powi(3)
}

/// Whether a non-central χ² (df, λ) exceeds the critical value with 99.9% probability (normal
/// approximation: mean df + λ, variance 2(df + 2λ)).
pub fn powered(df: f64, lambda: f64) -> bool {
    df + lambda - Z_POWER * (2.0 * (df + 2.0 * lambda)).sqrt() >= chi_square_critical(df)
}

/// Two-sample Kolmogorov–Smirnov statistic `D` and its α = 0.001 critical value.
pub fn ks(first: &[f64], second: &[f64]) -> (f64, f64) {
    let sorted = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v
    };
    let (xs, ys) = (sorted(first), sorted(second));
    let (nx, ny) = (xs.len() as f64, ys.len() as f64);
    let (mut below_x, mut below_y, mut largest) = (0usize, 0usize, 0.0f64);
    while below_x < xs.len() && below_y < ys.len() {
        let level = xs[below_x].min(ys[below_y]);
        while below_x < xs.len() && xs[below_x] <= level {
            below_x += 1;
        }
        while below_y < ys.len() && ys[below_y] <= level {
            below_y += 1;
        }
        largest = largest.max((below_x as f64 / nx - below_y as f64 / ny).abs());
    }
    (largest, KS_CRIT * ((nx + ny) / (nx * ny)).sqrt())
}

/// Mean and standard error of the mean.
pub fn mean_se(xs: &[f64]) -> (f64, f64) {
    let m = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / m;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (m - 1.0);
    (mean, (var / m).sqrt())
}
