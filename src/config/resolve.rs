//! From the typed image of a design to a checked [`Circuit`]: derived defaults, ranges,
//! relations between keys, the data source's widths, and a memory estimate. Every rejection
//! points at the value responsible, preferring one the user wrote over a preset's or a default.

use super::circuit::{
    Circuit, DataSource, DataSpec, Dynamics, ResolvedConfig, RunParams, SolverKind,
    OPTDIGITS_CLASSES, OPTDIGITS_INPUTS, OPTDIGITS_SAMPLES,
};
use super::document::{resolve_path, Context};
use super::error::{gib, ConfigError, ErrorKind};
use super::raw::{Count, Levels, RawDesign, Real, Si};
use super::units::{format_quantity, Dimension};
use super::LoadOptions;
use crate::hardware::params::{
    Backward, Converter, CrossbarParams, DeviceParams, Drift, PeripheryParams, ProgrammingError,
    ReadNoise,
};
use crate::network::activation::Activation;
use crate::network::model::Architecture;
use crate::network::param::Parameterisation;
use serde_json::{json, Value};
use std::ops::Range;
use toml::Spanned;

type Result<T> = std::result::Result<T, ConfigError>;

/// Largest tile side: the largest fabricated crossbars have a few thousand rows.
pub const MAX_TILE_SIDE: u64 = 1 << 16;
/// Most steps a fixed-step run may take.
pub const MAX_STEPS: f64 = 1e9;
/// Widest converter modelled.
pub const MAX_BITS: u64 = 32;

/// Bytes kept per weight: W, a W, the effective forward and backward matrices, the programmed
/// G+ and G-, and the PC and BP gradients, in f64.
const BYTES_PER_WEIGHT: f64 = 64.0;
/// Extra bytes per weight for a separate backward array (its own G+, G- and effective matrix).
const BYTES_PER_SEPARATE_WEIGHT: f64 = 24.0;
/// Bytes per node and sample: z, e, mu, phi, phi', solver stages, noise and the settling record.
const BYTES_PER_NODE_SAMPLE: f64 = 192.0;
/// Bytes per node of a tile's nodal IR-drop system (sparse matrix and factor).
const BYTES_PER_TILE_NODE: f64 = 200.0;

/// The machine's physical memory, from /proc/meminfo; 64 GiB where that cannot be read.
pub fn physical_memory_bytes() -> f64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(64.0 * (1u64 << 30) as f64, |kb| kb * 1024.0)
}

fn finite_json(x: f64) -> Value {
    if x.is_finite() {
        json!(x)
    } else {
        // JSON has no infinity; the file format writes it `inf`.
        json!(if x > 0.0 { "inf" } else { "-inf" })
    }
}

struct Resolver<'c, 'a> {
    ctx: &'c Context<'a>,
    config: ResolvedConfig,
}

impl Resolver<'_, '_> {
    fn put(&mut self, section: &str, key: &str, value: Value, span: Option<&Range<usize>>) {
        let origin = span.map_or("derived".to_string(), |s| self.ctx.origin_label(s));
        self.config
            .values
            .entry(section.to_string())
            .or_default()
            .insert(key.to_string(), value);
        self.config
            .origins
            .insert(format!("{section}.{key}"), origin);
    }

    fn err(&self, span: &Range<usize>, message: impl Into<String>) -> ConfigError {
        self.ctx.invalid(span, message)
    }

    fn ensure(
        &self,
        ok: bool,
        span: &Range<usize>,
        message: impl FnOnce() -> String,
    ) -> Result<()> {
        if ok {
            Ok(())
        } else {
            Err(self.err(span, message()))
        }
    }

    /// Of two values in a relation, the one to blame: the first the user wrote, else the
    /// first from the preset.
    fn blame<'s>(&self, a: &'s Range<usize>, b: &'s Range<usize>) -> &'s Range<usize> {
        if self.ctx.user_given(a) {
            a
        } else if self.ctx.user_given(b) {
            b
        } else if !self.ctx.is_default(a) {
            a
        } else {
            b
        }
    }

    /// A value as the user would write it: quantities with their unit.
    fn show(&self, x: f64, span: &Range<usize>) -> String {
        let key = self.ctx.key_at(span);
        let key = key.split('[').next().unwrap_or_default();
        let dim = key
            .split_once('.')
            .and_then(|(section, name)| super::schema::lookup(section, name))
            .and_then(|(k, _)| k.dimension());
        match dim {
            Some(d) => format_quantity(x, d),
            None => format!("{x}"),
        }
    }

    fn positive(&self, v: &Spanned<impl Copy + Into<f64>>, what: &str) -> Result<f64> {
        let x: f64 = (*v.get_ref()).into();
        self.ensure(x.is_finite() && x > 0.0, &v.span(), || {
            format!(
                "{what} must be finite and positive, found {}",
                self.show(x, &v.span())
            )
        })?;
        Ok(x)
    }

    fn non_negative(&self, v: &Spanned<impl Copy + Into<f64>>, what: &str) -> Result<f64> {
        let x: f64 = (*v.get_ref()).into();
        self.ensure(x.is_finite() && x >= 0.0, &v.span(), || {
            format!(
                "{what} must be finite and not negative, found {}",
                self.show(x, &v.span())
            )
        })?;
        Ok(x)
    }

    fn fraction(&self, v: &Spanned<Real>, what: &str) -> Result<f64> {
        let x = v.get_ref().0;
        self.ensure((0.0..=1.0).contains(&x), &v.span(), || {
            format!("{what} is a fraction in [0, 1], found {x}")
        })?;
        Ok(x)
    }

