//! The gradient check of a mapped network: run PC inference on the weights the hardware really
//! applies (forward and backward reads separately), form the update from ADC readings, and
//! compare it with BP — on the ideal weights (what training wanted) and on the effective forward
//! weights (what the hardware's own forward pass would backpropagate) — beside the ideal circuit
//! on the same batch (the theory value), so the cost of the hardware shows at once.

use crate::dynamics::{infer, Inference, InferenceError, InferenceOptions};
use crate::hardware::mapping::{relative_frobenius, MappedNetwork};
use crate::hardware::params::Converter;
use crate::network::{alignment, Alignment, Batch, Network, NetworkError};
use nalgebra::DMatrix;

/// Why the check could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    #[error(transparent)]
    Network(#[from] NetworkError),
    #[error(transparent)]
    Inference(#[from] InferenceError),
}

/// Everything the check measures.
#[derive(Clone, Debug)]
pub struct HardwareCheck {
    /// Ideal circuit: PC at equilibrium against BP, same weights and inputs.
    pub ideal: Alignment,
    /// Hardware PC update against BP on the ideal weights.
    pub vs_bp_ideal: Alignment,
    /// Hardware PC update against BP on the effective forward weights and DAC inputs.
    pub vs_bp_effective: Alignment,
    /// ||W_hw - W||_F / ||W||_F per layer, forward and backward reads.
    pub weight_error_forward: Vec<f64>,
    pub weight_error_backward: Vec<f64>,
    pub ideal_inference: Inference<f64>,
    pub hardware_inference: Inference<f64>,
    /// The hardware PC update (dF/dW per layer) and the two BP references.
    pub pc_hardware: Vec<DMatrix<f64>>,
    pub bp_ideal: Vec<DMatrix<f64>>,
    pub bp_effective: Vec<DMatrix<f64>>,
}

/// The network a mapped design really runs — the effective forward weights, and backward
/// products through the effective backward weights — and the batch as the DAC delivers it.
pub fn hardware_network(
    net: &Network<f64>,
    mapped: &MappedNetwork,
    batch: &Batch<f64>,
    dac: &Converter,
) -> Result<(Network<f64>, Batch<f64>), NetworkError> {
    let hw = Network::new(net.architecture().clone(), mapped.forward_weights())?
        .with_feedback(mapped.backward_weights())?;
    let mut hw_batch = batch.clone();
    dac.convert_all(hw_batch.x.as_mut_slice());
    Ok((hw, hw_batch))
}

/// The PC update as the hardware forms it: errors and activations at the equilibrium `z` of
/// `hw`, each read through the ADC before the outer products.
pub fn hardware_pc_update(
    hw: &Network<f64>,
    hw_batch: &Batch<f64>,
    z: &[f64],
    adc: &Converter,
) -> Vec<DMatrix<f64>> {
    hw.pc_weight_gradients_read(hw_batch, z, |v| adc.convert_all(v))
}

/// Runs the check. `dac` converts the inputs, `adc` every value read out for the update.
pub fn gradient_check(
    net: &Network<f64>,
    mapped: &MappedNetwork,
    batch: &Batch<f64>,
    dac: &Converter,
    adc: &Converter,
    opts: &InferenceOptions,
) -> Result<HardwareCheck, CheckError> {
    let (hw, hw_batch) = hardware_network(net, mapped, batch, dac)?;

    let ideal_inference = infer(net, batch, opts)?;
    let pc_ideal = net.pc_weight_gradients(batch, &ideal_inference.z);
    let (_, bp_ideal) = net.bp_gradients(batch);

    let hardware_inference = infer(&hw, &hw_batch, opts)?;
    let pc_hardware = hardware_pc_update(&hw, &hw_batch, &hardware_inference.z, adc);
    // BP runs the forward weights only: the hardware's own forward pass.
    let (_, bp_effective) = hw.bp_gradients(&hw_batch);

    let errors = |ws: &[DMatrix<f64>]| -> Vec<f64> {
        ws.iter()
            .zip(net.weights())
            .map(|(a, w)| relative_frobenius(a, w))
            .collect()
    };
    Ok(HardwareCheck {
        ideal: alignment(&pc_ideal, &bp_ideal),
        vs_bp_ideal: alignment(&pc_hardware, &bp_ideal),
        vs_bp_effective: alignment(&pc_hardware, &bp_effective),
        weight_error_forward: errors(&mapped.forward_weights()),
        weight_error_backward: errors(&mapped.backward_weights()),
        ideal_inference,
        hardware_inference,
        pc_hardware,
        bp_ideal,
        bp_effective,
    })
}
