//! Data sets for runs: the embedded UCI optdigits set, a synthetic teacher network, Gaussian
//! inputs. Each returns a [`Batch`] with inputs already in the range the DAC drives.
//!
//! # Reference
//! Alpaydin, E. & Kaynak, C. (1998). Optical Recognition of Handwritten Digits. UCI Machine
//! Learning Repository (CC BY 4.0); the test part, 1797 8x8 images, ships in `data/`.

use crate::network::{Architecture, Batch, Network, NetworkError};
use crate::numeric::seeds::stream_seed;
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

/// The optdigits file, embedded so that a fresh build needs nothing else.
const OPTDIGITS: &str = include_str!("../../data/optdigits.tes");

/// Pixels per image (8 x 8) and classes.
pub const DIGITS_INPUTS: usize = 64;
pub const DIGITS_CLASSES: usize = 10;
/// Largest pixel count of the UCI preprocessing (4x4 blocks of a 32x32 bitmap).
const DIGITS_MAX_PIXEL: f64 = 16.0;

/// Why a data set could not be produced.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    #[error("optdigits line {line}: {message}")]
    Parse { line: usize, message: String },
    #[error("optdigits holds {available} samples; samples {offset}..{end} were asked for")]
    Range {
        offset: usize,
        end: usize,
        available: usize,
    },
    #[error("input range must satisfy low < high, got [{low}, {high}]")]
    InputRange { low: f64, high: f64 },
    #[error(transparent)]
    Network(#[from] NetworkError),
}

/// The digits: pixel counts 0..16 row-major, and labels 0..9.
#[derive(Clone, Debug, PartialEq)]
pub struct Digits {
    pub pixels: Vec<[u8; DIGITS_INPUTS]>,
    pub labels: Vec<u8>,
}

/// Parses text in the UCI optdigits format (65 comma-separated integers a line).
pub fn parse_optdigits(text: &str) -> Result<Digits, DataError> {
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let err = |message: String| DataError::Parse {
            line: i + 1,
            message,
        };
        let vals: Vec<u8> = line
            .split(',')
            .map(|v| v.trim().parse::<u8>())
            .collect::<Result<_, _>>()
            .map_err(|e| err(format!("not an integer list: {e}")))?;
        if vals.len() != DIGITS_INPUTS + 1 {
            return Err(err(format!("{} values, expected 65", vals.len())));
        }
        let mut px = [0u8; DIGITS_INPUTS];
        px.copy_from_slice(&vals[..DIGITS_INPUTS]);
        if let Some(p) = px.iter().find(|&&p| p as f64 > DIGITS_MAX_PIXEL) {
            return Err(err(format!("pixel value {p} above 16")));
        }
        let label = vals[DIGITS_INPUTS];
        if label as usize >= DIGITS_CLASSES {
            return Err(err(format!("label {label} is not a digit")));
        }
        pixels.push(px);
        labels.push(label);
    }
    Ok(Digits { pixels, labels })
}

/// Samples of the embedded optdigits set.
pub const OPTDIGITS_SAMPLES: usize = 1797;

/// The embedded optdigits test set ([`OPTDIGITS_SAMPLES`] samples).
pub fn optdigits() -> Digits {
    // The embedded file is part of the source tree and is checked by a test.
    parse_optdigits(OPTDIGITS).unwrap_or_else(|e| panic!("embedded optdigits is corrupt: {e}"))
}

/// `count` digits from `offset`: pixels scaled linearly from 0..16 onto [low, high] (the DAC's
/// input range), targets one-hot (1 for the class, 0 elsewhere).
pub fn digits_batch(
    offset: usize,
    count: usize,
    low: f64,
    high: f64,
) -> Result<Batch<f64>, DataError> {
    if !(low < high && low.is_finite() && high.is_finite()) {
        return Err(DataError::InputRange { low, high });
    }
    let d = optdigits();
    let end = offset.saturating_add(count);
    if end > d.labels.len() {
        return Err(DataError::Range {
            offset,
            end,
            available: d.labels.len(),
        });
    }
    let x = DMatrix::from_fn(DIGITS_INPUTS, count, |i, s| {
        low + (high - low) * d.pixels[offset + s][i] as f64 / DIGITS_MAX_PIXEL
    });
    let y = DMatrix::from_fn(DIGITS_CLASSES, count, |c, s| {
        if d.labels[offset + s] as usize == c {
            1.0
        } else {
            0.0
        }
    });
    Ok(Batch { x, y })
}

