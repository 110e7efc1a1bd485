//! One equilibrium of the benchmark network (benches/common/network.rs) by each solver, with
//! its iterations, evaluations, residual and wall time:
//! `cargo run --release --example equilibrium -- [N] [L] [solver...]` (default N = 256,
//! L = 8, every solver; solvers: newton, dop853, euler). The record
//! benches/runs/2026-12-05-equilibrium.md quotes its output for N = 1024, L = 32.

use apcsim::dynamics::{infer, InferenceOptions, Solver, Stop};
use std::time::Instant;

#[path = "../benches/common/network.rs"]
mod network;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n = args.first().map_or(Ok(256), |s| s.parse())?;
    let l = args.get(1).map_or(Ok(8), |s| s.parse())?;
    let mut solvers: Vec<&str> = args.iter().skip(2).map(String::as_str).collect();
    if solvers.is_empty() {
        solvers = vec!["newton", "dop853", "euler"];
    }
    let (net, batch) = network::benchmark_network::<f64>(n, l);
    println!("tanh muPC residual, D = 64, N = {n}, L = {l}, O = 10, B = 64, f64");
    let stop = Stop::steady(1e-10, 10_000_000);
    let mut dt = f64::NAN;
    if solvers.contains(&"euler") {
        dt = largest_stable_euler_step(&net, &batch)?;
        println!("euler dt = {dt:.4} (0.98 x 2 / lambda_max of the Hessian at the equilibrium)");
    }
    for name in solvers {
        let solver = match name {
            "newton" => Solver::newton(),
            "dop853" => Solver::Dop853 {
                rtol: 1e-11,
                atol: 1e-13,
            },
            "euler" => Solver::Euler { dt },
            other => anyhow::bail!("unknown solver {other}"),
        };
        let t0 = Instant::now();
        let r = infer(&net, &batch, &InferenceOptions::new(solver, stop))?;
        let secs = t0.elapsed().as_secs_f64();
        println!(
            "{name:<8} {secs:>9.3} s  steps {:>7}  rhs evals {:>8}  max|dz/dt| {:.3e}  converged {}",
            r.steps, r.rhs_evals, r.max_dzdt, r.converged
        );
        if let Some(s) = &r.newton {
            println!("         {s:?}");
        }
    }
    Ok(())
}

/// 0.98 x 2 / lambda_max, lambda_max the largest eigenvalue of the activity Hessian at the
/// equilibrium over every sample (power iteration on finite differences of the gradient):
/// Euler multiplies the error along an eigenvector by 1 - dt lambda, so any longer step
/// diverges.
fn largest_stable_euler_step(
    net: &apcsim::network::Network<f64>,
    batch: &apcsim::network::Batch<f64>,
) -> anyhow::Result<f64> {
    let stop = Stop::steady(1e-10, 10_000_000);
    let z = infer(net, batch, &InferenceOptions::new(Solver::newton(), stop))?.z;
    let b = batch.size();
    let (x, y) = (batch.x.as_slice(), batch.y.as_slice());
    let mut ws = net.workspace(b);
    let mut grad = |zz: &[f64]| {
        let mut g = vec![0.0; zz.len()];
        net.activity_gradient(x, y, zz, &mut ws, &mut g);
        g
    };
    let g0 = grad(&z);
    let mut v: Vec<f64> = (0..z.len()).map(|k| (0.7 * k as f64).sin()).collect();
    let mut lambda = 0.0;
    for _ in 0..300 {
        let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
        v.iter_mut().for_each(|a| *a /= norm);
        let h = 1e-6;
        let zh: Vec<f64> = z.iter().zip(&v).map(|(a, b)| a + h * b).collect();
        let hv: Vec<f64> = grad(&zh)
            .iter()
            .zip(&g0)
            .map(|(a, b)| (a - b) / h)
            .collect();
        lambda = hv.iter().zip(&v).map(|(a, b)| a * b).sum::<f64>();
        v = hv;
    }
    Ok(0.98 * 2.0 / lambda)
}
