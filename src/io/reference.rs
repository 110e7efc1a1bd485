//! The reference layout of docs/design.md §4: how networks and batches come in (from JPC, PyTorch, JAX,
//! or apcsim itself) and how apcsim writes every quantity it computes for them.
//!
//! Required in an input file: `weights/W0..W{L-1}` (out x in), `batch/x` (B x D), `batch/y`
//! (B x O), and the root attributes `activation`, `parameterisation` and `skips`. Optional:
//! root attributes `gamma0` and `output_precision` (default 1), and the `euler` group's `dt` and
//! `steps` attributes (default [`DEFAULT_EULER_DT`], [`DEFAULT_EULER_STEPS`]). Every other
//! dataset is only compared against.

use super::h5::{Array, Attr, H5Error, H5Reader};
use crate::network::{Activation, Architecture, Batch, Network, NetworkError, Parameterisation};
use nalgebra::DMatrix;
use std::path::{Path, PathBuf};

/// Euler step used when an input file has no `euler` group.
pub const DEFAULT_EULER_DT: f64 = 0.1;
/// Euler steps used when an input file has no `euler` group.
pub const DEFAULT_EULER_STEPS: usize = 500;
/// The layout version written into the `format` root attribute.
pub const FORMAT: &str = "pc-reference-v1";

/// A network and a batch read from a reference-layout file.
pub struct ReferenceInput {
    pub path: PathBuf,
    pub network: Network<f64>,
    pub batch: Batch<f64>,
    /// Euler step and number of steps (the file's, or the defaults).
    pub euler_dt: f64,
    pub euler_steps: usize,
    /// Whether `euler_dt`/`euler_steps` came from the file.
    pub euler_from_file: bool,
    /// The open file, for comparisons against its optional datasets.
    pub reader: H5Reader,
}

/// A row-major HDF5 array as a column-major matrix (`rows x cols` as stored).
pub fn to_matrix(a: &Array) -> DMatrix<f64> {
    DMatrix::from_row_slice(a.shape[0], a.shape[1], &a.data)
}

/// A matrix as a row-major HDF5 array of the same shape.
pub fn from_matrix(m: &DMatrix<f64>) -> Array {
    Array::matrix(m.nrows(), m.ncols(), m.transpose().as_slice().to_vec())
}

/// Activities `n x B` (column-major, one column per sample) as the `(B, n)` array of the layout.
/// The two have the same memory order.
pub fn samples_array(data: &[f64], n: usize, batch: usize) -> Array {
    Array::matrix(batch, n, data.to_vec())
}

fn check_finite(r: &H5Reader, path: &str, a: &Array) -> Result<(), H5Error> {
    if let Some(k) = a.data.iter().position(|v| !v.is_finite()) {
        let idx = unravel(k, &a.shape);
        return Err(H5Error {
            file: r.path().to_path_buf(),
            object: path.to_string(),
            message: format!("non-finite value {} at index {idx:?}", a.data[k]),
        });
    }
    Ok(())
}

fn unravel(mut k: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for (i, &d) in shape.iter().enumerate().rev() {
        if d > 0 {
            idx[i] = k % d;
            k /= d;
        }
    }
    idx
}

fn matrix_2d(r: &H5Reader, path: &str) -> Result<Array, H5Error> {
    let a = r.array(path)?;
    if a.shape.len() != 2 || a.shape.contains(&0) {
        return Err(H5Error {
            file: r.path().to_path_buf(),
            object: path.to_string(),
            message: format!("expected a non-empty 2-D array, found shape {:?}", a.shape),
        });
    }
    check_finite(r, path, &a)?;
    Ok(a)
}

fn bad(r: &H5Reader, object: &str, message: impl Into<String>) -> H5Error {
    H5Error {
        file: r.path().to_path_buf(),
        object: object.to_string(),
        message: message.into(),
    }
}

fn required_attr(r: &H5Reader, name: &str) -> Result<Attr, H5Error> {
    r.attr("", name)?
        .ok_or_else(|| bad(r, &format!("/@{name}"), "missing root attribute"))
}

fn positive_attr(r: &H5Reader, group: &str, name: &str, default: f64) -> Result<f64, H5Error> {
    let object = format!("{}@{name}", if group.is_empty() { "/" } else { group });
    match r.attr(group, name)? {
        None => Ok(default),
        Some(a) => match a.as_f64() {
            Some(v) if v.is_finite() && v > 0.0 => Ok(v),
            _ => Err(bad(
                r,
                &object,
                format!("expected a finite positive number, found {a}"),
            )),
        },
    }
}

