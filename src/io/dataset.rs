//! A user's data set in HDF5 (`data.source = "dataset:PATH"`): samples and their targets,
//! optionally split into a training and a test set.
//!
//! Layout (h5py writes it as `f["x"] = X`):
//! - `x`: samples x features (N x D), numeric;
//! - `y`: either N class labels (a vector of whole numbers 0 .. C-1), made one-hot targets
//!   of C = largest label + 1 outputs, or N x C targets used as they are (one-hot, or any
//!   real targets);
//! - optionally the split: groups `train` and `test`, each holding its own `x` and `y` as
//!   above (then nothing at the root is read). Without them, `apcsim train` splits the root's
//!   samples itself (stratified by class: the label, or the largest target).

use super::h5::{Array, H5Error, H5Reader};
use crate::network::Batch;
use nalgebra::DMatrix;
use std::path::Path;

/// A data set read from a file.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// All samples (no split in the file), or the `train` group's.
    pub train: Batch<f64>,
    /// The `test` group's samples, when the file is split.
    pub test: Option<Batch<f64>>,
}

impl Dataset {
    /// Features of a sample.
    pub fn inputs(&self) -> usize {
        self.train.x.nrows()
    }

    /// Outputs (classes, or target components).
    pub fn outputs(&self) -> usize {
        self.train.y.nrows()
    }

    /// The class of every training sample: its label, or its largest target (the first of
    /// equal ones).
    pub fn classes(&self) -> Vec<usize> {
        self.train
            .y
            .column_iter()
            .map(|c| {
                c.iter().enumerate().fold(
                    (0, f64::NEG_INFINITY),
                    |b, (i, &v)| {
                        if v > b.1 {
                            (i, v)
                        } else {
                            b
                        }
                    },
                )
            })
            .map(|(i, _)| i)
            .collect()
    }
}

/// Reads the data set at `path`; every refusal names the file and the dataset.
pub fn read_dataset(path: &Path) -> Result<Dataset, H5Error> {
    let f = H5Reader::open(path)?;
    if f.has_group("train")? || f.has_group("test")? {
        let train = read_samples(&f, "train/")?;
        let test = read_samples(&f, "test/")?;
        if test.x.nrows() != train.x.nrows() || test.y.nrows() != train.y.nrows() {
            return Err(err(
                &f,
                "test/x",
                format!(
                    "the test set has {} features and {} outputs, the training set {} and {}",
                    test.x.nrows(),
                    test.y.nrows(),
                    train.x.nrows(),
                    train.y.nrows()
                ),
            ));
        }
        return Ok(Dataset {
            train,
            test: Some(test),
        });
    }
    Ok(Dataset {
        train: read_samples(&f, "")?,
        test: None,
    })
}

fn err(f: &H5Reader, object: &str, message: String) -> H5Error {
    H5Error {
        file: f.path().to_path_buf(),
        object: object.into(),
        message,
    }
}

/// `{prefix}x` and `{prefix}y` as a batch (one column per sample).
fn read_samples(f: &H5Reader, prefix: &str) -> Result<Batch<f64>, H5Error> {
    let (xp, yp) = (format!("{prefix}x"), format!("{prefix}y"));
    let x = f.array(&xp)?;
    let [n, d] = x.shape[..] else {
        return Err(err(
            f,
            &xp,
            format!("expected samples x features, found shape {:?}", x.shape),
        ));
    };
    if n == 0 || d == 0 {
        return Err(err(f, &xp, "holds no samples or no features".into()));
    }
    if let Some(k) = x.data.iter().position(|v| !v.is_finite()) {
        return Err(err(f, &xp, format!("sample {} is not finite", k / d)));
    }
    let y = f.array(&yp)?;
    if y.shape.first() != Some(&n) {
        return Err(err(
            f,
            &yp,
            format!("holds {:?} for the {n} samples of {xp}", y.shape),
        ));
    }
    let targets = match y.shape.len() {
        1 => one_hot(&y).map_err(|m| err(f, &yp, m))?,
        2 if y.shape[1] > 0 => {
            if let Some(k) = y.data.iter().position(|v| !v.is_finite()) {
                return Err(err(
                    f,
                    &yp,
                    format!("sample {} is not finite", k / y.shape[1]),
                ));
            }
            DMatrix::from_column_slice(y.shape[1], n, &y.data)
        }
        _ => {
            return Err(err(
                f,
                &yp,
                format!(
                    "expected N labels or N x C targets, found shape {:?}",
                    y.shape
                ),
            ))
        }
    };
    Ok(Batch {
        x: DMatrix::from_column_slice(d, n, &x.data),
        y: targets,
    })
}

/// Labels 0 .. C-1 as one-hot columns.
fn one_hot(y: &Array) -> Result<DMatrix<f64>, String> {
    /// More classes than any output layer apcsim would build.
    const MAX_CLASSES: f64 = 65_536.0;
    let is_label = |v: f64| v >= 0.0 && v.fract() == 0.0 && v < MAX_CLASSES;
    if let Some((s, v)) = y.data.iter().enumerate().find(|(_, v)| !is_label(**v)) {
        return Err(format!(
            "labels must be whole numbers from 0 (below {MAX_CLASSES}), found {v} at sample {s}"
        ));
    }
    let classes = y.data.iter().fold(0.0_f64, |m, &v| m.max(v)) as usize + 1;
    Ok(DMatrix::from_fn(classes, y.data.len(), |c, s| {
        if y.data[s] as usize == c {
            1.0
        } else {
            0.0
        }
    }))
}
