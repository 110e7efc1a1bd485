//! The analog circuit's right-hand side on one chunk of samples: what the fixed-step
//! integrators and the exponential scheme both evaluate.

use super::circuit::{AnalogCircuit, CircuitWorkspace, NoiseSample};
use crate::dynamics::{Stage, System};
use crate::numeric::Real;

/// The circuit's right-hand side on one chunk of samples, as the stepper evaluates it.
pub(super) struct ChunkFlow<'a, T: Real> {
    pub(super) circ: &'a AnalogCircuit<T>,
    pub(super) x: Vec<T>,
    pub(super) y: Vec<T>,
    /// The start stage's buffers: after a step, the activations and errors of the state the
    /// step started from.
    pub(super) ws: CircuitWorkspace<T>,
    /// Later stages' buffers.
    pub(super) ws2: CircuitWorkspace<T>,
    /// The step's noise (a noisy run): standard normals, scaled to the densities at the start
    /// stage and reused by Heun's corrector.
    pub(super) noise: Option<NoiseSample<T>>,
    /// max|dz/ds| per sample at the last start-stage (or noise-free) evaluation.
    pub(super) drive: Vec<T>,
    pub(super) drive_scratch: Vec<T>,
    pub(super) evals: usize,
}

impl<T: Real> System<T> for ChunkFlow<'_, T> {
    fn dim(&self) -> usize {
        self.circ.state_len(self.drive.len())
    }

    /// The noise-free derivative, into the start stage's buffers.
    fn rhs(&mut self, _t: T, z: &[T], dz: &mut [T]) {
        let (x, y) = (&self.x[..], &self.y[..]);
        self.circ
            .rhs(&mut self.ws, x, y, z, None, dz, &mut self.drive);
        self.evals += 1;
    }

    fn rhs_stage(&mut self, stage: Stage, _t: T, z: &[T], dz: &mut [T]) {
        let (x, y) = (&self.x[..], &self.y[..]);
        let noise = self.noise.as_mut();
        let (ws, noise, drive) = match stage {
            Stage::Start => (&mut self.ws, noise, &mut self.drive),
            Stage::Corrector => (&mut self.ws2, noise, &mut self.drive_scratch),
            Stage::Inner => (&mut self.ws2, None, &mut self.drive_scratch),
        };
        self.circ.rhs(ws, x, y, z, noise, dz, drive);
        self.evals += 1;
    }

    fn evaluations(&self) -> usize {
        self.evals
    }

    fn constrain(&self, z: &mut [T]) {
        self.circ.clamp(z);
    }
}

/// The error amplifiers' inputs at `z` into `ws.eps`, with the amplifiers' 1/f noise of the
/// step added (a noisy run with a flicker corner): what the exponential scheme's stages read.
pub(super) fn noisy_error_inputs<T: Real>(
    circ: &AnalogCircuit<T>,
    ws: &mut CircuitWorkspace<T>,
    (x, y): (&[T], &[T]),
    z: &[T],
    noise: Option<&NoiseSample<T>>,
) {
    circ.errors(ws, x, y, z, None);
    if let Some(f) = noise.and_then(|ns| ns.flicker.as_ref()) {
        f.add_to_all_errors(&mut ws.eps);
    }
}