/// A standard-normal matrix from its own seeded stream.
fn normal(rows: usize, cols: usize, seed: u64, stream: u64) -> DMatrix<f64> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(stream_seed(seed, stream));
    let mut m = DMatrix::zeros(rows, cols);
    // Sample by sample (column by column), so a larger batch extends a smaller one.
    for s in 0..cols {
        for i in 0..rows {
            m[(i, s)] = StandardNormal.sample(&mut rng);
        }
    }
    m
}

/// Inputs and targets both standard normal (the paper's width x depth setting).
pub fn gaussian_batch(inputs: usize, outputs: usize, batch: usize, seed: u64) -> Batch<f64> {
    Batch {
        x: normal(inputs, batch, seed, 0),
        y: normal(outputs, batch, seed, 1),
    }
}

/// Normal inputs of standard deviation `input_std` labelled by a teacher network of the given
/// architecture, drawn from its parameterisation with `seed`, plus Gaussian label noise of
/// standard deviation `noise`.
pub fn teacher_batch(
    teacher: Architecture,
    batch: usize,
    seed: u64,
    input_std: f64,
    noise: f64,
) -> Result<Batch<f64>, DataError> {
    let d = teacher.widths[0];
    let o = *teacher.widths.last().unwrap_or(&0);
    let net = Network::<f64>::init(teacher, stream_seed(seed, 2))?;
    let x = normal(d, batch, seed, 0) * input_std;
    let (_, yhat) = net.feedforward(x.as_slice(), batch);
    let y = DMatrix::from_column_slice(o, batch, &yhat) + normal(o, batch, seed, 1) * noise;
    Ok(Batch { x, y })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_digits_are_the_uci_test_set() {
        let d = optdigits();
        assert_eq!(d.labels.len(), OPTDIGITS_SAMPLES);
        // UCI's documented class counts of optdigits.tes.
        let mut counts = [0usize; 10];
        for &l in &d.labels {
            counts[l as usize] += 1;
        }
        assert_eq!(counts, [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]);
        // The first row of the file, as printed in it.
        assert_eq!(&d.pixels[0][..8], &[0, 0, 5, 13, 9, 1, 0, 0]);
        assert_eq!(d.labels[0], 0);
    }

    #[test]
    fn digits_batch_scales_into_the_range_and_one_hot_encodes() {
        let b = digits_batch(10, 32, -0.5, 0.5).unwrap();
        assert_eq!(b.x.shape(), (64, 32));
        assert!(b.x.iter().all(|&v| (-0.5..=0.5).contains(&v)));
        for s in 0..32 {
            assert_eq!(b.y.column(s).sum(), 1.0);
        }
        assert!(digits_batch(1790, 32, 0.0, 1.0).is_err());
        assert!(digits_batch(0, 1, 1.0, 0.0).is_err());
    }

    #[test]
    fn malformed_lines_are_reported_with_their_number() {
        let e = parse_optdigits("0,1\n").unwrap_err();
        assert!(matches!(e, DataError::Parse { line: 1, .. }));
        let mut row = vec!["0"; 64];
        row.push("12");
        assert!(parse_optdigits(&row.join(",")).is_err());
    }

    #[test]
    fn a_larger_gaussian_batch_extends_a_smaller_one() {
        let a = gaussian_batch(5, 3, 4, 9);
        let b = gaussian_batch(5, 3, 8, 9);
        assert_eq!(a.x, b.x.columns(0, 4));
        assert_eq!(a.y, b.y.columns(0, 4));
    }
}
