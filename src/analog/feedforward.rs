//! One feedforward read per layer, as an inference chip works (docs/circuit-model.md,
//! "Latency and throughput"): the DACs convert the inputs, each layer's arrays are read in
//! turn through their TIAs (and on hidden layers the activation circuits), and the ADCs
//! convert the outputs; nothing relaxes. PC's inference starts from the same pass, so its
//! cost is priced here for both modes.
//!
//! Energy of a read: the supply power of the forward drivers and TIA output stages at the
//! feedforward state ([`EnergyModel::add_read_power`]) over the time the layer is driven.

use super::circuit::AnalogCircuit;
use super::energy::{ByLayer, Component, EnergyModel, ReadState};
use super::sim::{SampleSettling, Simulation, Traces};
use crate::hardware::latency::StageTimes;
use crate::network::Activation;
use crate::numeric::Real;

/// The circuit at its feedforward pass.
#[derive(Clone, Debug)]
pub struct FeedforwardPass {
    pub widths: Vec<usize>,
    pub batch: usize,
    /// Value nodes (the layout of [`AnalogCircuit::value_layout`]) and error outputs per layer
    /// (`n_l x B`).
    pub z: Vec<f64>,
    pub e: Vec<Vec<f64>>,
    /// Supply power of the forward reads at this state, summed over the batch, per layer and
    /// component (watts): drivers, TIA output stages and the devices' Joule heat.
    pub read_power: ByLayer,
}

/// The feedforward pass of `circ` on inputs `x` and targets `y` (offsets, finite gain and
/// rails included, no noise), with the power of its reads.
pub fn feedforward_pass<T: Real>(
    circ: &AnalogCircuit<T>,
    model: &EnergyModel,
    x: &[T],
    y: &[T],
    batch: usize,
) -> FeedforwardPass {
    let state = circ.initial_state(x, y, batch);
    let n_z = circ.value_layout(batch).len();
    let mut ws = circ.workspace(batch);
    circ.errors(&mut ws, x, y, &state[..n_z], None);
    // A feedforward read drives no backward line.
    let no_err: Vec<Vec<T>> = ws.eps.iter().map(|e| vec![T::zero(); e.len()]).collect();
    let no_back: Vec<Vec<T>> = ws.back.iter().map(|b| vec![T::zero(); b.len()]).collect();
    let mut read_power = vec![[0.0; Component::COUNT]; circ.layers.len()];
    let read = ReadState {
        x,
        phi: &ws.phi,
        err: &no_err,
        pred: &ws.pred,
        back: &no_back,
    };
    model.add_read_power(circ, read, &mut read_power);
    let to_f64 = |v: &[T]| -> Vec<f64> { v.iter().map(|u| u.to_f64()).collect() };
    FeedforwardPass {
        widths: circ.widths.clone(),
        batch,
        z: to_f64(&state[..n_z]),
        e: ws.eps.iter().map(|e| to_f64(e)).collect(),
        read_power,
    }
}

/// How long each layer's arrays are driven, from the start of the inference to the end of the
/// feedforward phase: in feedforward mode only its own stage (the DAC conversion and the read
/// for layer 1, the read for the others: the next layer holds what it read); before PC's
/// relaxation, from its read to the end of the last layer's (the relaxation goes on driving
/// them).
fn driven_seconds(layers: usize, t: &StageTimes, pc: bool) -> Vec<f64> {
    (1..=layers)
        .map(|l| {
            let reads = if pc { (layers - l + 1) as f64 } else { 1.0 };
            reads * t.read + if l == 1 { t.dac } else { 0.0 }
        })
        .collect()
}

/// Energy of one feedforward inference of the batch, per layer and component (joules): each
/// layer's reads over the time it is driven, with the bias of its forward TIAs and activation
/// circuits (phi only) over the same time, the DAC conversions of the inputs and the ADC
/// conversions of the outputs.
pub fn feedforward_energy(
    model: &EnergyModel,
    pass: &FeedforwardPass,
    activation: Activation,
    t: &StageTimes,
) -> ByLayer {
    let (w, b) = (&pass.widths, pass.batch as f64);
    let l_out = w.len() - 1;
    let a = &model.amplifier_power_watts;
    let driven = driven_seconds(l_out, t, false);
    (1..=l_out)
        .map(|l| {
            let mut e = pass.read_power[l - 1].map(|p| p * driven[l - 1]);
            let phi = if l < l_out && activation != Activation::Linear {
                w[l]
            } else {
                0
            };
            e[Component::Tia.index()] += b * w[l] as f64 * a[0] * driven[l - 1];
            e[Component::Activation.index()] += b * phi as f64 * a[3] * driven[l - 1];
            if l == 1 {
                e[Component::Dac.index()] += b * w[0] as f64 * model.dac_energy_joules;
            }
            if l == l_out {
                e[Component::Adc.index()] += b * w[l] as f64 * model.adc_energy_joules;
            }
            e
        })
        .collect()
}

/// Energy of PC's feedforward phase for the batch, per layer and component (joules): every
/// amplifier biased from the first DAC conversion to the end of the last layer's read, each
/// layer's reads from its own read on. Its conversions are the relaxation's (counted there).
pub fn pc_feedforward_phase_energy(
    model: &EnergyModel,
    pass: &FeedforwardPass,
    t: &StageTimes,
) -> ByLayer {
    let l_out = pass.widths.len() - 1;
    let phase = t.dac + l_out as f64 * t.read;
    let driven = driven_seconds(l_out, t, true);
    model
        .static_power()
        .iter()
        .zip(&pass.read_power)
        .zip(&driven)
        .map(|((bias, read), &d)| {
            let mut e = [0.0; Component::COUNT];
            for (i, v) in e.iter_mut().enumerate() {
                *v = bias[i] * pass.batch as f64 * phase + read[i] * d;
            }
            e
        })
        .collect()
}

/// The feedforward mode's record, in the form of a simulation that did not relax: the state
/// and errors of the feedforward pass, every sample settled at 0 s, the inference window the
/// feedforward latency (`window_seconds`) and its `energy`.
pub fn feedforward_simulation(
    pass: &FeedforwardPass,
    dt_seconds: f64,
    window_seconds: f64,
    energy: ByLayer,
) -> Simulation {
    Simulation {
        batch: pass.batch,
        steps: 0,
        t_end_seconds: 0.0,
        dt_seconds,
        evaluations: 1,
        steady: true,
        // Not measured: nothing was integrated.
        residual: f64::NAN,
        final_z: pass.z.clone(),
        final_e: pass.e.clone(),
        final_z_std: vec![0.0; pass.z.len()],
        settling: vec![
            SampleSettling {
                time_seconds: 0.0,
                steps: 0,
            };
            pass.batch
        ],
        window_seconds,
        energy: Some(energy),
        traces: Traces::default(),
    }
}
