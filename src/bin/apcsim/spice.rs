//! `apcsim export-spice` and `apcsim spice-check`: their arguments and how they run (kept out of
//! main.rs, which only dispatches to them).

use apcsim::config::{self, LoadOptions};
use apcsim::spice::{
    check::{keep_dir, median, ReferenceKind, DEFAULT_TIMEOUT_SECONDS},
    spice_check, write_netlist, CheckOptions, NetlistOptions, SpiceDesign, SpiceError,
    DEFAULT_MAX_DEVICES,
};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// What both commands share: the design, its overrides, the sample and the output grid.
#[derive(clap::Args, Debug)]
pub struct DesignArgs {
    /// The circuit description (TOML).
    pub file: PathBuf,
    /// Override a key, e.g. --set dynamics.tau_e=0 (repeatable, applied in order).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// The batch sample the netlist holds (one sample per netlist).
    #[arg(long, default_value_t = 0)]
    pub sample: usize,
    /// The `.tran` step (and ngspice's largest step) is dynamics.t_max over this many points.
    #[arg(long, default_value_t = NetlistOptions::default().points)]
    pub points: usize,
}

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    #[command(flatten)]
    pub design: DesignArgs,
    /// Where to write the netlist.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    #[command(flatten)]
    pub design: DesignArgs,
    /// Refuse designs with more crossbar resistors than this — devices, plus two wire segments
    /// per device with IR drop (exit code 2).
    #[arg(long, default_value_t = DEFAULT_MAX_DEVICES)]
    pub max_devices: usize,
    /// Run ngspice and apcsim this many times each and report median wall times (at least 1).
    #[arg(long, default_value_t = 1)]
    pub repeat: usize,
    /// Keep the netlist and ngspice's data files in this directory (created if missing; a path
    /// that exists as a file is refused, exit code 2). Without it they go to a temporary
    /// directory, $TMPDIR/apcsim-spice-PID-N, removed when the check ends, on an error or a
    /// timeout too; an interrupt (Ctrl-C) or a kill leaves it behind.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
    /// Kill an ngspice run that takes longer than this many seconds and exit with code 4
    /// (`inf`: no limit).
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = DEFAULT_TIMEOUT_SECONDS,
        allow_negative_numbers = true
    )]
    pub timeout: f64,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// ngspice's RELTOL (default: the netlist's documented tolerances).
    #[arg(long)]
    pub reltol: Option<f64>,
    /// apcsim's side: the analog circuit of `apcsim run` (every term of the circuit model, the
    /// design's scheme and dt), or the gradient flow (Dop853; tau_e = 0 without offsets, the
    /// equilibrium only for tau_e > 0).
    #[arg(long, value_enum, default_value_t = ReferenceArg::Analog)]
    pub reference: ReferenceArg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ReferenceArg {
    Analog,
    Flow,
}

fn fail(e: &dyn std::fmt::Display, code: u8) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(code)
}

fn load(args: &DesignArgs) -> Result<SpiceDesign, ExitCode> {
    load_with(args, &[])
}

/// The design with `extra` overrides applied after the command line's.
fn load_with(args: &DesignArgs, extra: &[&str]) -> Result<SpiceDesign, ExitCode> {
    if args.points == 0 {
        return Err(fail(&"--points must be at least 1", 2));
    }
    let mut set = args.set.clone();
    set.extend(extra.iter().map(|s| s.to_string()));
    let circuit =
        config::load(&args.file, &set, &LoadOptions::default()).map_err(|e| fail(&e, 2))?;
    let built = apcsim::study::build::build(&circuit)
        .map_err(|e| fail(&format!("{}: {e}", args.file.display()), 2))?;
    SpiceDesign::new(&circuit, &built, args.sample).map_err(|e| fail(&e, e.exit_code()))
}

fn netlist_options(args: &DesignArgs) -> NetlistOptions {
    NetlistOptions {
        points: args.points,
        ..NetlistOptions::default()
    }
}

