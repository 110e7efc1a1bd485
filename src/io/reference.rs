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
    /// The `training` group's schedule of full-batch gradient descent, when the file has one.
    pub training: Option<TrainingSchedule>,
    /// The open file, for comparisons against its optional datasets.
    pub reader: H5Reader,
}

/// Full-batch gradient descent from the file's weights (the `training` group's attributes
/// `optimizer = "sgd"`, `lr` and `steps`): `W <- W - lr dF/dW` for PC, `W <- W - lr dLoss/dW`
/// for BP, `steps` times.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrainingSchedule {
    pub lr: f64,
    pub steps: usize,
}

/// Training steps a reference file may ask for: each recomputes an equilibrium, and the JPC
/// training cases take about ten; 10^5 is far beyond any case and still bounded.
pub const MAX_TRAINING_STEPS: i64 = 100_000;

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

/// A string root attribute parsed as `T`.
fn parsed_attr<T: std::str::FromStr>(r: &H5Reader, name: &str) -> Result<T, H5Error>
where
    T::Err: std::fmt::Display,
{
    let object = format!("/@{name}");
    let a = required_attr(r, name)?;
    let s = a
        .as_str()
        .ok_or_else(|| bad(r, &object, format!("expected a string, found {a}")))?;
    s.parse().map_err(|e| bad(r, &object, format!("{e}")))
}

/// The root attribute `skips`: 0 or 1, or the strings "true" and "false".
fn skips_attr(r: &H5Reader) -> Result<bool, H5Error> {
    let a = required_attr(r, "skips")?;
    match (a.as_i64(), a.as_str().map(|s| s.to_ascii_lowercase())) {
        (Some(0), _) => Ok(false),
        (Some(1), _) => Ok(true),
        (_, Some(s)) if s == "true" => Ok(true),
        (_, Some(s)) if s == "false" => Ok(false),
        _ => Err(bad(r, "/@skips", format!("expected 0 or 1, found {a}"))),
    }
}

