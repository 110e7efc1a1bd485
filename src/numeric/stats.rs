//! Summary statistics of measured values: the median, the mean and the sample standard
//! deviation. Sums run in the order of the values, so that a summary rounds the same way
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

#[cfg(test)]
mod tests {
    use super::*;

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
