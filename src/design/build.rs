//! From a resolved circuit description to what runs: the network (initialised from its
//! parameterisation, or read from an HDF5 weights file), the batch, and the network mapped onto
//! crossbar tiles. The one place where config, data and hardware meet.

use crate::config::{Circuit, DataSource};
use crate::hardware::drift_compensation::{map_compensated, Compensation, ReadoutNoise};
use crate::hardware::mapping::{relative_frobenius, wire_model, MappedNetwork, MappingError};
use crate::io::data::{self, DataError};
use crate::io::h5::H5Error;
use crate::io::reference::read_reference;
use crate::network::{Batch, Network, NetworkError};
use std::fmt::Write as _;

/// Why a design could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    #[error(transparent)]
    Network(#[from] NetworkError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    File(#[from] H5Error),
    #[error(transparent)]
    Mapping(#[from] MappingError),
}

/// A design ready to simulate.
pub struct Built {
    pub network: Network<f64>,
    /// The first `run.batch` samples of the data source, inputs before the DAC.
    pub batch: Batch<f64>,
    pub mapped: MappedNetwork,
}

/// Builds the network, the batch and the mapping of `circuit`.
pub fn build(circuit: &Circuit) -> Result<Built, BuildError> {
    let arch = circuit.architecture.clone();
    let b = circuit.run.batch;
    let seed = circuit.run.seed;
    let (network, batch) = match &circuit.data.source {
        DataSource::Hdf5 { path } => {
            let r = read_reference(path)?;
            let mut batch = r.batch;
            let take = b.min(batch.size());
            batch.x = batch.x.columns(0, take).clone_owned();
            batch.y = batch.y.columns(0, take).clone_owned();
            (r.network, batch)
        }
        source => {
            let net = Network::init(arch.clone(), seed)?;
            let (d, o) = (arch.widths[0], *arch.widths.last().unwrap_or(&0));
            let batch = match source {
                DataSource::Optdigits { offset } => {
                    // Pixels onto [0, full scale), so every input is a DAC code.
                    let dac = &circuit.periphery.dac;
                    data::digits_batch(*offset, b, 0.0, dac.range - dac.step())?
                }
                DataSource::Gaussian {
                    seed,
                    input_std,
                    target_std,
                } => {
                    let mut g = data::gaussian_batch(d, o, b, *seed);
                    g.x *= *input_std;
                    g.y *= *target_std;
                    g
                }
                DataSource::Teacher {
                    seed,
                    input_std,
                    target_noise,
                } => data::teacher_batch(arch.clone(), b, *seed, *input_std, *target_noise)?,
                DataSource::Dataset { path } => {
                    let all = crate::io::dataset::read_dataset(path)?.train;
                    let take = b.min(all.size());
                    Batch {
                        x: all.x.columns(0, take).clone_owned(),
                        y: all.y.columns(0, take).clone_owned(),
                    }
                }
                DataSource::Hdf5 { .. } => unreachable!("handled above"),
            };
            (net, batch)
        }
    };
    let mapped = map_compensated(
        &network,
        &circuit.device,
        &circuit.crossbar,
        &compensation(circuit),
        seed,
        &wire_model(&circuit.crossbar),
    )?;
    Ok(Built {
        network,
        batch,
        mapped,
    })
}

/// The drift compensation of `circuit`: its mode, and its calibration reads noisy with the
/// device's read noise over the error amplifiers' bandwidth when the design's noise is on.
pub fn compensation(circuit: &Circuit) -> Compensation {
    Compensation {
        mode: circuit.periphery.drift_compensation,
        noise: if circuit.dynamics.noisy {
            ReadoutNoise::of(
                &circuit.device,
                circuit.crossbar.v_read_volts,
                circuit.periphery.error_amp_bandwidth_hertz,
            )
        } else {
            ReadoutNoise::NONE
        },
    }
}

/// The mapping as `apcsim check` prints it: per layer the tile grid, devices, utilisation,
/// conductance statistics and effective-weight errors, then totals.
pub fn mapping_report(circuit: &Circuit, built: &Built) -> String {
    let xb = &circuit.crossbar;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "mapping on {}x{} tiles ({} backward read), device {}",
        xb.rows,
        xb.cols,
        match xb.backward {
            crate::hardware::params::Backward::Shared => "shared",
            crate::hardware::params::Backward::Separate => "separate",
        },
        circuit.device.name
    );
    let _ = writeln!(
        s,
        "{:>5} {:>11} {:>7} {:>6} {:>9} {:>7} {:>27} {:>11} {:>11}",
        "layer",
        "out x in",
        "grid",
        "tiles",
        "devices",
        "util",
        "G min/mean/max (uS)",
        "err fwd",
        "err bwd"
    );
    let (mut tiles, mut devices, mut weights) = (0usize, 0usize, 0usize);
    for (l, w) in built.mapped.layers.iter().zip(built.network.weights()) {
        let t = l.tiles(xb);
        let n_w = l.inputs * l.outputs * if l.backward.is_some() { 2 } else { 1 };
        let util = n_w as f64 / (t * xb.rows * xb.cols) as f64;
        let g = l
            .forward
            .plus
            .read
            .iter()
            .chain(l.forward.minus.read.iter());
        let (mut lo, mut hi, mut sum, mut n) = (f64::INFINITY, 0.0f64, 0.0, 0usize);
        for &v in g {
            lo = lo.min(v);
            hi = hi.max(v);
            sum += v;
            n += 1;
        }
        let _ = writeln!(
            s,
            "{:>5} {:>11} {:>7} {:>6} {:>9} {:>6.1}% {:>27} {:>11.3e} {:>11.3e}",
            l.layer,
            format!("{}x{}", l.outputs, l.inputs),
            format!("{}x{}", l.tile_grid.0, l.tile_grid.1),
            t,
            l.devices(),
            100.0 * util,
            format!(
                "{:.3}/{:.3}/{:.3}",
                lo * 1e6,
                sum / n as f64 * 1e6,
                hi * 1e6
            ),
            relative_frobenius(&l.w_forward, w),
            relative_frobenius(&l.w_backward, w),
        );
        tiles += t;
        devices += l.devices();
        weights += n_w;
    }
    let _ = writeln!(
        s,
        "total: {tiles} tiles, {devices} devices, utilisation {:.1}%",
        100.0 * weights as f64 / (tiles * xb.rows * xb.cols) as f64
    );
    write_drift_gains(&mut s, &built.mapped);
    s
}

/// One line of the drift compensation's gains per layer (forward, and backward when the
/// backward array is separate), when the mapping has them.
fn write_drift_gains(s: &mut String, mapped: &MappedNetwork) {
    let gains: Vec<String> = mapped
        .layers
        .iter()
        .filter_map(|l| {
            let c = l.drift_calibration?;
            Some(match c.backward {
                Some(b) => format!("{}: {:.4}/{:.4}", l.layer, c.forward.alpha, b.alpha),
                None => format!("{}: {:.4}", l.layer, c.forward.alpha),
            })
        })
        .collect();
    if !gains.is_empty() {
        let _ = writeln!(
            s,
            "drift compensation (global), gain alpha per layer{}: {}",
            if mapped.layers.iter().any(|l| l.backward.is_some()) {
                " (forward/backward)"
            } else {
                ""
            },
            gains.join(", ")
        );
    }
}
