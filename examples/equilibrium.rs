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
    for name in solvers {
        let solver = match name {
            "newton" => Solver::newton(),
            "dop853" => Solver::Dop853 {
                rtol: 1e-11,
                atol: 1e-13,
            },
            "euler" => Solver::Euler { dt: 0.5 },
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
