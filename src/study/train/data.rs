//! The data of a training run: optdigits (or a data set file without its own split) split into
//! a training and a test set, stratified by class and seeded, and the mini-batches of an epoch (in order, or in a seeded shuffle).

use crate::io::data::{digits_batch, optdigits, DataError};
use crate::network::Batch;
use crate::numeric::seeds::stream_seed;
use nalgebra::DMatrix;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// Stream of the split's draws (apart from the epochs' shuffles, which use the epoch number).
const SPLIT_STREAM: u64 = u64::MAX - 1;

/// The training and the test set.
#[derive(Clone, Debug)]
pub struct TrainData {
    pub train: Batch<f64>,
    pub test: Batch<f64>,
}

/// Indices of the `train` and `test` samples of a set labelled `labels` (classes 0, 1, ...):
/// each class shuffled with `seed`, then every class contributes in proportion to its size
/// (largest remainders first), the test set taken from what the training set left.
pub fn stratified_split(
    labels: &[usize],
    train: usize,
    test: usize,
    seed: u64,
) -> (Vec<usize>, Vec<usize>) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(stream_seed(seed, SPLIT_STREAM));
    let n_classes = labels.iter().max().map_or(0, |&m| m + 1);
    let mut classes: Vec<Vec<usize>> = vec![Vec::new(); n_classes];
    for (i, &c) in labels.iter().enumerate() {
        classes[c].push(i);
    }
    for c in &mut classes {
        c.shuffle(&mut rng);
    }
    let train_counts = proportional(&classes, train, &vec![0; n_classes]);
    let test_counts = proportional(&classes, test, &train_counts);
    let (mut tr, mut te) = (Vec::new(), Vec::new());
    for ((c, &n_tr), &n_te) in classes.iter().zip(&train_counts).zip(&test_counts) {
        tr.extend_from_slice(&c[..n_tr]);
        te.extend_from_slice(&c[n_tr..n_tr + n_te]);
    }
    tr.sort_unstable();
    te.sort_unstable();
    (tr, te)
}

/// `total` samples shared among classes in proportion to their sizes, from what `taken` left
/// of each (largest remainders first, ties to the lower class).
fn proportional(classes: &[Vec<usize>], total: usize, taken: &[usize]) -> Vec<usize> {
    let left: Vec<usize> = classes
        .iter()
        .zip(taken)
        .map(|(c, &t)| c.len() - t)
        .collect();
    let all: usize = left.iter().sum();
    let exact: Vec<f64> = left
        .iter()
        .map(|&n| total as f64 * n as f64 / all as f64)
        .collect();
    let mut counts: Vec<usize> = exact
        .iter()
        .zip(&left)
        .map(|(&e, &n)| (e.floor() as usize).min(n))
        .collect();
    let mut order: Vec<usize> = (0..classes.len()).collect();
    order.sort_by(|&a, &b| (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor())));
    let mut missing = total.saturating_sub(counts.iter().sum());
    while missing > 0 {
        let before = missing;
        for &c in &order {
            if missing > 0 && counts[c] < left[c] {
                counts[c] += 1;
                missing -= 1;
            }
        }
        if missing == before {
            break;
        }
    }
    counts
}

/// optdigits split into `train` and `test` samples, pixels onto [low, high].
pub fn digits_split(
    train: usize,
    test: usize,
    seed: u64,
    low: f64,
    high: f64,
) -> Result<TrainData, DataError> {
    let all = digits_batch(0, optdigits().labels.len(), low, high)?;
    let labels: Vec<usize> = optdigits().labels.iter().map(|&c| c as usize).collect();
    Ok(split(&all, &labels, train, test, seed))
}

/// `all` split into `train` and `test` samples, stratified by `labels` (one per sample).
pub fn split(
    all: &Batch<f64>,
    labels: &[usize],
    train: usize,
    test: usize,
    seed: u64,
) -> TrainData {
    let (tr, te) = stratified_split(labels, train, test, seed);
    TrainData {
        train: columns(all, &tr),
        test: columns(all, &te),
    }
}

/// The samples `idx` of `batch`, in that order.
pub fn columns(batch: &Batch<f64>, idx: &[usize]) -> Batch<f64> {
    let pick = |m: &DMatrix<f64>| DMatrix::from_fn(m.nrows(), idx.len(), |r, s| m[(r, idx[s])]);
    Batch {
        x: pick(&batch.x),
        y: pick(&batch.y),
    }
}

/// The order of an epoch's samples: `0..n`, or a shuffle seeded by (seed, epoch).
pub fn epoch_order(n: usize, epoch: usize, shuffle: bool, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    if shuffle {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(stream_seed(seed, epoch as u64));
        order.shuffle(&mut rng);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::data::DIGITS_CLASSES;

    #[test]
    fn the_split_is_disjoint_stratified_and_seeded() {
        let labels: Vec<usize> = optdigits().labels.iter().map(|&c| c as usize).collect();
        let (tr, te) = stratified_split(&labels, 1437, 360, 7);
        assert_eq!((tr.len(), te.len()), (1437, 360));
        assert!(tr.iter().all(|i| te.binary_search(i).is_err()));
        // Each class's share of the test set within one sample of its share of optdigits.
        for c in 0..DIGITS_CLASSES {
            let n = labels.iter().filter(|&&l| l == c).count() as f64;
            let t = te.iter().filter(|&&i| labels[i] == c).count() as f64;
            assert!(
                (t - 360.0 * n / labels.len() as f64).abs() <= 1.0,
                "class {c}"
            );
        }
        assert_eq!(stratified_split(&labels, 1437, 360, 7), (tr.clone(), te));
        assert_ne!(stratified_split(&labels, 1437, 360, 8).0, tr);
    }
}
