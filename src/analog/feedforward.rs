//! One feedforward read per layer, as an inference chip works (docs/circuit-model.md,
//! "Latency and throughput"): each layer's DACs convert its inputs, its arrays are read through
//! the TIAs, and its ADCs convert the outputs, which the next layer's DACs take (the
//! activation applied on the digital side, as HERMES's and NeuRRAM's cores do); nothing
//! relaxes. PC's inference starts from the same pass read through the analog chain (the
//! activation circuits between layers, one DAC conversion at the input), so both modes are
//! priced here.
//!
//! Energy of a read: the supply power of the forward drivers and TIA output stages at the
//! feedforward state ([`EnergyModel::add_read_power`]) over the time the layer is driven. The
//! reads are priced at the analog pass's values; the conversions between layers move them by
//! at most half an LSB.

use super::circuit::AnalogCircuit;
use super::energy::{ByLayer, Component, EnergyModel, ReadState};
use super::sim::{SampleSettling, Simulation, Traces};
use crate::hardware::latency::StageTimes;
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

/// How long each layer's arrays are driven before PC's relaxation: from its read to the end
/// of the last layer's (the relaxation goes on driving them), layer 1 from the DAC conversion.
fn pc_driven_seconds(layers: usize, t: &StageTimes) -> Vec<f64> {
    (1..=layers)
        .map(|l| (layers - l + 1) as f64 * t.read + if l == 1 { t.dac } else { 0.0 })
        .collect()
}

/// Energy of one feedforward inference of the batch, per layer and component (joules): each
/// layer's read and the bias of its forward TIAs while its DACs convert and the read settles
/// (the ADCs sample and hold the result), its DAC conversions of the inputs and its ADC
/// conversions of the outputs, and the core's digital side of both.
pub fn feedforward_energy(model: &EnergyModel, pass: &FeedforwardPass, t: &StageTimes) -> ByLayer {
    let (w, b) = (&pass.widths, pass.batch as f64);
    let driven = t.dac + t.read;
    (1..w.len())
        .map(|l| {
            let mut e = pass.read_power[l - 1].map(|p| p * driven);
            e[Component::Tia.index()] += b * w[l] as f64 * model.amplifier_power_watts[0] * driven;
            e[Component::Dac.index()] += b * w[l - 1] as f64 * model.dac_energy_joules;
            e[Component::Adc.index()] += b * w[l] as f64 * model.adc_energy_joules;
            e[Component::Core.index()] += b * model.core_energy((w[l - 1], w[l]));
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
    let driven = pc_driven_seconds(l_out, t);
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

/// The feedforward pass as traces of one output point at t = 0, of the first `samples`
/// samples.
fn one_point(pass: &FeedforwardPass, samples: usize) -> Traces {
    let (w, b) = (&pass.widths, pass.batch);
    let k = samples.min(b);
    let first = |v: &[f64], n: usize| v[..n * k].to_vec();
    let mut start = 0;
    let z = (1..w.len() - 1)
        .map(|l| {
            let layer = &pass.z[start..start + w[l] * b];
            start += w[l] * b;
            first(layer, w[l])
        })
        .collect();
    Traces {
        time_seconds: vec![0.0],
        samples: (0..k).collect(),
        z,
        e: pass
            .e
            .iter()
            .zip(&w[1..])
            .map(|(e, &n)| first(e, n))
            .collect(),
        power_watts: Vec::new(),
        energy_joules: Vec::new(),
    }
}

/// The feedforward mode's record, in the form of a simulation that did not relax: the state
/// and errors of the feedforward pass (traced for the first `trace_samples` samples), every
/// sample settled at 0 s, the inference window the feedforward latency (`window_seconds`) and
/// its `energy`.
pub fn feedforward_simulation(
    pass: &FeedforwardPass,
    (dt_seconds, trace_samples): (f64, usize),
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
        // Nothing relaxes, so nothing settles at the readout either.
        readout_settling: Vec::new(),
        window_seconds,
        energy: Some(energy),
        traces: one_point(pass, trace_samples),
    }
}