    fn at_least(&self, v: &Spanned<Count>, min: u64, what: &str) -> Result<u64> {
        let x = v.get_ref().0;
        self.ensure(x >= min, &v.span(), || {
            format!("{what} must be at least {min}, found {x}")
        })?;
        Ok(x)
    }

    /// A user-written value that the selected mode ignores is an error, not a silent no-op —
    /// unless it is the key's default, which changes nothing in any mode.
    fn unused_unless(
        &self,
        span: &Range<usize>,
        value: &[f64],
        active: bool,
        why: &str,
    ) -> Result<()> {
        let key = self.ctx.key_at(span);
        let at_default = key
            .split_once('.')
            .and_then(|(section, name)| super::schema::lookup(section, name))
            .and_then(|(k, _)| k.default_numbers())
            .is_some_and(|d| d == value);
        self.ensure(
            active || at_default || !self.ctx.user_given(span),
            span,
            || format!("has no effect unless {why}"),
        )
    }
}

impl From<Si> for f64 {
    fn from(s: Si) -> f64 {
        s.0
    }
}

impl From<Real> for f64 {
    fn from(r: Real) -> f64 {
        r.0
    }
}

fn usize_of(x: u64) -> usize {
    usize::try_from(x).unwrap_or(usize::MAX)
}

/// The hidden layers before they are materialised (a depth can be absurd).
enum Hidden {
    List(Vec<u64>),
    Uniform { width: u64, depth: u64 },
}

impl Hidden {
    /// (weights, hidden nodes) for input width `d` and output width `o`, as floats.
    fn size(&self, d: f64, o: f64) -> (f64, f64) {
        match self {
            Hidden::List(h) => {
                let mut prev = d;
                let mut weights = 0.0;
                for &w in h {
                    weights += prev * w as f64;
                    prev = w as f64;
                }
                weights += prev * o;
                (weights, h.iter().map(|&w| w as f64).sum())
            }
            Hidden::Uniform { width, depth } => {
                let (n, l) = (*width as f64, *depth as f64);
                (d * n + (l - 2.0) * n * n + n * o, (l - 1.0) * n)
            }
        }
    }

    fn widths(&self) -> Vec<usize> {
        match self {
            Hidden::List(h) => h.iter().map(|&w| usize_of(w)).collect(),
            Hidden::Uniform { width, depth } => {
                vec![usize_of(*width); usize_of(depth.saturating_sub(1))]
            }
        }
    }
}

/// What an HDF5 data file says about the network.
struct FileNetwork {
    arch: Architecture,
    batch: usize,
}

fn read_hdf5(
    ctx: &Context<'_>,
    span: &Range<usize>,
    path: &std::path::Path,
    opts: &LoadOptions,
) -> Result<FileNetwork> {
    let fail = |message: String| ctx.error(span, ErrorKind::Data { message });
    if !opts.read_files {
        return Err(fail(format!(
            "{}: reading files is disabled",
            path.display()
        )));
    }
    let meta = std::fs::metadata(path).map_err(|e| fail(format!("{}: {e}", path.display())))?;
    if !meta.is_file() {
        return Err(fail(format!("{}: not a regular file", path.display())));
    }
    let input = crate::io::reference::read_reference(path).map_err(|e| fail(e.to_string()))?;
    Ok(FileNetwork {
        arch: input.network.architecture().clone(),
        batch: input.batch.size(),
    })
}

