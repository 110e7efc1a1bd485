//! Every JPC reference case (`tests/data/reference/*.h5` and the shipped
//! `circuits/reference/tanh_mupc_skips.h5`; see tests/data/reference/README.md) reproduced from
//! its weights and batch alone, through every solver that applies, to the tolerances of the core
//! issue.
//!
//! The files were computed by the JPC library (JAX, float64); they are an outside
//! implementation, so agreement here checks the network, the solvers and the HDF5 layer at once.

use apcsim::io::h5::{Array, H5Reader};
use apcsim::io::reference::{read_reference, ReferenceInput};
use apcsim::study::reference::{run_reference, EquilibriumSolver, ReferenceOptions};

mod common;

const CASES: [&str; 4] = [
    "lin_mupc_skips",
    "lin_sp_noskip",
    "silu_sp_noskip",
    "tanh_mupc_skips",
];

/// Every reference file in the repository is one of the cases the tests run.
#[test]
fn every_reference_file_of_the_repository_is_a_case() {
    let found = common::h5_stems(&["circuits/reference", "tests/data/reference"]);
    assert_eq!(found, CASES);
}

fn load(name: &str) -> ReferenceInput {
    let p = common::reference_case(name);
    read_reference(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// max |a - b| and max |a - b| / max |b|.
fn diff(ours: &Array, theirs: &Array) -> (f64, f64) {
    assert_eq!(ours.shape, theirs.shape);
    let abs = ours
        .data
        .iter()
        .zip(&theirs.data)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    let scale = theirs.data.iter().map(|v| v.abs()).fold(0.0, f64::max);
    (abs, if scale > 0.0 { abs / scale } else { abs })
}

enum Tol {
    Rel(f64),
    Abs(f64),
}

fn check(case: &str, ours: &H5Reader, theirs: &H5Reader, dataset: &str, tol: Tol) {
    let a = ours
        .array(dataset)
        .unwrap_or_else(|e| panic!("{case}: ours: {e}"));
    let b = theirs
        .array(dataset)
        .unwrap_or_else(|e| panic!("{case}: reference: {e}"));
    let (abs, rel) = diff(&a, &b);
    match tol {
        Tol::Rel(t) => assert!(rel <= t, "{case} {dataset}: relative {rel:e} > {t:e}"),
        Tol::Abs(t) => assert!(abs <= t, "{case} {dataset}: absolute {abs:e} > {t:e}"),
    }
}

fn run(input: &ReferenceInput, solver: EquilibriumSolver) -> H5Reader {
    let opts = ReferenceOptions {
        solver,
        ..ReferenceOptions::default()
    };
    let out = run_reference(input, &opts).expect("reference run");
    H5Reader::from_bytes(out.output.to_bytes().expect("encode")).expect("decode")
}

/// The acceptance tolerances of the core issue, with the default solvers: closed form for the
/// linear cases, Dop853 to max|dz/dt| < 1e-12 for the nonlinear ones.
#[test]
fn every_case_reproduced_with_default_solvers() {
    for case in CASES {
        let input = load(case);
        let ours = run(&input, EquilibriumSolver::Auto);
        let theirs = &input.reader;
        let l_out = input.network.n_layers();
        for l in 1..l_out {
            check(case, &ours, theirs, &format!("ffwd/z{l}"), Tol::Rel(1e-12));
            check(case, &ours, theirs, &format!("euler/z{l}"), Tol::Abs(1e-9));
            check(
                case,
                &ours,
                theirs,
                &format!("equilibrium/z{l}"),
                Tol::Rel(1e-8),
            );
        }
        check(case, &ours, theirs, "ffwd/yhat", Tol::Rel(1e-12));
        check(case, &ours, theirs, "loss_bp", Tol::Rel(1e-12));
        check(case, &ours, theirs, "equilibrium/energy", Tol::Rel(1e-8));
        check(
            case,
            &ours,
            theirs,
            "euler/energy_every_10_steps",
            Tol::Rel(1e-9),
        );
        check(case, &ours, theirs, "scalings", Tol::Rel(1e-15));
        for l in 0..l_out {
            check(
                case,
                &ours,
                theirs,
                &format!("grads/pc/W{l}"),
                Tol::Rel(1e-8),
            );
            check(
                case,
                &ours,
                theirs,
                &format!("grads/bp/W{l}"),
                Tol::Rel(1e-8),
            );
        }
        check(case, &ours, theirs, "metrics/cos_sim", Tol::Abs(1e-9));
        check(
            case,
            &ours,
            theirs,
            "metrics/cos_sim_per_layer",
            Tol::Abs(1e-9),
        );
    }
}

/// Each solver that applies reaches the reference equilibrium. All stop at max|dz/dt| < 1e-12;
/// with the slowest relaxation rate of these cases (>= 0.01) that leaves the state within
/// ~1e-10 of the equilibrium, well inside 1e-8 relative.
#[test]
fn every_solver_reaches_the_reference_equilibrium() {
    for case in CASES {
        let input = load(case);
        let linear = input.network.activation().is_linear();
        let mut solvers = vec![
            EquilibriumSolver::Euler,
            EquilibriumSolver::Rk4,
            EquilibriumSolver::Dopri5,
            EquilibriumSolver::Dop853,
            EquilibriumSolver::Newton,
        ];
        if linear {
            solvers.push(EquilibriumSolver::ClosedForm);
        }
        for solver in solvers {
            let ours = run(&input, solver);
            let name = format!("{case} ({solver:?})");
            for l in 1..input.network.n_layers() {
                check(
                    &name,
                    &ours,
                    &input.reader,
                    &format!("equilibrium/z{l}"),
                    Tol::Rel(1e-8),
                );
            }
            check(
                &name,
                &ours,
                &input.reader,
                "equilibrium/energy",
                Tol::Rel(1e-8),
            );
            check(
                &name,
                &ours,
                &input.reader,
                "metrics/cos_sim",
                Tol::Abs(1e-9),
            );
            let converged = ours.attr("equilibrium", "converged").unwrap();
            assert_eq!(converged.and_then(|a| a.as_i64()), Some(1), "{name}");
        }
    }
}

/// The closed-form energy in output space, F* = 1/(2B) sum r^T S^-1 r, is an oracle that never
/// computes an activity: it must equal the energy at the closed-form activities and the JPC
/// equilibrium energy.
#[test]
fn linear_equilibrium_energy_matches_output_space_formula() {
    for case in ["lin_mupc_skips", "lin_sp_noskip"] {
        let input = load(case);
        let f_star =
            apcsim::network::closed_form::equilibrium_energy(&input.network, &input.batch).unwrap();
        let jpc = input.reader.array("equilibrium/energy").unwrap().data[0];
        assert!(
            ((f_star - jpc) / jpc).abs() < 1e-12,
            "{case}: {f_star} vs {jpc}"
        );
    }
}