/// The weight matrices `weights/W0..W{L-1}` and the layer widths they chain through.
fn read_weights(r: &H5Reader) -> Result<(Vec<DMatrix<f64>>, Vec<usize>), H5Error> {
    if !r.has_group("weights")? {
        return Err(bad(
            r,
            "weights",
            "missing group (expected weights/W0 .. weights/W{L-1})",
        ));
    }
    let names = r.datasets_in("weights")?;
    let n_layers = names.len();
    if let Some(l) = (0..n_layers).find(|l| !names.contains(&format!("W{l}"))) {
        return Err(bad(
            r,
            &format!("weights/W{l}"),
            format!("missing dataset (weights holds {names:?})"),
        ));
    }
    if n_layers < 2 {
        return Err(bad(
            r,
            "weights",
            format!("a network needs at least 2 weight layers, found {n_layers}"),
        ));
    }
    let mut weights = Vec::with_capacity(n_layers);
    let mut widths = Vec::with_capacity(n_layers + 1);
    for l in 0..n_layers {
        let p = format!("weights/W{l}");
        let a = matrix_2d(r, &p)?;
        let (out, inp) = (a.shape[0], a.shape[1]);
        if l == 0 {
            widths.push(inp);
        } else if inp != widths[l] {
            return Err(bad(
                r,
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
    Ok((weights, widths))
}

/// The batch `batch/x` (B x D) and `batch/y` (B x O), checked against the network's widths.
fn read_batch(r: &H5Reader, widths: &[usize]) -> Result<Batch<f64>, H5Error> {
    let (inputs, outputs) = (widths[0], widths[widths.len() - 1]);
    let x = matrix_2d(r, "batch/x")?;
    let y = matrix_2d(r, "batch/y")?;
    if x.shape[1] != inputs {
        return Err(bad(
            r,
            "batch/x",
            format!("has {} features but W0 takes {inputs} inputs", x.shape[1]),
        ));
    }
    if y.shape[1] != outputs {
        return Err(bad(
            r,
            "batch/y",
            format!(
                "has {} targets but W{} has {outputs} outputs",
                y.shape[1],
                widths.len() - 2,
            ),
        ));
    }
    if x.shape[0] != y.shape[0] {
        return Err(bad(
            r,
            "batch/y",
            format!("has {} samples but batch/x has {}", y.shape[0], x.shape[0]),
        ));
    }
    let b = x.shape[0];
    Ok(Batch {
        x: DMatrix::from_column_slice(inputs, b, &x.data),
        y: DMatrix::from_column_slice(outputs, b, &y.data),
    })
}

/// The `euler` group's step and number of steps (or the defaults), the steps checked against
/// [`MAX_EULER_STEPS`] for this network and batch.
fn read_euler(r: &H5Reader, network: &Network<f64>, batch: usize) -> Result<(f64, usize), H5Error> {
    let dt = positive_attr(r, "euler", "dt", DEFAULT_EULER_DT)?;
    let steps = match r.attr("euler", "steps")? {
        None => DEFAULT_EULER_STEPS,
        Some(a) => match a.as_i64() {
            Some(v) if v >= 0 => {
                check_euler_steps(v as u64, network, batch)
                    .map_err(|m| bad(r, "euler@steps", m))?;
                v as usize
            }
            _ => {
                return Err(bad(
                    r,
                    "euler@steps",
                    format!("expected a non-negative integer, found {a}"),
                ))
            }
        },
    };
    Ok((dt, steps))
}

/// The `training` group's schedule, if the file has that group.
fn read_training(r: &H5Reader) -> Result<Option<TrainingSchedule>, H5Error> {
    if !r.has_group("training")? {
        return Ok(None);
    }
    match r.attr("training", "optimizer")? {
        Some(a) if a.as_str() == Some("sgd") => {}
        Some(a) => {
            return Err(bad(
                r,
                "training@optimizer",
                format!("apcsim runs \"sgd\" only, found {a}"),
            ))
        }
        None => return Err(bad(r, "training@optimizer", "missing attribute")),
    }
    if r.attr("training", "lr")?.is_none() {
        return Err(bad(r, "training@lr", "missing attribute"));
    }
    let lr = positive_attr(r, "training", "lr", 0.0)?;
    let steps = match r.attr("training", "steps")? {
        None => return Err(bad(r, "training@steps", "missing attribute")),
        Some(a) => match a.as_i64() {
            Some(v) if (0..=MAX_TRAINING_STEPS).contains(&v) => v as usize,
            _ => {
                return Err(bad(
                    r,
                    "training@steps",
                    format!("expected an integer from 0 to {MAX_TRAINING_STEPS}, found {a}"),
                ))
            }
        },
    };
    Ok(Some(TrainingSchedule { lr, steps }))
}

/// Reads and validates a reference-layout file.
pub fn read_reference(path: &Path) -> Result<ReferenceInput, H5Error> {
    let r = H5Reader::open(path)?;
    let activation: Activation = parsed_attr(&r, "activation")?;
    let parameterisation: Parameterisation = parsed_attr(&r, "parameterisation")?;
    let skips = skips_attr(&r)?;
    let gamma0 = positive_attr(&r, "", "gamma0", 1.0)?;
    let output_precision = positive_attr(&r, "", "output_precision", 1.0)?;
    let (weights, widths) = read_weights(&r)?;
    let batch = read_batch(&r, &widths)?;
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
    let (euler_dt, euler_steps) = read_euler(&r, &network, batch.size())?;
    let training = read_training(&r)?;
    Ok(ReferenceInput {
        path: path.to_path_buf(),
        network,
        batch,
        euler_dt,
        euler_steps,
        euler_from_file,
        training,
        reader: r,
    })
}

/// Euler steps a reference run takes at most: 10^8. The JPC reference cases take a few
/// thousand; 10^8 steps of even a small network take tens of minutes, and a step count beyond
/// that in a file or an option is a mistake (2^63 - 1 would run for ever).
pub const MAX_EULER_STEPS: u64 = 100_000_000;

/// The rate [`check_euler_steps`] estimates run times at: 10^9 multiply-adds a second, about
/// one core's (the reference run of a JPC case measures 1-3 x 10^9).
const MULTIPLY_ADDS_PER_SECOND: f64 = 1e9;

/// Checks a number of Euler steps against [`MAX_EULER_STEPS`]; the error says how long so many
/// steps of `network` on `batch` samples would take.
pub fn check_euler_steps(steps: u64, network: &Network<f64>, batch: usize) -> Result<(), String> {
    if steps <= MAX_EULER_STEPS {
        return Ok(());
    }
    // A step predicts through every weight matrix and propagates the errors back through it.
    let per_step: f64 = network
        .weights()
        .iter()
        .map(|w| 2.0 * (w.nrows() * w.ncols() * batch) as f64)
        .sum();
    let seconds = steps as f64 * per_step / MULTIPLY_ADDS_PER_SECOND;
    Err(format!(
        "{steps} Euler steps would take {} ({per_step:.0} multiply-adds a step for this network \
         and batch, at about {MULTIPLY_ADDS_PER_SECOND:.0e} a second); apcsim takes at most \
         {MAX_EULER_STEPS}, far more than the few thousand a reference case needs",
        rough_duration(seconds)
    ))
}

/// A duration in the largest unit that fits, to two significant digits.
fn rough_duration(seconds: f64) -> String {
    const UNITS: [(f64, &str); 5] = [
        (365.25 * 86_400.0, "years"),
        (86_400.0, "days"),
        (3_600.0, "hours"),
        (60.0, "minutes"),
        (1.0, "seconds"),
    ];
    let (size, unit) = UNITS
        .into_iter()
        .find(|&(size, _)| seconds >= size)
        .unwrap_or((1.0, "seconds"));
    match seconds / size {
        v if v < 10.0 => format!("about {v:.1} {unit}"),
        v if v < 1000.0 => format!("about {v:.0} {unit}"),
        v => format!("about {v:.1e} {unit}"),
    }
}

/// Difference between a dataset apcsim computed and the same dataset in the input file.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    pub dataset: String,
    pub max_abs: f64,
    /// max |ours - theirs| / max |theirs| (the largest entry of the compared part of theirs).
    pub max_rel: f64,
    /// Set when only the common leading part of two trajectories of different lengths was
    /// compared.
    pub prefix: Option<Prefix>,
}

/// The leading part of a trajectory compared with the input's, when the two differ in length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prefix {
    /// Entries compared: the shorter length.
    pub compared: usize,
    /// Entries in the input's dataset.
    pub input: usize,
    /// Entries apcsim computed.
    pub computed: usize,
}

/// A dataset of the input that apcsim's run cannot be compared with (a run with other Euler
/// settings than the input's), and why.
#[derive(Clone, Debug, PartialEq)]
pub struct NotCompared {
    pub dataset: String,
    pub reason: String,
}

/// How much of a dataset is compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extent {
    /// All of it: the shapes must agree.
    Whole,
    /// The common leading part of two 1-D trajectories recorded at the same instants (the
    /// same step, a different number of steps).
    CommonPrefix,
}

/// Compares `ours` with the input's dataset of the same path, if it has one: all of it, or
/// (with [`Extent::CommonPrefix`]) the entries both 1-D arrays have. Other shapes that differ
/// are an error: the input contradicts itself.
pub fn compare(
    r: &H5Reader,
    path: &str,
    ours: &Array,
    extent: Extent,
) -> Option<Result<Comparison, H5Error>> {
    match r.has_dataset(path) {
        Ok(false) => return None,
        Err(e) => return Some(Err(e)),
        Ok(true) => {}
    }
    let theirs = match r.array(path) {
        Ok(a) => a,
        Err(e) => return Some(Err(e)),
    };
    let trajectories = theirs.shape.len() == 1 && ours.shape.len() == 1;
    let prefix = (extent == Extent::CommonPrefix && trajectories && theirs.shape != ours.shape)
        .then(|| Prefix {
            compared: theirs.data.len().min(ours.data.len()),
            input: theirs.data.len(),
            computed: ours.data.len(),
        });
    if theirs.shape != ours.shape && prefix.is_none() {
        return Some(Err(bad(
            r,
            path,
            format!(
                "has shape {:?}, apcsim computed {:?}",
                theirs.shape, ours.shape
            ),
        )));
    }
    let n = prefix.map_or(theirs.data.len(), |p| p.compared);
    let (ours_part, theirs_part) = (&ours.data[..n], &theirs.data[..n]);
    let max_abs = ours_part
        .iter()
        .zip(theirs_part)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    let scale = theirs_part.iter().map(|v| v.abs()).fold(0.0, f64::max);
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
        prefix,
    }))
}
