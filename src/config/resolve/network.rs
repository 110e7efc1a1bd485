//! [network]: the widths (from the design, the data source or an HDF5 file) and the kind of
//! network. The widths are checked in two steps: their sizes first ([`shape`]), so that the
//! memory estimate can refuse an absurd design before any width vector is built, then the
//! architecture itself ([`architecture`]).

use super::data::{DatasetShape, FileNetwork, Src};
use super::resolver::{usize_of, Resolver, Result};
use crate::config::circuit::{OPTDIGITS_CLASSES, OPTDIGITS_INPUTS};
use crate::config::error::{ConfigError, ErrorKind};
use crate::config::raw::{Count, RawNetwork};
use crate::network::activation::Activation;
use crate::network::model::Architecture;
use crate::network::param::Parameterisation;
use serde_json::{json, Value};
use std::ops::Range;
use toml::Spanned;

/// The hidden layers before they are materialised (a depth can be absurd).
pub(super) enum Hidden {
    List(Vec<u64>),
    Uniform { width: u64, depth: u64 },
}

impl Hidden {
    /// (weights, hidden nodes) for input width `d` and output width `o`, as floats.
    pub fn size(&self, d: f64, o: f64) -> (f64, f64) {
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

    /// Weight layers.
    pub fn layers(&self) -> f64 {
        match self {
            Hidden::List(h) => h.len() as f64 + 1.0,
            Hidden::Uniform { depth, .. } => *depth as f64,
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

/// The widths of the network, not yet materialised.
pub(super) struct Shape {
    pub input: u64,
    pub output: u64,
    pub hidden: Hidden,
    input_span: Option<Range<usize>>,
    output_span: Option<Range<usize>>,
    pub width_span: Range<usize>,
    pub depth_span: Range<usize>,
}

impl Shape {
    /// The value to blame for the network's size: the hidden widths, or the width or depth.
    pub fn size_span(&self, n: &RawNetwork, r: &Resolver) -> Range<usize> {
        match &n.hidden {
            Some(h) => h.span(),
            None => r.blame(&self.width_span, &self.depth_span).clone(),
        }
    }
}

/// The input or output width: the design's, checked against what the source fixes.
fn end_width(
    r: &Resolver,
    what: &str,
    given: Option<&Spanned<Count>>,
    fixed: Option<(usize, &str)>,
    source: &Spanned<String>,
) -> Result<(u64, Option<Range<usize>>)> {
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
            location: r.ctx.sources.locate(&source.span()),
            key: format!("network.{what}"),
            kind: Box::new(ErrorKind::Invalid {
                message: format!(
                    "required with data source `{}` (give network.{what})",
                    source.get_ref()
                ),
            }),
        }),
    }
}

/// The input, hidden and output widths, from the design, the data source or the weights file.
pub(super) fn shape(
    r: &Resolver,
    n: &RawNetwork,
    src: &Src,
    source: &Spanned<String>,
) -> Result<Shape> {
    let file = src.file();
    let fixed =
        |end: fn(&[usize]) -> usize, optdigits: usize, set: fn(&DatasetShape) -> usize| match (
            src, file,
        ) {
            (Src::Optdigits, _) => Some((optdigits, "optdigits")),
            (Src::Dataset(_, d), _) => Some((set(d), "the data set")),
            (_, Some(f)) => Some((end(&f.arch.widths), "the weights file")),
            _ => None,
        };
    let fixed_in = fixed(|w| w[0], OPTDIGITS_INPUTS, |d| d.inputs);
    let fixed_out = fixed(|w| w[w.len() - 1], OPTDIGITS_CLASSES, |d| d.outputs);
    let (input, input_span) = end_width(r, "input", n.input.as_ref(), fixed_in, source)?;
    let (output, output_span) = end_width(r, "output", n.output.as_ref(), fixed_out, source)?;
    let width_span = n.width.span();
    let depth_span = n.depth.span();
    let hidden = match (&n.hidden, file) {
        (Some(h), _) => hidden_list(r, h, file, [&width_span, &depth_span])?,
        (None, Some(f)) if !r.ctx.user_given(&width_span) && !r.ctx.user_given(&depth_span) => {
            Hidden::List(f.hidden())
        }
        (None, _) => {
            let width = r.at_least(&n.width, 1, "the width")?;
            let depth = r.at_least(&n.depth, 2, "the depth (weight layers)")?;
            if let Some(f) = file {
                let want = f.arch.widths.len() as u64 - 1;
                let h = f.hidden();
                r.ensure(
                    depth == want && h.iter().all(|&w| w == width),
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
    Ok(Shape {
        input,
        output,
        hidden,
        input_span,
        output_span,
        width_span,
        depth_span,
    })
}

/// `network.hidden`, written: not beside width and depth, not empty, and the file's if any.
fn hidden_list(
    r: &Resolver,
    h: &Spanned<Vec<Spanned<Count>>>,
    file: Option<&FileNetwork>,
    width_and_depth: [&Range<usize>; 2],
) -> Result<Hidden> {
    for other in width_and_depth {
        r.ensure(!r.ctx.user_given(other), other, || {
            "give either network.hidden or network.width and network.depth, not both".to_string()
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
        let want = f.hidden();
        r.ensure(list == want, &h.span(), || {
            format!("the weights file has hidden widths {want:?}, but the design says {list:?}")
        })?;
    }
    Ok(Hidden::List(list))
}

/// The architecture: the widths materialised, and the kind of network (the weights file's
/// unless the design gives it, in which case the two must agree).
pub(super) fn architecture(
    r: &mut Resolver,
    n: &RawNetwork,
    shape: &Shape,
    file: Option<&FileNetwork>,
) -> Result<Architecture> {
    let mut widths = vec![usize_of(shape.input)];
    widths.extend(shape.hidden.widths());
    widths.push(usize_of(shape.output));
    let ctx = r.ctx;
    let from_file = |span: &Range<usize>| file.filter(|_| !ctx.user_given(span));
    let activation = match from_file(&n.activation.span()) {
        Some(f) => f.arch.activation,
        None => n
            .activation
            .get_ref()
            .parse::<Activation>()
            .map_err(|e| r.err(&n.activation.span(), e.to_string()))?,
    };
    let architecture = Architecture {
        widths,
        activation,
        parameterisation: match from_file(&n.parameterisation.span()) {
            Some(f) => f.arch.parameterisation,
            None => n
                .parameterisation
                .get_ref()
                .parse::<Parameterisation>()
                .map_err(|e| r.err(&n.parameterisation.span(), e.to_string()))?,
        },
        skips: match from_file(&n.skips.span()) {
            Some(f) => f.arch.skips,
            None => *n.skips.get_ref(),
        },
        gamma0: match from_file(&n.gamma0.span()) {
            Some(f) => f.arch.gamma0,
            None => r.positive(&n.gamma0, "gamma0")?,
        },
        output_precision: match from_file(&n.output_precision.span()) {
            Some(f) => f.arch.output_precision,
            None => r.positive(&n.output_precision, "the output precision")?,
        },
    };
    if let Some(f) = file {
        agrees_with_file(r, n, &architecture, &f.arch)?;
    }
    if architecture.skips {
        let hidden_w = &architecture.widths[1..architecture.widths.len() - 1];
        let span = n.hidden.as_ref().map_or(n.skips.span(), |h| h.span());
        r.ensure(hidden_w.windows(2).all(|w| w[0] == w[1]), &span, || {
            format!("skip connections need equal hidden widths, found {hidden_w:?}")
        })?;
    }
    architecture
        .validate()
        .map_err(|e| r.err(&n.skips.span(), e.to_string()))?;
    put_network(r, n, shape, &architecture, file.is_some());
    Ok(architecture)
}

/// Each kind the design gives must be the weights file's.
fn agrees_with_file(
    r: &Resolver,
    n: &RawNetwork,
    ours: &Architecture,
    theirs: &Architecture,
) -> Result<()> {
    let checks: [(Range<usize>, bool, String); 5] = [
        (
            n.activation.span(),
            ours.activation == theirs.activation,
            format!("activation {}", theirs.activation),
        ),
        (
            n.parameterisation.span(),
            ours.parameterisation == theirs.parameterisation,
            format!("parameterisation {}", theirs.parameterisation),
        ),
        (
            n.skips.span(),
            ours.skips == theirs.skips,
            format!("skips {}", theirs.skips),
        ),
        (
            n.gamma0.span(),
            ours.gamma0 == theirs.gamma0,
            format!("gamma0 {}", theirs.gamma0),
        ),
        (
            n.output_precision.span(),
            ours.output_precision == theirs.output_precision,
            format!("output_precision {}", theirs.output_precision),
        ),
    ];
    for (span, ok, says) in checks {
        r.ensure(ok, &span, || format!("the weights file says {says}"))?;
    }
    Ok(())
}

fn put_network(r: &mut Resolver, n: &RawNetwork, shape: &Shape, a: &Architecture, from_file: bool) {
    let w = &a.widths;
    let hidden_w = &w[1..w.len() - 1];
    let uniform = hidden_w.windows(2).all(|p| p[0] == p[1]);
    let width_origin = (n.hidden.is_none() && !from_file).then(|| shape.width_span.clone());
    let depth_origin = width_origin.as_ref().map(|_| shape.depth_span.clone());
    r.put_all(
        "network",
        vec![
            ("input", json!(w[0]), shape.input_span.clone()),
            (
                "hidden",
                json!(hidden_w),
                n.hidden.as_ref().map(|h| h.span()),
            ),
            (
                "width",
                if uniform {
                    json!(hidden_w[0])
                } else {
                    Value::Null
                },
                width_origin,
            ),
            ("depth", json!(a.n_layers()), depth_origin),
            ("output", json!(w[w.len() - 1]), shape.output_span.clone()),
            (
                "activation",
                json!(a.activation.name()),
                Some(n.activation.span()),
            ),
            (
                "parameterisation",
                json!(a.parameterisation.name()),
                Some(n.parameterisation.span()),
            ),
            ("skips", json!(a.skips), Some(n.skips.span())),
            ("gamma0", json!(a.gamma0), Some(n.gamma0.span())),
            (
                "output_precision",
                json!(a.output_precision),
                Some(n.output_precision.span()),
            ),
        ],
    );
}