pub(crate) fn resolve(
    raw: RawDesign,
    ctx: &Context<'_>,
    opts: &LoadOptions,
    name: String,
) -> Result<Circuit> {
    let mut r = Resolver {
        ctx,
        config: ResolvedConfig::default(),
    };
    let n = raw.network.into_inner();
    let d = raw.device.into_inner();
    let c = raw.crossbar.into_inner();
    let p = raw.periphery.into_inner();
    let y = raw.dynamics.into_inner();
    let data = raw.data.into_inner();
    let run = raw.run.into_inner();

    // ------------------------------------------------------------------ data source
    let source_span = data.source.span();
    let source_text = data.source.get_ref().as_str();
    enum Src {
        Optdigits,
        Teacher,
        Gaussian,
        Hdf5(std::path::PathBuf, FileNetwork),
    }
    let src = match source_text {
        "optdigits" => Src::Optdigits,
        "teacher" => Src::Teacher,
        "gaussian" => Src::Gaussian,
        s if s.starts_with("hdf5:") && s.len() > "hdf5:".len() => {
            let path = resolve_path(ctx.base_dir.as_deref(), &s["hdf5:".len()..]);
            let file = read_hdf5(ctx, &source_span, &path, opts)?;
            Src::Hdf5(path, file)
        }
        other => {
            let choices = ["optdigits", "teacher", "gaussian", "hdf5:PATH"];
            return Err(ctx.error(
                &source_span,
                ErrorKind::UnknownChoice {
                    value: other.to_string(),
                    choices: choices.iter().map(|c| c.to_string()).collect(),
                    suggestion: super::schema::nearest(other, ["optdigits", "teacher", "gaussian"])
                        .map(str::to_string),
                },
            ));
        }
    };
    let file = match &src {
        Src::Hdf5(_, f) => Some(f),
        _ => None,
    };
    r.put("data", "source", json!(source_text), Some(&source_span));

    // ------------------------------------------------------------------ run
    let batch_span = run.batch.span();
    let mut batch = r.at_least(&run.batch, 1, "the batch")?;
    if let (Some(f), false) = (file, ctx.user_given(&batch_span)) {
        batch = f.batch as u64;
    }
    let seed = run.seed.get_ref().0;
    r.put(
        "run",
        "batch",
        json!(batch),
        (file.is_none() || ctx.user_given(&batch_span)).then_some(&batch_span),
    );
    r.put("run", "seed", json!(seed), Some(&run.seed.span()));
    let trace_samples = run.trace_samples.get_ref().0;
    let trace_points = r.at_least(&run.trace_points, 2, "trace_points")?;
    r.put(
        "run",
        "trace_samples",
        json!(trace_samples),
        Some(&run.trace_samples.span()),
    );
    r.put(
        "run",
        "trace_points",
        json!(trace_points),
        Some(&run.trace_points.span()),
    );

    // ------------------------------------------------------------------ network widths
    let widths_from = |what: &str,
                       given: Option<&Spanned<Count>>,
                       fixed: Option<(usize, &str)>|
     -> Result<(u64, Option<Range<usize>>)> {
        match (given, fixed) {
            (Some(v), Some((want, why))) => {
                let x = r.at_least(v, 1, what)?;
                r.ensure(x == want as u64, &v.span(), || {
                    format!("{why} has {want}, but the design says {x}")
                })?;
                Ok((x, Some(v.span())))
            }
            (Some(v), None) => Ok((r.at_least(v, 1, what)?, Some(v.span()))),
            (None, Some((want, _))) => Ok((want as u64, None)),
            (None, None) => Err(ConfigError {
                location: ctx.sources.locate(&source_span),
                key: format!("network.{what}"),
                kind: Box::new(ErrorKind::Invalid {
                    message: format!(
                        "required with data source `{source_text}` (give network.{what})"
                    ),
                }),
            }),
        }
    };
    let fixed_in = match (&src, file) {
        (Src::Optdigits, _) => Some((OPTDIGITS_INPUTS, "optdigits")),
        (_, Some(f)) => Some((f.arch.widths[0], "the weights file")),
        _ => None,
    };
    let fixed_out = match (&src, file) {
        (Src::Optdigits, _) => Some((OPTDIGITS_CLASSES, "optdigits")),
        (_, Some(f)) => Some((f.arch.widths[f.arch.widths.len() - 1], "the weights file")),
        _ => None,
    };
    let (input, input_span) = widths_from("input", n.input.as_ref(), fixed_in)?;
    let (output, output_span) = widths_from("output", n.output.as_ref(), fixed_out)?;

    let width_span = n.width.span();
    let depth_span = n.depth.span();
    let hidden = match (&n.hidden, file) {
        (Some(h), _) => {
            for other in [&width_span, &depth_span] {
                r.ensure(!ctx.user_given(other), other, || {
                    "give either network.hidden or network.width and network.depth, not both"
                        .to_string()
                })?;
            }
            r.ensure(!h.get_ref().is_empty(), &h.span(), || {
                "needs at least one hidden layer".to_string()
            })?;
            let mut list = Vec::new();
            for w in h.get_ref() {
                list.push(r.at_least(w, 1, "a hidden width")?);
            }
            if let Some(f) = file {
                let want: Vec<u64> = f.arch.widths[1..f.arch.widths.len() - 1]
                    .iter()
                    .map(|&w| w as u64)
                    .collect();
                r.ensure(list == want, &h.span(), || {
                    format!(
                        "the weights file has hidden widths {want:?}, but the design says {list:?}"
                    )
                })?;
            }
            Hidden::List(list)
        }
        (None, Some(f)) if !ctx.user_given(&width_span) && !ctx.user_given(&depth_span) => {
            Hidden::List(
                f.arch.widths[1..f.arch.widths.len() - 1]
                    .iter()
                    .map(|&w| w as u64)
                    .collect(),
            )
        }
        (None, _) => {
            let width = r.at_least(&n.width, 1, "the width")?;
            let depth = r.at_least(&n.depth, 2, "the depth (weight layers)")?;
            if let Some(f) = file {
                let want = f.arch.widths.len() as u64 - 1;
                let h = &f.arch.widths[1..f.arch.widths.len() - 1];
                r.ensure(
                    depth == want && h.iter().all(|&w| w as u64 == width),
                    r.blame(&width_span, &depth_span),
                    || {
                        format!(
                            "the weights file has {want} layers with hidden widths {h:?}, but the \
                             design says depth {depth}, width {width}"
                        )
                    },
                )?;
            }
            Hidden::Uniform { width, depth }
        }
    };

    // ------------------------------------------------------------------ samples
    let default_samples = match file {
        Some(f) => f.batch as u64,
        None => batch,
    };
    let (samples, samples_span) = match &n_samples(&data.samples) {
        Some((x, span)) => (*x, Some(span.clone())),
        None => (default_samples, None),
    };
    if let Some(span) = &samples_span {
        r.ensure(samples >= 1, span, || "must be at least 1".to_string())?;
        if let Some(f) = file {
            r.ensure(samples <= f.batch as u64, span, || {
                format!(
                    "the weights file holds {} samples, fewer than {samples}",
                    f.batch
                )
            })?;
        }
    }
    {
        let blame = samples_span
            .as_ref()
            .map_or(&batch_span, |s| r.blame(&batch_span, s));
        r.ensure(batch <= samples, blame, || {
            format!(
                "the batch ({batch}) is larger than the samples taken from the data ({samples})"
            )
        })?;
    }
    let offset = data.offset.get_ref().0;
    if let Src::Optdigits = src {
        let span = match &samples_span {
            Some(s) => r.blame(&data.offset.span(), s).clone(),
            None => r.blame(&data.offset.span(), &batch_span).clone(),
        };
        r.ensure(
            offset.saturating_add(samples) <= OPTDIGITS_SAMPLES as u64,
            &span,
            || {
                format!(
                    "optdigits has {OPTDIGITS_SAMPLES} samples; offset {offset} + samples {samples} \
                     runs past the end"
                )
            },
        )?;
    } else {
        r.unused_unless(
            &data.offset.span(),
            &[offset as f64],
            false,
            "data.source = \"optdigits\"",
        )?;
    }

    // ------------------------------------------------------------------ memory
    let separate = c.backward.get_ref() == "separate";
    let rows = r.at_least(&c.rows, 1, "a tile's rows")?;
    let cols = r.at_least(&c.cols, 1, "a tile's columns")?;
    for (v, what) in [(&c.rows, "rows"), (&c.cols, "columns")] {
        r.ensure(v.get_ref().0 <= MAX_TILE_SIDE, &v.span(), || {
            format!(
                "a tile of {} {what} is not a crossbar (at most {MAX_TILE_SIDE})",
                v.get_ref().0
            )
        })?;
    }
    let wire = r.non_negative(&c.wire_resistance, "the wire resistance")?;
    {
        let (weights, hidden_nodes) = hidden.size(input as f64, output as f64);
        let nodes = input as f64 + hidden_nodes + output as f64;
        let weight_bytes = weights
            * (BYTES_PER_WEIGHT
                + if separate {
                    BYTES_PER_SEPARATE_WEIGHT
                } else {
                    0.0
                });
        let activity_bytes = nodes * batch as f64 * BYTES_PER_NODE_SAMPLE
            + samples as f64 * (input + output) as f64 * 8.0;
        let tile_bytes = if wire > 0.0 {
            2.0 * rows as f64 * cols as f64 * BYTES_PER_TILE_NODE
        } else {
            0.0
        };
        let need = weight_bytes + activity_bytes + tile_bytes;
        let have = opts
            .memory_limit_bytes
            .unwrap_or_else(physical_memory_bytes);
        if need > have {
            let width_blame = match &n.hidden {
                Some(h) => h.span(),
                None => r.blame(&width_span, &depth_span).clone(),
            };
            // The network is to blame when even one sample would not fit.
            let one_sample = weight_bytes + nodes * BYTES_PER_NODE_SAMPLE;
            let span = if tile_bytes >= weight_bytes.max(activity_bytes) {
                r.blame(&c.rows.span(), &c.cols.span()).clone()
            } else if weight_bytes >= activity_bytes || one_sample > have {
                width_blame
            } else if ctx.user_given(&batch_span) || samples_span.is_none() {
                batch_span.clone()
            } else {
                samples_span.clone().unwrap_or(batch_span.clone())
            };
            return Err(ctx.error(
                &span,
                ErrorKind::TooLarge {
                    needed_bytes: need,
                    available_bytes: have,
                    detail: format!(
                        "weights {}, activities {}, IR-drop system {}",
                        gib(weight_bytes),
                        gib(activity_bytes),
                        gib(tile_bytes)
                    ),
                },
            ));
        }
    }

    // ------------------------------------------------------------------ architecture
    let mut widths = vec![usize_of(input)];
    widths.extend(hidden.widths());
    widths.push(usize_of(output));
    let from_file = |span: &Range<usize>| file.is_some() && !ctx.user_given(span);
    let act_span = n.activation.span();
    let activation = match file {
        Some(f) if from_file(&act_span) => f.arch.activation,
        _ => n
            .activation
            .get_ref()
            .parse::<Activation>()
            .map_err(|e| r.err(&act_span, e.to_string()))?,
    };
    let par_span = n.parameterisation.span();
    let parameterisation = match file {
        Some(f) if from_file(&par_span) => f.arch.parameterisation,
        _ => n
            .parameterisation
            .get_ref()
            .parse::<Parameterisation>()
            .map_err(|e| r.err(&par_span, e.to_string()))?,
    };
    let skips_span = n.skips.span();
    let skips = match file {
        Some(f) if from_file(&skips_span) => f.arch.skips,
        _ => *n.skips.get_ref(),
    };
    let gamma0 = match file {
        Some(f) if from_file(&n.gamma0.span()) => f.arch.gamma0,
        _ => r.positive(&n.gamma0, "gamma0")?,
    };
    let output_precision = match file {
        Some(f) if from_file(&n.output_precision.span()) => f.arch.output_precision,
        _ => r.positive(&n.output_precision, "the output precision")?,
    };
    if let Some(f) = file {
        let a = &f.arch;
        let checks: [(&Range<usize>, bool, String); 5] = [
            (
                &act_span,
                activation == a.activation,
                format!("activation {}", a.activation),
            ),
            (
                &par_span,
                parameterisation == a.parameterisation,
                format!("parameterisation {}", a.parameterisation),
            ),
            (&skips_span, skips == a.skips, format!("skips {}", a.skips)),
            (
                &n.gamma0.span(),
                gamma0 == a.gamma0,
                format!("gamma0 {}", a.gamma0),
            ),
            (
                &n.output_precision.span(),
                output_precision == a.output_precision,
                format!("output_precision {}", a.output_precision),
            ),
        ];
        for (span, ok, theirs) in checks {
            r.ensure(ok, span, || format!("the weights file says {theirs}"))?;
        }
    }
    let architecture = Architecture {
        widths,
        activation,
        parameterisation,
        skips,
        gamma0,
        output_precision,
    };
    if architecture.skips {
        let hidden_w = &architecture.widths[1..architecture.widths.len() - 1];
        let span = match &n.hidden {
            Some(h) => h.span(),
            None => skips_span.clone(),
        };
        r.ensure(hidden_w.windows(2).all(|w| w[0] == w[1]), &span, || {
            format!("skip connections need equal hidden widths, found {hidden_w:?}")
        })?;
    }
    architecture
        .validate()
        .map_err(|e| r.err(&skips_span, e.to_string()))?;
    {
        let w = &architecture.widths;
        r.put("network", "input", json!(w[0]), input_span.as_ref());
        r.put(
            "network",
            "hidden",
            json!(&w[1..w.len() - 1]),
            n.hidden.as_ref().map(|h| h.span()).as_ref(),
        );
        let hidden_w = &w[1..w.len() - 1];
        let uniform = hidden_w.windows(2).all(|p| p[0] == p[1]);
        let width_origin = if n.hidden.is_none() && file.is_none() {
            Some(&width_span)
        } else {
            None
        };
        r.put(
            "network",
            "width",
            if uniform {
                json!(hidden_w[0])
            } else {
                Value::Null
            },
            width_origin,
        );
        r.put(
            "network",
            "depth",
            json!(architecture.n_layers()),
            width_origin.map(|_| &depth_span),
        );
        r.put(
            "network",
            "output",
            json!(w[w.len() - 1]),
            output_span.as_ref(),
        );
        r.put(
            "network",
            "activation",
            json!(activation.name()),
            Some(&act_span),
        );
        r.put(
            "network",
            "parameterisation",
            json!(parameterisation.name()),
            Some(&par_span),
        );
        r.put("network", "skips", json!(skips), Some(&skips_span));
        r.put("network", "gamma0", json!(gamma0), Some(&n.gamma0.span()));
        r.put(
            "network",
            "output_precision",
            json!(output_precision),
            Some(&n.output_precision.span()),
        );
    }

    // ------------------------------------------------------------------ device
    let g_min = r.non_negative(&d.g_min, "g_min")?;
    let g_max = r.positive(&d.g_max, "g_max")?;
    r.ensure(
        g_min < g_max,
        r.blame(&d.g_min.span(), &d.g_max.span()),
        || {
            format!(
                "g_min ({}) must be below g_max ({})",
                format_quantity(g_min, Dimension::Conductance),
                format_quantity(g_max, Dimension::Conductance)
            )
        },
    )?;
    let levels = match *d.levels.get_ref() {
        Levels::Continuous => None,
        Levels::Count(k) => {
            r.ensure(k >= 2, &d.levels.span(), || {
                format!("levels must be at least 2 (or \"continuous\"), found {k}")
            })?;
            let k = u32::try_from(k)
                .map_err(|_| r.err(&d.levels.span(), format!("{k} levels is more than 2^32")))?;
            Some(k)
        }
    };
    let programming_mode = d.programming.get_ref().as_str();
    let fraction = r.fraction(&d.programming_fraction, "programming_fraction")?;
    let coeffs: Vec<f64> = d
        .programming_coefficients
        .get_ref()
        .iter()
        .map(|c| c.get_ref().0)
        .collect();
    let coeffs_span = d.programming_coefficients.span();
    r.ensure(coeffs.len() == 3, &coeffs_span, || {
        format!(
            "the sigma polynomial takes 3 coefficients (c0, c1, c2), found {}",
            coeffs.len()
        )
    })?;
    let g_ref = r.positive(&d.programming_g_ref, "programming_g_ref")?;
    r.unused_unless(
        &d.programming_fraction.span(),
        &[fraction],
        programming_mode == "constant",
        "device.programming = \"constant\"",
    )?;
    for (span, value) in [
        (&coeffs_span, coeffs.clone()),
        (&d.programming_g_ref.span(), vec![g_ref]),
    ] {
        r.unused_unless(
            span,
            &value,
            programming_mode == "polynomial",
            "device.programming = \"polynomial\"",
        )?;
    }
    let programming = match programming_mode {
        "constant" => ProgrammingError::Constant {
            fraction_of_g_max: fraction,
        },
        "polynomial" => ProgrammingError::Polynomial {
            coefficients_siemens: [coeffs[0], coeffs[1], coeffs[2]],
            g_ref_siemens: g_ref,
        },
        _ => ProgrammingError::None,
    };
    let stuck_off = r.fraction(&d.stuck_off_fraction, "stuck_off_fraction")?;
    let stuck_on = r.fraction(&d.stuck_on_fraction, "stuck_on_fraction")?;
    r.ensure(
        stuck_off + stuck_on <= 1.0,
        r.blame(&d.stuck_on_fraction.span(), &d.stuck_off_fraction.span()),
        || {
            format!(
                "stuck_off_fraction + stuck_on_fraction = {} exceeds 1",
                stuck_off + stuck_on
            )
        },
    )?;
    let drift_on = *d.drift.get_ref();
    let nu_mean = r.non_negative(&d.drift_nu_mean, "drift_nu_mean")?;
    let nu_std = r.non_negative(&d.drift_nu_std, "drift_nu_std")?;
    let t0 = r.positive(&d.drift_t0, "drift_t0")?;
    let t_read = r.positive(&d.drift_t_read, "drift_t_read")?;
    r.ensure(
        t_read >= t0,
        r.blame(&d.drift_t_read.span(), &d.drift_t0.span()),
        || {
            format!(
                "drift_t_read ({}) is before drift_t0 ({}), where the drift law starts",
                format_quantity(t_read, Dimension::Time),
                format_quantity(t0, Dimension::Time)
            )
        },
    )?;
    for (span, value) in [
        (d.drift_nu_mean.span(), nu_mean),
        (d.drift_nu_std.span(), nu_std),
        (d.drift_t0.span(), t0),
        (d.drift_t_read.span(), t_read),
    ] {
        r.unused_unless(&span, &[value], drift_on, "device.drift = true")?;
    }
    let relative = r.fraction(&d.read_noise_relative, "read_noise_relative")?;
    let temperature = r.positive(&d.temperature, "the temperature")?;
    let preset_name = d.preset.get_ref().clone();
    let device = DeviceParams {
        name: if super::presets::is_path(&preset_name) {
            std::path::Path::new(&preset_name)
                .file_stem()
                .map_or(preset_name.clone(), |s| s.to_string_lossy().into_owned())
        } else {
            preset_name.clone()
        },
        g_min_siemens: g_min,
        g_max_siemens: g_max,
        levels,
        programming,
        stuck_off_fraction: stuck_off,
        stuck_on_fraction: stuck_on,
        drift: drift_on.then_some(Drift {
            nu_mean,
            nu_std,
            t0_seconds: t0,
            t_read_seconds: t_read,
        }),
        read_noise: ReadNoise {
            thermal: *d.read_noise_thermal.get_ref(),
            relative,
            temperature_kelvin: temperature,
        },
    };
    {
        let entries: Vec<(&str, Value, Option<Range<usize>>)> = vec![
            ("preset", json!(preset_name), sp(&d.preset)),
            ("g_min_siemens", json!(g_min), sp(&d.g_min)),
            ("g_max_siemens", json!(g_max), sp(&d.g_max)),
            (
                "levels",
                levels.map_or(json!("continuous"), |k| json!(k)),
                sp(&d.levels),
            ),
            ("programming", json!(programming_mode), sp(&d.programming)),
            (
                "programming_fraction",
                json!(fraction),
                sp(&d.programming_fraction),
            ),
            (
                "programming_coefficients_siemens",
                json!(coeffs),
                sp(&d.programming_coefficients),
            ),
            (
                "programming_g_ref_siemens",
                json!(g_ref),
                sp(&d.programming_g_ref),
            ),
            (
                "stuck_off_fraction",
                json!(stuck_off),
                sp(&d.stuck_off_fraction),
            ),
            (
                "stuck_on_fraction",
                json!(stuck_on),
                sp(&d.stuck_on_fraction),
            ),
            ("drift", json!(drift_on), sp(&d.drift)),
            ("drift_nu_mean", json!(nu_mean), sp(&d.drift_nu_mean)),
            ("drift_nu_std", json!(nu_std), sp(&d.drift_nu_std)),
            ("drift_t0_seconds", json!(t0), sp(&d.drift_t0)),
            ("drift_t_read_seconds", json!(t_read), sp(&d.drift_t_read)),
            (
                "read_noise_thermal",
                json!(device.read_noise.thermal),
                sp(&d.read_noise_thermal),
            ),
            (
                "read_noise_relative",
                json!(relative),
                sp(&d.read_noise_relative),
            ),
            ("temperature_kelvin", json!(temperature), sp(&d.temperature)),
        ];
        for (k, v, span) in entries {
            r.put("device", k, v, span.as_ref());
        }
    }

    // ------------------------------------------------------------------ crossbar
    let v_read = r.positive(&c.v_read, "v_read")?;
    let backward = if separate {
        Backward::Separate
    } else {
        Backward::Shared
    };
    let crossbar = CrossbarParams {
        rows: usize_of(rows),
        cols: usize_of(cols),
        v_read_volts: v_read,
        wire_resistance_ohms: wire,
        backward,
    };
    r.put("crossbar", "rows", json!(rows), Some(&c.rows.span()));
    r.put("crossbar", "cols", json!(cols), Some(&c.cols.span()));
    r.put(
        "crossbar",
        "v_read_volts",
        json!(v_read),
        Some(&c.v_read.span()),
    );
    r.put(
        "crossbar",
        "wire_resistance_ohms",
        json!(wire),
        Some(&c.wire_resistance.span()),
    );
    r.put(
        "crossbar",
        "backward",
        json!(c.backward.get_ref()),
        Some(&c.backward.span()),
    );

    // ------------------------------------------------------------------ periphery
    let amp_power = r.non_negative(&p.amplifier_power, "the amplifier power")?;
    let bandwidth = r.positive(&p.error_amp_bandwidth, "the error-amplifier bandwidth")?;
    let offset_sigma = r.non_negative(&p.offset_sigma, "the offset sigma")?;
    let rail = p.rail.get_ref().0;
    r.ensure(rail > 0.0, &p.rail.span(), || {
        format!(
            "the rail must be positive (or inf for none), found {}",
            r.show(rail, &p.rail.span())
        )
    })?;
    let gain = p.open_loop_gain.get_ref().0;
    r.ensure(gain >= 1.0, &p.open_loop_gain.span(), || {
        format!("the open-loop gain must be at least 1 (or inf for ideal), found {gain}")
    })?;
    let amp_noise = r.non_negative(&p.amplifier_noise, "the amplifier noise density")?;
    let mac_energy = r.non_negative(&p.digital_mac_energy, "the digital MAC energy")?;
    let c_z = r.positive(&p.node_capacitance, "the node capacitance")?;
    let supply = r.positive(&p.supply, "the supply voltage")?;
    let converter = |r: &Resolver,
                     bits: &Spanned<Count>,
                     range: &Spanned<Real>,
                     energy: &Spanned<Si>,
                     what: &str| {
        let b = bits.get_ref().0;
        r.ensure(b <= MAX_BITS, &bits.span(), || {
            format!("{what} of {b} bits is beyond any converter (at most {MAX_BITS}; 0 = ideal)")
        })?;
        Ok::<_, ConfigError>(Converter {
            bits: (b > 0).then_some(b as u32),
            range: r.positive(range, &format!("the {what} range"))?,
            energy_joules: r.non_negative(energy, &format!("the {what} energy"))?,
        })
    };
    let dac = converter(&r, &p.dac_bits, &p.dac_range, &p.dac_energy, "a DAC")?;
    let adc = converter(&r, &p.adc_bits, &p.adc_range, &p.adc_energy, "an ADC")?;
    let periphery = PeripheryParams {
        amplifier_power_watts: amp_power,
        error_amp_bandwidth_hertz: bandwidth,
        offset_sigma_volts: offset_sigma,
        rail_volts: rail.is_finite().then_some(rail),
        finite_gain: gain.is_finite().then_some(gain),
        node_capacitance_farads: c_z,
        supply_volts: supply,
        ktc_noise: *p.ktc_noise.get_ref(),
        amplifier_noise_volts_per_root_hertz: amp_noise,
        digital_mac_energy_joules: mac_energy,
        dac,
        adc,
    };
    {
        let entries: Vec<(&str, Value, Option<Range<usize>>)> = vec![
            (
                "amplifier_power_watts",
                json!(amp_power),
                sp(&p.amplifier_power),
            ),
            (
                "error_amp_bandwidth_hertz",
                json!(bandwidth),
                sp(&p.error_amp_bandwidth),
            ),
            (
                "offset_sigma_volts",
                json!(offset_sigma),
                sp(&p.offset_sigma),
            ),
            ("rail_volts", finite_json(rail), sp(&p.rail)),
            ("open_loop_gain", finite_json(gain), sp(&p.open_loop_gain)),
            (
                "node_capacitance_farads",
                json!(c_z),
                sp(&p.node_capacitance),
            ),
            ("supply_volts", json!(supply), sp(&p.supply)),
            ("ktc_noise", json!(periphery.ktc_noise), sp(&p.ktc_noise)),
            (
                "amplifier_noise_volts_per_root_hertz",
                json!(amp_noise),
                sp(&p.amplifier_noise),
            ),
            (
                "digital_mac_energy_joules",
                json!(mac_energy),
                sp(&p.digital_mac_energy),
            ),
            ("dac_bits", json!(p.dac_bits.get_ref().0), sp(&p.dac_bits)),
            ("dac_range", json!(periphery.dac.range), sp(&p.dac_range)),
            (
                "dac_energy_joules",
                json!(periphery.dac.energy_joules),
                sp(&p.dac_energy),
            ),
            ("adc_bits", json!(p.adc_bits.get_ref().0), sp(&p.adc_bits)),
            ("adc_range", json!(periphery.adc.range), sp(&p.adc_range)),
            (
                "adc_energy_joules",
                json!(periphery.adc.energy_joules),
                sp(&p.adc_energy),
            ),
        ];
        for (k, v, span) in entries {
            r.put("periphery", k, v, span.as_ref());
        }
    }

    // ------------------------------------------------------------------ dynamics
    let tau_z = r.positive(&y.tau_z, "tau_z")?;
    let tau_from_bandwidth = 1.0 / (2.0 * std::f64::consts::PI * bandwidth);
    let tau_e = match &y.tau_e {
        Some(t) => {
            let x = r.non_negative(t, "tau_e")?;
            let bw_span = p.error_amp_bandwidth.span();
            r.ensure(
                x == 0.0
                    || !ctx.user_given(&bw_span)
                    || (x - tau_from_bandwidth).abs() <= 1e-3 * tau_from_bandwidth,
                &t.span(),
                || {
                    format!(
                        "tau_e = {} contradicts periphery.error_amp_bandwidth = {} (which gives \
                         tau_e = 1/(2 pi f_c) = {}); give one of them",
                        format_quantity(x, Dimension::Time),
                        format_quantity(bandwidth, Dimension::Frequency),
                        format_quantity(tau_from_bandwidth, Dimension::Time)
                    )
                },
            )?;
            x
        }
        None => tau_from_bandwidth,
    };
    let solver_name = y.solver.get_ref().as_str();
    let solver = SolverKind::from_name(solver_name)
        .ok_or_else(|| r.err(&y.solver.span(), format!("unknown solver {solver_name}")))?;
    let dt = match &y.dt {
        Some(v) => r.positive(v, "dt")?,
        None if tau_e > 0.0 => (tau_e / 4.0).min(tau_z / 100.0),
        None => tau_z / 100.0,
    };
    let t_max = r.positive(&y.t_max, "t_max")?;
    let t_max_span = y.t_max.span();
    let dt_span = y.dt.as_ref().map(|v| v.span());
    if !solver.is_adaptive() {
        let blame = dt_span
            .as_ref()
            .map_or(&t_max_span, |s| r.blame(s, &t_max_span));
        r.ensure(dt <= t_max, blame, || {
            format!(
                "dt ({}) is longer than t_max ({})",
                format_quantity(dt, Dimension::Time),
                format_quantity(t_max, Dimension::Time)
            )
        })?;
        r.ensure(t_max / dt <= MAX_STEPS, blame, || {
            format!(
                "t_max / dt = {:.3e} steps, more than {MAX_STEPS:e}; lengthen dt or shorten t_max",
                t_max / dt
            )
        })?;
    }
    let settle_tol = y.settle_tol.get_ref().0;
    r.ensure(
        settle_tol > 0.0 && settle_tol < 1.0,
        &y.settle_tol.span(),
        || format!("settle_tol is relative and must lie in (0, 1), found {settle_tol}"),
    )?;
    let steady_tol = match &y.steady_tol {
        Some(v) => r.positive(v, "steady_tol")?,
        None => settle_tol / 100.0,
    };
    let settle_window = match &y.settle_window {
        Some(v) => r.positive(v, "settle_window")?,
        None => 10.0 * tau_z,
    };
    let window_span = y.settle_window.as_ref().map(|v| v.span());
    r.ensure(
        settle_window < t_max,
        window_span
            .as_ref()
            .map_or(&t_max_span, |s| r.blame(s, &t_max_span)),
        || {
            format!(
                "the settle window ({}) must be shorter than t_max ({})",
                format_quantity(settle_window, Dimension::Time),
                format_quantity(t_max, Dimension::Time)
            )
        },
    )?;
    let rtol = r.positive(&y.rtol, "rtol")?;
    let atol = r.positive(&y.atol, "atol")?;
    let noise_on = *y.noise.get_ref();
    let sources: Vec<&str> = [
        (device.read_noise.thermal, "thermal read noise"),
        (device.read_noise.relative > 0.0, "relative read noise"),
        (periphery.ktc_noise, "kT/C noise"),
        (amp_noise > 0.0, "amplifier noise"),
    ]
    .into_iter()
    .filter_map(|(on, what)| on.then_some(what))
    .collect();
    let noisy = noise_on && !sources.is_empty();
    r.ensure(!noisy || solver.handles_noise(), &y.solver.span(), || {
        format!(
            "{} cannot integrate noise ({} on); use euler or heun, or set dynamics.noise = false",
            solver.name(),
            sources.join(", ")
        )
    })?;
    let dynamics = Dynamics {
        tau_z_seconds: tau_z,
        tau_e_seconds: tau_e,
        solver,
        dt_seconds: dt,
        t_max_seconds: t_max,
        settle_tol,
        steady_tol,
        settle_window_seconds: settle_window,
        rtol,
        atol,
        noisy,
    };
    r.put(
        "dynamics",
        "tau_z_seconds",
        json!(tau_z),
        Some(&y.tau_z.span()),
    );
    r.put(
        "dynamics",
        "tau_e_seconds",
        json!(tau_e),
        y.tau_e.as_ref().map(|v| v.span()).as_ref(),
    );
    r.put(
        "dynamics",
        "solver",
        json!(solver.name()),
        Some(&y.solver.span()),
    );
    r.put("dynamics", "dt_seconds", json!(dt), dt_span.as_ref());
    r.put("dynamics", "t_max_seconds", json!(t_max), Some(&t_max_span));
    r.put(
        "dynamics",
        "settle_tol",
        json!(settle_tol),
        Some(&y.settle_tol.span()),
    );
    r.put(
        "dynamics",
        "steady_tol",
        json!(steady_tol),
        y.steady_tol.as_ref().map(|v| v.span()).as_ref(),
    );
    r.put(
        "dynamics",
        "settle_window_seconds",
        json!(settle_window),
        y.settle_window.as_ref().map(|v| v.span()).as_ref(),
    );
    r.put("dynamics", "rtol", json!(rtol), Some(&y.rtol.span()));
    r.put("dynamics", "atol", json!(atol), Some(&y.atol.span()));
    r.put("dynamics", "noise", json!(noise_on), Some(&y.noise.span()));

    // ------------------------------------------------------------------ data parameters
    let data_seed = data.seed.as_ref().map_or(seed, |s| s.get_ref().0);
    let input_std = r.positive(&data.input_std, "input_std")?;
    let target_std = r.positive(&data.target_std, "target_std")?;
    let target_noise = r.non_negative(&data.target_noise, "target_noise")?;
    let synthetic = matches!(src, Src::Teacher | Src::Gaussian);
    if let Some(s) = &data.seed {
        r.unused_unless(
            &s.span(),
            &[data_seed as f64],
            synthetic,
            "data.source is teacher or gaussian",
        )?;
    }
    r.unused_unless(
        &data.input_std.span(),
        &[input_std],
        synthetic,
        "data.source is teacher or gaussian",
    )?;
    r.unused_unless(
        &data.target_std.span(),
        &[target_std],
        matches!(src, Src::Gaussian),
        "data.source = \"gaussian\"",
    )?;
    r.unused_unless(
        &data.target_noise.span(),
        &[target_noise],
        matches!(src, Src::Teacher),
        "data.source = \"teacher\"",
    )?;
    let source = match src {
        Src::Optdigits => DataSource::Optdigits {
            offset: usize_of(offset),
        },
        Src::Teacher => DataSource::Teacher {
            seed: data_seed,
            input_std,
            target_noise,
        },
        Src::Gaussian => DataSource::Gaussian {
            seed: data_seed,
            input_std,
            target_std,
        },
        Src::Hdf5(path, _) => DataSource::Hdf5 { path },
    };
    r.put("data", "samples", json!(samples), samples_span.as_ref());
    r.put("data", "offset", json!(offset), Some(&data.offset.span()));
    r.put(
        "data",
        "seed",
        json!(data_seed),
        data.seed.as_ref().map(|s| s.span()).as_ref(),
    );
    r.put(
        "data",
        "input_std",
        json!(input_std),
        Some(&data.input_std.span()),
    );
    r.put(
        "data",
        "target_std",
        json!(target_std),
        Some(&data.target_std.span()),
    );
    r.put(
        "data",
        "target_noise",
        json!(target_noise),
        Some(&data.target_noise.span()),
    );

    Ok(Circuit {
        name,
        architecture,
        device,
        crossbar,
        periphery,
        dynamics,
        data: DataSpec {
            source,
            samples: usize_of(samples),
        },
        run: RunParams {
            batch: usize_of(batch),
            seed,
            trace_samples: usize_of(trace_samples),
            trace_points: usize_of(trace_points),
        },
        config: r.config,
    })
}

fn sp<T>(v: &Spanned<T>) -> Option<Range<usize>> {
    Some(v.span())
}

fn n_samples(v: &Option<Spanned<Count>>) -> Option<(u64, Range<usize>)> {
    v.as_ref().map(|s| (s.get_ref().0, s.span()))
}
