//! `apcsim device`: the command-line face of [`apcsim::study::device`]. Parses the targets and
//! read times (with their units), loads the device, samples it, writes `device.h5`, the SVG
//! figures and `report.html` into the output folder, and prints the table.

use crate::args::{OutputFolder, Overrides};
use crate::exit::{Classify, Failure, Kind};
use apcsim::config::units::{parse_expecting, Dimension};
use apcsim::config::{self, LoadOptions, Origin};
use apcsim::study::device::{self, DevicePlan, PlanError, WriteError};

/// What `apcsim device` writes into its folder (what `--force` replaces).
const OUTPUTS: &[&str] = &[
    "device.h5",
    "report.html",
    apcsim::report::MANIFEST,
    "*.svg",
];

#[derive(clap::Args, Debug)]
#[command(
    mut_arg("set", |a| a.help(
        "Override a device key, e.g. --set device.levels=continuous (repeatable, in order)"
    )),
    mut_arg("out", |a| a.help(
        "Output folder (default: a new folder devices/device-<UTC timestamp>/). It is created \
         if missing; one that is not empty is refused (exit code 2) unless --force"
    )),
    mut_arg("force", |a| a.help(
        "Write into an --out folder that is not empty: apcsim's outputs there from an earlier \
         run (device.h5, report.html, *.svg) are removed first; other files stay"
    ))
)]
pub struct DeviceArgs {
    /// A device preset name (ideal, rram_hfo2, pcm, pcm_hermes, ecram), a preset file, or a
    /// design file whose [device] is used.
    #[arg(value_name = "PRESET_OR_FILE")]
    device: String,
    /// Target conductances, with units.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0uS,0.5uS,1.25uS,2.5uS,5uS,7.5uS,12.5uS,17.5uS,22.5uS,25uS"
    )]
    targets: Vec<String>,
    /// Devices per target.
    #[arg(long, default_value_t = 10_000)]
    count: usize,
    /// Read times after programming, with units.
    #[arg(long, value_delimiter = ',', default_value = "20s,3600s,86400s")]
    read_times: Vec<String>,
    /// Seed of every draw.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    overrides: Overrides,
    #[command(flatten)]
    folder: OutputFolder,
}

impl Classify for PlanError {
    fn kind(&self) -> Kind {
        Kind::Input
    }
}

impl Classify for WriteError {
    fn kind(&self) -> Kind {
        Kind::Io
    }
}

/// Each value of a list flag read as a quantity of `dim`.
fn quantities(flag: &str, values: &[String], dim: Dimension) -> Result<Vec<f64>, Failure> {
    values
        .iter()
        .map(|v| {
            parse_expecting(v.trim(), dim)
                .map_err(|e| Failure::input(format!("{flag}: {}: {e}", v.trim())))
        })
        .collect()
}

pub fn device(args: DeviceArgs) -> Result<(), Failure> {
    let plan = DevicePlan {
        targets_siemens: quantities("--targets", &args.targets, Dimension::Conductance)?,
        read_times_seconds: quantities("--read-times", &args.read_times, Dimension::Time)?,
        count: args.count,
        seed: args.seed,
    };
    plan.validate()?;
    let circuit =
        config::load_device_with(&args.device, &args.overrides.set, &LoadOptions::default()).map_err(|e| {
            let named = matches!(&e.location.origin, Origin::File(f) | Origin::Default { file: f } if f == "--device");
            let f = Failure::from(e);
            if named {
                f
            } else {
                f.context(&args.device)
            }
        })?;
    let folder = args.folder.claim("devices", "device", OUTPUTS)?;
    let results = device::sample(&circuit.device, &plan)?;
    let dir = folder.path();
    results.write(dir)?;
    say!(
        "{}wrote {}, sigma_vs_g.svg, g_vs_time.svg and {}\n",
        results.table(),
        dir.join("device.h5").display(),
        dir.join("report.html").display()
    );
    Ok(())
}
