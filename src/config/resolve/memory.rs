//! Refuses a design whose run cannot fit in memory ([`footprint`]), before anything is built,
//! pointing at the value that drives the largest part.

use super::network::Shape;
use super::resolver::{Resolver, Result};
use super::run::RunSection;
use crate::config::circuit::{Dynamics, RunParams};
use crate::config::error::{format_bytes, ErrorKind};
use crate::config::footprint::{
    footprint, physical_memory_bytes, samples_per_chunk, Footprint, NetworkSize, RunSize,
};
use crate::config::options::LoadOptions;
use crate::config::raw::{RawCrossbar, RawNetwork};
use crate::config::units::format_number;
use crate::hardware::params::{CrossbarParams, DeviceParams};
use std::ops::Range;

/// The resolved parts of the design the memory depends on.
pub(super) struct Parts<'p> {
    pub shape: &'p Shape,
    pub run: &'p RunSection,
    pub dynamics: &'p Dynamics,
    /// What sets dt: `dynamics.dt`, or the time constant it is derived from.
    pub dt_span: &'p Range<usize>,
    pub t_max_span: Range<usize>,
    pub device: &'p DeviceParams,
    pub crossbar: &'p CrossbarParams,
}

fn run_size(p: &Parts<'_>, params: &RunParams) -> RunSize {
    let (inputs, outputs) = (p.shape.input as f64, p.shape.output as f64);
    let (weights, hidden_nodes) = p.shape.hidden.size(inputs, outputs);
    let net = NetworkSize {
        inputs,
        outputs,
        weights,
        hidden_nodes,
        layers: p.shape.hidden.layers(),
    };
    RunSize::new(net, params, p.dynamics, p.device, p.crossbar)
}

pub(super) fn check_memory(
    r: &Resolver,
    n: &RawNetwork,
    c: &RawCrossbar,
    p: &Parts<'_>,
    opts: &LoadOptions,
) -> Result<()> {
    let size = run_size(p, &p.run.params());
    let need = footprint(&size);
    let have = opts
        .memory_limit_bytes
        .unwrap_or_else(physical_memory_bytes);
    if need.total() <= have {
        return Ok(());
    }
    // The batch is to blame first only when a batch of one would fit.
    let one = RunParams {
        batch: 1,
        ..p.run.params()
    };
    let per_sample_first = footprint(&run_size(p, &one)).total() <= have;
    let network = p.shape.size_span(n, r);
    let (batch, points, traced) = (
        &p.run.batch_span,
        &p.run.trace_points_span,
        &p.run.trace_samples_span,
    );
    let (rows, cols) = (c.rows.span(), c.cols.span());
    let (largest, _) = need.terms()[0];
    let drivers: Vec<&Range<usize>> = match largest {
        "weights" => vec![&network],
        "IR-drop system" => vec![&rows, &cols],
        "power record" if per_sample_first => vec![batch, p.dt_span, &p.t_max_span, &network],
        "power record" => vec![p.dt_span, &p.t_max_span, &network, batch],
        "traces" => vec![traced, points, &network],
        _ if per_sample_first => vec![batch, &network, points],
        _ => vec![&network, points, batch],
    };
    Err(r.ctx.error(
        r.blame_of(&drivers),
        ErrorKind::TooLarge {
            needed_bytes: need.total(),
            available_bytes: have,
            detail: detail(&need, &size),
        },
    ))
}

/// The terms of the estimate, largest first with what it multiplies, down to 1% of the total.
fn detail(need: &Footprint, s: &RunSize) -> String {
    let n = format_number;
    let terms = need.terms();
    terms
        .iter()
        .enumerate()
        .filter(|(i, (_, bytes))| *i == 0 || *bytes >= 0.01 * need.total())
        .map(|(i, (name, bytes))| {
            let why = match *name {
                _ if i > 0 => String::new(),
                "weights" => format!(": {} weights", n(s.weights)),
                "node states" => format!(
                    ": {} nodes x {} samples",
                    n(s.inputs + s.hidden_nodes + s.outputs),
                    n(s.batch)
                ),
                "settling checkpoints" => format!(
                    ": {} trace points x {} value nodes x {} samples",
                    n(s.trace_points),
                    n(s.hidden_nodes),
                    n(s.batch)
                ),
                "traces" => format!(
                    ": {} trace points x {} traced samples x {} nodes",
                    n(s.trace_points),
                    n(s.traced_samples),
                    n(2.0 * s.hidden_nodes + s.outputs)
                ),
                "power record" => format!(
                    ": {} steps x {} chunks of {} samples",
                    n(s.steps),
                    n((s.batch / samples_per_chunk(s.batch)).ceil()),
                    samples_per_chunk(s.batch)
                ),
                _ => String::new(),
            };
            format!("{name} {}{why}", format_bytes(*bytes))
        })
        .collect::<Vec<_>>()
        .join(", ")
}
