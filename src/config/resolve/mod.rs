//! From the typed image of a design to a checked [`Circuit`]: derived defaults, ranges,
//! relations between keys, the data source's widths, and a memory estimate. Every rejection
//! points at the value responsible, preferring one the user wrote over a preset's or a default.
//!
//! One module per section of the design; `resolver` holds what they share. The sections are
//! resolved in an order that lets each use what it needs: the data source first (an HDF5 file
//! fixes the network and the batch), the sizes of the network and the memory they need before
//! any width vector is built.

mod crossbar;
mod data;
mod device;
mod dynamics;
mod memory;
mod network;
mod periphery;
mod resolver;
mod run;
mod train;
mod update;

pub use super::footprint::physical_memory_bytes;
pub use crossbar::MAX_TILE_SIDE;
pub use dynamics::MAX_STEPS;
pub use periphery::MAX_BITS;

use super::circuit::Circuit;
use super::error::ConfigError;
use super::options::LoadOptions;
use super::raw::RawDesign;
use super::source::Context;
use resolver::Resolver;

pub(crate) fn resolve(
    raw: RawDesign,
    ctx: &Context<'_>,
    opts: &LoadOptions,
    name: String,
) -> Result<Circuit, ConfigError> {
    let mut r = Resolver::new(ctx);
    let n = raw.network.into_inner();
    let data = raw.data.into_inner();
    let src = data::source(&mut r, &data, opts)?;
    let run = run::run(&mut r, &raw.run.into_inner(), src.file())?;
    let shape = network::shape(&r, &n, &src, &data.source)?;
    let samples = data::samples(&r, &data, &src, run.batch, &run.batch_span)?;
    let c = raw.crossbar.into_inner();
    let tiles = crossbar::tiles(&r, &c)?;
    let device = device::device(&mut r, &raw.device.into_inner())?;
    let update = update::update(&mut r, &raw.update.into_inner(), &device)?;
    let crossbar = crossbar::crossbar(&mut r, &c, &tiles)?;
    let p = raw.periphery.into_inner();
    let periphery = periphery::periphery(&mut r, &p)?;
    let y = raw.dynamics.into_inner();
    let (dynamics, dt_span) = dynamics::dynamics(&mut r, &y, &p, &device, &periphery)?;
    let parts = memory::Parts {
        shape: &shape,
        run: &run,
        dynamics: &dynamics,
        dt_span: &dt_span,
        t_max_span: y.t_max.span(),
        device: &device,
        crossbar: &crossbar,
    };
    // Before any width vector is built: a depth can be absurd.
    memory::check_memory(&r, &n, &c, &parts, opts)?;
    let architecture = network::architecture(&mut r, &n, &shape, src.file())?;
    let pool = data::split_pool(&src);
    let data = data::data_spec(&mut r, &data, src, &samples, run.seed)?;
    let train = train::train(&mut r, &raw.train.into_inner(), &architecture, pool)?;
    Ok(Circuit {
        name,
        architecture,
        device,
        crossbar,
        periphery,
        dynamics,
        data,
        run: run.params(),
        update,
        train,
        config: r.config,
    })
}
