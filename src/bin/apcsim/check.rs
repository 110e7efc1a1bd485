//! `apcsim check`: load a design, check it, print the resolved design, its mapping and, with
//! `--gradient`, the alignment of the hardware update.

use crate::args::Overrides;
use crate::exit::Failure;
use apcsim::config::{self, Circuit, LoadOptions};
use apcsim::design::build::{build, mapping_report, Built};
use apcsim::design::hardware::CheckError;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
#[command(mut_arg("set", |a| a.help(
    "Override a key, e.g. --set device.levels=16 --set dynamics.tau_z=200ns (repeatable, \
     applied in order)"
)))]
pub struct CheckArgs {
    /// The circuit description (TOML).
    file: PathBuf,
    #[command(flatten)]
    overrides: Overrides,
    /// Print the resolved configuration as JSON (every key, SI units, and where each value
    /// came from) instead of the summary.
    #[arg(long)]
    json: bool,
    /// Also run the gradient check: PC inference (the equilibrium by Newton-Krylov to
    /// max|dz/dt| < 1e-10, Dop853 where Newton fails) on the effective hardware weights, the
    /// update read through the ADC, against BP.
    #[arg(long)]
    gradient: bool,
}

pub fn check(args: CheckArgs) -> Result<(), Failure> {
    let circuit = config::load(&args.file, &args.overrides.set, &LoadOptions::default())?;
    if args.json {
        sayln!("{}", serde_json::to_string_pretty(&circuit.config)?);
        return Ok(());
    }
    let file = args.file.display();
    let built = build(&circuit).map_err(|e| Failure::from(e).context(&file))?;
    let mut text = format!(
        "{file}: ok\n{}\n{}",
        circuit.summary(),
        mapping_report(&circuit, &built)
    );
    if args.gradient {
        let g = gradient_report(&circuit, &built).map_err(|e| Failure::from(e).context(&file))?;
        text.push_str(&g);
    }
    say!("{text}");
    Ok(())
}

/// The gradient check of `apcsim check --gradient`, as text.
fn gradient_report(circuit: &Circuit, built: &Built) -> Result<String, CheckError> {
    use apcsim::dynamics::{InferenceOptions, Solver, Stop};
    let opts = InferenceOptions::new(
        Solver::Newton {
            max_iterations: apcsim::dynamics::NEWTON_MAX_ITERATIONS,
            rtol: 1e-11,
            atol: 1e-13,
        },
        Stop::steady(1e-10, 1_000_000),
    );
    let c = apcsim::design::hardware::gradient_check(
        &built.network,
        &built.mapped,
        &built.batch,
        &circuit.periphery.dac,
        &circuit.periphery.adc,
        &opts,
    )?;
    let mut s = format!(
        "gradient check on {} samples (cos sim / norm ratio):\n",
        built.batch.size()
    );
    let row = |name: &str, a: &apcsim::network::Alignment| {
        let per: Vec<String> = a.per_layer.iter().map(|v| format!("{v:.4}")).collect();
        format!(
            "  {name:<34} {:.6} / {:.4}   per layer [{}]\n",
            a.overall,
            a.norm_ratio,
            per.join(", ")
        )
    };
    for (name, inf) in [
        ("ideal", &c.ideal_inference),
        ("hardware", &c.hardware_inference),
    ] {
        if let Some(f) = inf.newton.as_ref().and_then(|n| n.fallback.as_ref()) {
            s.push_str(&format!("  {name} network: {f}\n"));
        }
    }
    s.push_str(&row("ideal circuit: PC vs BP", &c.ideal));
    s.push_str(&row("hardware PC vs BP (ideal weights)", &c.vs_bp_ideal));
    s.push_str(&row(
        "hardware PC vs BP (effective weights)",
        &c.vs_bp_effective,
    ));
    Ok(s)
}