/// Reads and validates a reference-layout file.
pub fn read_reference(path: &Path) -> Result<ReferenceInput, H5Error> {
    let r = H5Reader::open(path)?;
    let activation: Activation = {
        let a = required_attr(&r, "activation")?;
        let s = a
            .as_str()
            .ok_or_else(|| bad(&r, "/@activation", format!("expected a string, found {a}")))?;
        s.parse()
            .map_err(|e| bad(&r, "/@activation", format!("{e}")))?
    };
    let parameterisation: Parameterisation = {
        let a = required_attr(&r, "parameterisation")?;
        let s = a.as_str().ok_or_else(|| {
            bad(
                &r,
                "/@parameterisation",
                format!("expected a string, found {a}"),
            )
        })?;
        s.parse()
            .map_err(|e| bad(&r, "/@parameterisation", format!("{e}")))?
    };
    let skips = {
        let a = required_attr(&r, "skips")?;
        match (a.as_i64(), a.as_str().map(|s| s.to_ascii_lowercase())) {
            (Some(0), _) => false,
            (Some(1), _) => true,
            (_, Some(s)) if s == "true" => true,
            (_, Some(s)) if s == "false" => false,
            _ => return Err(bad(&r, "/@skips", format!("expected 0 or 1, found {a}"))),
        }
    };
    let gamma0 = positive_attr(&r, "", "gamma0", 1.0)?;
    let output_precision = positive_attr(&r, "", "output_precision", 1.0)?;

    if !r.has_group("weights")? {
        return Err(bad(
            &r,
            "weights",
            "missing group (expected weights/W0 .. weights/W{L-1})",
        ));
    }
    let names = r.datasets_in("weights")?;
    let n_layers = names.len();
    for l in 0..n_layers {
        if !names.contains(&format!("W{l}")) {
            return Err(bad(
                &r,
                &format!("weights/W{l}"),
                format!("missing dataset (weights holds {names:?})"),
            ));
        }
    }
    if n_layers < 2 {
        return Err(bad(
            &r,
            "weights",
            format!("a network needs at least 2 weight layers, found {n_layers}"),
        ));
    }
    let mut weights = Vec::with_capacity(n_layers);
    let mut widths = Vec::with_capacity(n_layers + 1);
    for l in 0..n_layers {
        let p = format!("weights/W{l}");
        let a = matrix_2d(&r, &p)?;
        let (out, inp) = (a.shape[0], a.shape[1]);
        if l == 0 {
            widths.push(inp);
        } else if inp != widths[l] {
            return Err(bad(
                &r,
                &p,
                format!(
                    "has {inp} columns but W{} has {} rows (shape {:?})",
                    l - 1,
                    widths[l],
                    a.shape
                ),
            ));
        }
        widths.push(out);
        weights.push(to_matrix(&a));
    }
    let x = matrix_2d(&r, "batch/x")?;
    let y = matrix_2d(&r, "batch/y")?;
    if x.shape[1] != widths[0] {
        return Err(bad(
            &r,
            "batch/x",
            format!(
                "has {} features but W0 takes {} inputs",
                x.shape[1], widths[0]
            ),
        ));
    }
    if y.shape[1] != widths[n_layers] {
        return Err(bad(
            &r,
            "batch/y",
            format!(
                "has {} targets but W{} has {} outputs",
                y.shape[1],
                n_layers - 1,
                widths[n_layers]
            ),
        ));
    }
    if x.shape[0] != y.shape[0] {
        return Err(bad(
            &r,
            "batch/y",
            format!("has {} samples but batch/x has {}", y.shape[0], x.shape[0]),
        ));
    }
    let b = x.shape[0];
    let batch = Batch {
        x: DMatrix::from_column_slice(widths[0], b, &x.data),
        y: DMatrix::from_column_slice(widths[n_layers], b, &y.data),
    };
    let arch = Architecture {
        widths,
        activation,
        parameterisation,
        skips,
        gamma0,
        output_precision,
    };
    let network = Network::new(arch, weights).map_err(|e| match e {
        NetworkError::SkipWidth { layer, .. } => {
            bad(&r, &format!("weights/W{}", layer - 1), e.to_string())
        }
        other => bad(&r, "weights", other.to_string()),
    })?;

    let euler_from_file = r.has_group("euler")?;
    let euler_dt = positive_attr(&r, "euler", "dt", DEFAULT_EULER_DT)?;
    let euler_steps = match r.attr("euler", "steps")? {
        None => DEFAULT_EULER_STEPS,
        Some(a) => match a.as_i64() {
            Some(v) if v >= 0 => v as usize,
            _ => {
                return Err(bad(
                    &r,
                    "euler@steps",
                    format!("expected a non-negative integer, found {a}"),
                ))
            }
        },
    };
    Ok(ReferenceInput {
        path: path.to_path_buf(),
        network,
        batch,
        euler_dt,
        euler_steps,
        euler_from_file,
        reader: r,
    })
}

/// Difference between a dataset apcsim computed and the same dataset in the input file.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    pub dataset: String,
    pub max_abs: f64,
    /// max |ours - theirs| / max |theirs| (the largest entry of the reference).
    pub max_rel: f64,
}

/// Compares `ours` with the input's dataset of the same path, if it has one of the same shape.
pub fn compare(r: &H5Reader, path: &str, ours: &Array) -> Option<Result<Comparison, H5Error>> {
    match r.has_dataset(path) {
        Ok(false) => return None,
        Err(e) => return Some(Err(e)),
        Ok(true) => {}
    }
    let theirs = match r.array(path) {
        Ok(a) => a,
        Err(e) => return Some(Err(e)),
    };
    if theirs.shape != ours.shape {
        return Some(Err(bad(
            r,
            path,
            format!(
                "has shape {:?}, apcsim computed {:?}",
                theirs.shape, ours.shape
            ),
        )));
    }
    let max_abs = ours
        .data
        .iter()
        .zip(&theirs.data)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    let scale = theirs.data.iter().map(|v| v.abs()).fold(0.0, f64::max);
    let max_rel = if scale > 0.0 {
        max_abs / scale
    } else if max_abs == 0.0 {
        0.0
    } else {
        f64::INFINITY
    };
    Some(Ok(Comparison {
        dataset: path.to_string(),
        max_abs,
        max_rel,
    }))
}
