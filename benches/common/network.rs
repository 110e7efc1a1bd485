//! The network of the inference benchmarks: a tanh muPC residual MLP with input D = 64, output
//! O = 10 and a batch of B = 64 standard-normal inputs and targets, of hidden width `n` and
//! `l` weight layers (N = 256, L = 8 in the records unless they say otherwise).

use apcsim::network::{Activation, Architecture, Batch, Network, Parameterisation};
use apcsim::Real;
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

pub fn benchmark_network<T: Real>(n: usize, l: usize) -> (Network<T>, Batch<T>) {
    benchmark_network_of_batch(n, l, 64)
}

/// [`benchmark_network`] with a batch of `b` samples.
pub fn benchmark_network_of_batch<T: Real>(n: usize, l: usize, b: usize) -> (Network<T>, Batch<T>) {
    let (d, o) = (64, 10);
    let mut widths = vec![d];
    widths.extend(std::iter::repeat_n(n, l - 1));
    widths.push(o);
    let arch = Architecture {
        widths,
        activation: Activation::Tanh,
        parameterisation: Parameterisation::Mupc,
        skips: true,
        gamma0: 1.0,
        output_precision: 1.0,
    };
    let net = Network::<T>::init(arch, 1).expect("valid architecture");
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(2);
    let mut draw = |r, c| {
        DMatrix::<T>::from_fn(r, c, |_, _| {
            T::of_f64(<StandardNormal as Distribution<f64>>::sample(
                &StandardNormal,
                &mut rng,
            ))
        })
    };
    let batch = Batch {
        x: draw(d, b),
        y: draw(o, b),
    };
    (net, batch)
}