/// `apcsim export-spice`.
pub fn export(args: ExportArgs) -> ExitCode {
    let design = match load(&args.design) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let netlist = write_netlist(&design, &netlist_options(&args.design));
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Err(e) = std::fs::create_dir_all(dir) {
            return fail(&format!("cannot create {}: {e}", dir.display()), 1);
        }
    }
    // A temporary name, then a rename: a failed export leaves any previous file whole.
    if let Err(e) = apcsim::io::write_atomic(&args.out, netlist.text.as_bytes()) {
        return fail(&format!("cannot write {}: {e}", args.out.display()), 1);
    }
    sayln!(
        "wrote {}: {} crossbar devices ({} resistors), {} wire segments; ngspice -b {} writes {}",
        args.out.display(),
        design.devices(),
        netlist.device_resistors,
        netlist.wire_resistors,
        args.out.display(),
        netlist
            .data_files
            .iter()
            .map(|d| d.file.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    ExitCode::SUCCESS
}

/// `apcsim spice-check`.
pub fn check(args: CheckArgs) -> ExitCode {
    if args.repeat == 0 {
        return fail(
            &"--repeat must be at least 1: the check runs ngspice and apcsim that many times",
            2,
        );
    }
    let timeout = if args.timeout == f64::INFINITY {
        None
    } else if args.timeout.is_finite() && args.timeout > 0.0 {
        // Beyond what a Duration holds (about 5.8e11 years) is no limit, like `inf`.
        Duration::try_from_secs_f64(args.timeout).ok()
    } else {
        return fail(
            &format!(
                "--timeout must be a positive number of seconds (or inf), got {}",
                args.timeout
            ),
            2,
        );
    };
    let design = match load(&args.design) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let mut netlist = netlist_options(&args.design);
    if let Some(r) = args.reltol {
        if !(r.is_finite() && r > 0.0 && r < 1.0) {
            return fail(&format!("--reltol must be in (0, 1), got {r}"), 2);
        }
        netlist.tolerances.reltol = r;
    }
    // Created only once everything else is known to be usable.
    if let Some(dir) = &args.keep {
        if let Err(e) = keep_dir(dir) {
            return fail(&e, e.exit_code());
        }
    }
    let opts = CheckOptions {
        netlist,
        max_devices: args.max_devices,
        repeat: args.repeat,
        work_dir: args.keep.clone(),
        timeout,
        reference: match args.reference {
            ReferenceArg::Analog => ReferenceKind::Analog,
            ReferenceArg::Flow => ReferenceKind::Flow,
        },
        ..CheckOptions::default()
    };
    // The same design with ideal wires, to measure how much the IR drop moves the equilibrium.
    let ideal_wires = if design.wire_resistance_ohms > 0.0 {
        match load_with(&args.design, &["crossbar.wire_resistance=0"]) {
            Ok(d) => Some(d),
            Err(code) => return code,
        }
    } else {
        None
    };
    let report = match spice_check(&design, ideal_wires.as_ref(), &opts) {
        Ok(r) => r,
        Err(e @ SpiceError::NoNgspice) => return fail(&e, 2),
        Err(e) => {
            return fail(
                &format!("{}: {e}", args.design.file.display()),
                e.exit_code(),
            )
        }
    };
    if args.json {
        let mut v = match serde_json::to_value(&report) {
            Ok(v) => v,
            Err(e) => return fail(&e, 1),
        };
        v["speedup"] = serde_json::json!(report.speedup());
        v["tolerances"] = serde_json::json!({
            "reltol": opts.netlist.tolerances.reltol,
            "abstol": opts.netlist.tolerances.abstol,
            "vntol": opts.netlist.tolerances.vntol,
            "chgtol": opts.netlist.tolerances.chgtol,
            "trtol": opts.netlist.tolerances.trtol,
            "method": opts.netlist.tolerances.method,
            "points": opts.netlist.points,
        });
        v["median_wall_ngspice_seconds"] = serde_json::json!(median(&report.wall_ngspice_seconds));
        v["median_wall_apcsim_seconds"] = serde_json::json!(median(&report.wall_apcsim_seconds));
        v["max_trajectory_rel"] = serde_json::json!(report.max_trajectory_rel());
        v["max_equilibrium_rel"] = serde_json::json!(report.max_equilibrium_rel());
        v["settling_rel"] = serde_json::json!(report.settling_rel());
        match serde_json::to_string_pretty(&v) {
            Ok(s) => sayln!("{s}"),
            Err(e) => return fail(&e, 1),
        }
    } else {
        say!("{}", report.text());
    }
    ExitCode::SUCCESS
}
