//! A learner's state as a checkpoint keeps it: named arrays of numbers (the weights of a
//! digital learner, the conductances and update counters of a hardware one), and the one way a
//! network's weights go in and out of it.

use crate::network::Network;
use nalgebra::DMatrix;

/// A learner's state: named arrays of numbers.
pub type LearnerState = Vec<(String, Vec<f64>)>;

/// The values of `key` in `state`, which must hold `len` of them.
pub fn entry<'a>(state: &'a LearnerState, key: &str, len: usize) -> Result<&'a [f64], String> {
    let v = state
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
        .ok_or_else(|| format!("{key}: missing"))?;
    if v.len() != len {
        return Err(format!("{key}: {} values, expected {len}", v.len()));
    }
    Ok(v)
}

/// A network's weights as a state (`W0`, `W1`, ..., column-major).
pub fn weights_state(net: &Network<f64>) -> LearnerState {
    net.weights()
        .iter()
        .enumerate()
        .map(|(l, w)| (format!("W{l}"), w.as_slice().to_vec()))
        .collect()
}

/// `net` with the weights of `state`.
pub fn with_weights(net: &Network<f64>, state: &LearnerState) -> Result<Network<f64>, String> {
    let mut weights = Vec::new();
    for (l, w) in net.weights().iter().enumerate() {
        let v = entry(state, &format!("W{l}"), w.len())?;
        weights.push(DMatrix::from_column_slice(w.nrows(), w.ncols(), v));
    }
    Network::new(net.architecture().clone(), weights).map_err(|e| e.to_string())
}
