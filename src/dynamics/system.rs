//! Right-hand sides dz/dt = f(t, z) over flat state buffers.

use crate::network::model::max_abs;
use crate::network::{Network, Workspace};
use crate::numeric::Real;

/// Which evaluation of a step a right-hand side serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// The first, at the state the step starts from; a stochastic system adds the step's
    /// noise increment.
    Start,
    /// A later evaluation that adds the step's noise increment again (Heun's corrector).
    Corrector,
    /// A later evaluation without noise (the inner stages of Runge–Kutta).
    Inner,
}

/// An ODE right-hand side evaluated in place. Knows nothing of time stepping.
pub trait System<T: Real> {
    /// Length of the state vector.
    fn dim(&self) -> usize;
    /// Writes f(t, z) into `dz`.
    fn rhs(&mut self, t: T, z: &[T], dz: &mut [T]);
    /// Number of evaluations so far.
    fn evaluations(&self) -> usize;

    /// Writes f(t, z) into `dz` as evaluation `stage` of a step. A stochastic system adds the
    /// step's noise where [`Stage`] says; the default is [`System::rhs`].
    fn rhs_stage(&mut self, stage: Stage, t: T, z: &[T], dz: &mut [T]) {
        let _ = stage;
        self.rhs(t, z, dz);
    }

    /// The [`Stage::Start`] evaluation of Euler's step, fused with its update: adds `h f(t, z)`
    /// to `z` in place. `scratch` (length `dim`) may be overwritten.
    ///
    /// Systems that evaluate f in parallel pieces override this to update each piece of `z`
    /// where it was computed, rather than in a serial pass afterwards.
    fn rhs_axpy(&mut self, t: T, h: T, z: &mut [T], scratch: &mut [T]) {
        self.rhs_stage(Stage::Start, t, z, scratch);
        for (zi, &f) in z.iter_mut().zip(scratch.iter()) {
            *zi += h * f;
        }
    }

    /// Brings a state the scheme computed back into the system's admissible set (a circuit's
    /// rails). The default leaves it alone.
    fn constrain(&self, z: &mut [T]) {
        let _ = z;
    }
}

/// Ideal PC inference on a batch (or a chunk of one): dz/dt = -dE_i/dz_i for every sample i,
/// with algebraic error nodes. The inputs and targets stay clamped.
pub struct GradientFlow<'a, T: Real> {
    net: &'a Network<T>,
    x: &'a [T],
    y: &'a [T],
    ws: Workspace<T>,
    evals: usize,
    /// max|f| at the last [`Stage::Start`] evaluation.
    start_rate: T,
}

impl<'a, T: Real> GradientFlow<'a, T> {
    /// `x` is D x b and `y` O x b, column-major, for a batch of `b` samples.
    pub fn new(net: &'a Network<T>, x: &'a [T], y: &'a [T], b: usize) -> Self {
        GradientFlow {
            net,
            x,
            y,
            ws: net.workspace(b),
            evals: 0,
            start_rate: T::zero(),
        }
    }

    /// The per-sample energies E_i at the state of the last evaluation.
    pub fn sample_energies_of_last(&self) -> Vec<f64> {
        self.net
            .sample_energies(&self.ws)
            .iter()
            .map(|e| e.to_f64())
            .collect()
    }

    /// max|dz/dt| at the state the last step started from.
    pub fn rate_at_step_start(&self) -> T {
        self.start_rate
    }

    /// Samples in this batch.
    pub fn batch(&self) -> usize {
        self.ws.batch()
    }

    /// The first non-finite activity in `z`, as (layer, node, sample, value).
    pub fn locate_non_finite(&self, z: &[T]) -> Option<(usize, usize, usize, f64)> {
        self.net.layout(self.ws.batch()).locate_non_finite(z)
    }
}

impl<T: Real> System<T> for GradientFlow<'_, T> {
    fn dim(&self) -> usize {
        self.net.layout(self.ws.batch()).len()
    }

    fn rhs(&mut self, _t: T, z: &[T], dz: &mut [T]) {
        self.net
            .activity_gradient(self.x, self.y, z, &mut self.ws, dz);
        for v in dz.iter_mut() {
            *v = -*v;
        }
        self.evals += 1;
    }

    fn evaluations(&self) -> usize {
        self.evals
    }

    fn rhs_stage(&mut self, stage: Stage, t: T, z: &[T], dz: &mut [T]) {
        self.rhs(t, z, dz);
        if stage == Stage::Start {
            self.start_rate = max_abs(dz);
        }
    }

    fn rhs_axpy(&mut self, _t: T, h: T, z: &mut [T], _scratch: &mut [T]) {
        self.evals += 1;
        // f = -g, and z - h g rounds exactly as z + h f.
        self.start_rate = self
            .net
            .descend_activities(self.x, self.y, z, &mut self.ws, h);
    }
}
