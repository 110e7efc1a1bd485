//! Summary statistics of measured values: the median, the mean, the sample standard
//! deviation and the least-squares line. Sums run in the order of the values, so that a summary rounds the same way
//! every time.

use super::real::Real;

/// The median of `xs` (the mean of the middle two for an even count), NaN for none. NaNs sort
/// above every number (IEEE total order).
pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// The arithmetic mean of `xs`, summed in order (NaN for none). In f64 it rounds exactly as
/// `xs.iter().sum::<f64>() / n` (whose sum also starts from -0).
pub fn mean<T: Real>(xs: &[T]) -> T {
    let sum = xs.iter().fold(-T::zero(), |acc, &x| acc + x);
    sum / T::of_f64(xs.len() as f64)
}

/// Mean and sample standard deviation (divided by n - 1; `None` for fewer than two values).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MeanStd {
    pub mean: f64,
    pub std: Option<f64>,
}

impl MeanStd {
    /// Summarises `values` in their order (so the rounding is reproducible).
    pub fn of(values: &[f64]) -> Self {
        let n = values.len() as f64;
        let mean = mean(values);
        let std = (values.len() > 1)
            .then(|| (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt());
        MeanStd { mean, std }
    }

    /// [`MeanStd::of`] the finite values only: NaN and infinities (points that failed) are
    /// left out.
    pub fn of_finite(values: &[f64]) -> Self {
        let finite: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        Self::of(&finite)
    }
}

/// The least-squares line y = intercept + slope x through points, and its coefficient of
/// determination R^2 = 1 - SS_res / SS_tot.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinearFit {
    pub intercept: f64,
    pub slope: f64,
    pub r_squared: f64,
}

impl LinearFit {
    /// The fit of `y` against `x` (paired); `None` for fewer than two points or all x equal.
    pub fn of(x: &[f64], y: &[f64]) -> Option<Self> {
        if x.len() != y.len() || x.len() < 2 {
            return None;
        }
        let (mx, my) = (mean(x), mean(y));
        let sxx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
        let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
        if sxx == 0.0 {
            return None;
        }
        let slope = sxy / sxx;
        let intercept = my - slope * mx;
        let ss_res: f64 = x
            .iter()
            .zip(y)
            .map(|(a, b)| (b - intercept - slope * a).powi(2))
            .sum();
        let ss_tot: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
        Some(LinearFit {
            intercept,
            slope,
            r_squared: 1.0 - ss_res / ss_tot,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_squares_line_and_its_r_squared() {
        // Points on y = 1 + 2x recover the line with R^2 = 1.
        let exact = LinearFit::of(&[0.0, 1.0, 2.0, 3.0], &[1.0, 3.0, 5.0, 7.0]).unwrap();
        assert_eq!(
            (exact.intercept, exact.slope, exact.r_squared),
            (1.0, 2.0, 1.0)
        );
        // x = 0, 1, 2 with y = 0, 2, 1: slope 1/2, intercept 1/2, residuals -1/2, 1, -1/2
        // (SS_res 3/2) around a mean of 1 (SS_tot 2), so R^2 = 1/4.
        let f = LinearFit::of(&[0.0, 1.0, 2.0], &[0.0, 2.0, 1.0]).unwrap();
        assert_eq!((f.intercept, f.slope, f.r_squared), (0.5, 0.5, 0.25));
        assert!(LinearFit::of(&[1.0], &[1.0]).is_none());
        assert!(LinearFit::of(&[2.0, 2.0], &[1.0, 3.0]).is_none());
    }

    #[test]
    fn median_of_odd_even_and_empty_lists() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
        // NaN sorts last: the median of [1, NaN, 2] is the middle of [1, 2, NaN].
        assert_eq!(median(&[1.0, f64::NAN, 2.0]), 2.0);
    }

    #[test]
    fn mean_and_sample_std() {
        // Values 2, 4, 4, 4, 5, 5, 7, 9: mean 5, squared deviations summing to 32.
        let s = MeanStd::of(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(s.mean, 5.0);
        assert_eq!(s.std, Some((32.0f64 / 7.0).sqrt()));
        assert_eq!(MeanStd::of(&[3.0]).std, None);
        assert!(MeanStd::of(&[]).mean.is_nan());
        let f = MeanStd::of_finite(&[1.0, f64::NAN, 3.0, f64::INFINITY]);
        assert_eq!((f.mean, f.std), (2.0, Some(2.0f64.sqrt())));
        assert_eq!(mean(&[1.5f32, 2.5]), 2.0f32);
    }

    #[test]
    fn mean_of_negative_zeros_keeps_the_sign_like_std_sum() {
        let z = [-0.0f64, -0.0];
        assert_eq!(mean(&z).to_bits(), (z.iter().sum::<f64>() / 2.0).to_bits());
        assert!(mean(&z).is_sign_negative());
    }
}
