//! [data]: the source of the batch (and, for an HDF5 file, of the network), the samples taken
//! from it, and the parameters of the synthetic sources.

use super::resolver::{opt_sp, usize_of, Resolver, Result};
use crate::config::circuit::{DataSource, DataSpec, OPTDIGITS_SAMPLES};
use crate::config::echo::shorten_path;
use crate::config::error::ErrorKind;
use crate::config::options::LoadOptions;
use crate::config::raw::RawData;
use crate::config::schema;
use crate::config::source::{resolve_path, Context};
use crate::network::model::Architecture;
use serde_json::json;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// What an HDF5 data file says about the network.
pub(super) struct FileNetwork {
    pub arch: Architecture,
    pub batch: usize,
}

impl FileNetwork {
    /// The file's hidden widths.
    pub fn hidden(&self) -> Vec<u64> {
        let w = &self.arch.widths;
        w[1..w.len() - 1].iter().map(|&x| x as u64).collect()
    }
}

/// The data source, with what its file says when it is one.
pub(super) enum Src {
    Optdigits,
    Teacher,
    Gaussian,
    Hdf5(PathBuf, FileNetwork),
    /// A user's data set: its features, outputs, and samples when it is not split.
    Dataset(PathBuf, DatasetShape),
}

/// What a data set file fixes.
pub(super) struct DatasetShape {
    pub inputs: usize,
    pub outputs: usize,
    /// Samples to split (`None`: the file holds its own split).
    pub unsplit: Option<usize>,
}

impl Src {
    pub fn file(&self) -> Option<&FileNetwork> {
        match self {
            Src::Hdf5(_, f) => Some(f),
            _ => None,
        }
    }
}

/// The samples taken from the source.
pub(super) struct Samples {
    pub count: u64,
    /// `None`: the default (the batch, or the file's batch).
    pub span: Option<Range<usize>>,
    pub offset: u64,
}

/// The file at `path` read by `read`; refused when reading files is disabled, when it is not a
/// regular file, or with what `read` says.
fn read_file<T>(
    ctx: &Context<'_>,
    span: &Range<usize>,
    (path, opts): (&Path, &LoadOptions),
    read: impl FnOnce(&Path) -> std::result::Result<T, String>,
) -> Result<T> {
    let fail = |message: String| ctx.error(span, ErrorKind::Data { message });
    let shown = path.display().to_string();
    let shown = shorten_path(&shown);
    if !opts.read_files {
        return Err(fail(format!("{shown}: reading files is disabled")));
    }
    let meta = std::fs::metadata(path).map_err(|e| fail(format!("{shown}: {e}")))?;
    if !meta.is_file() {
        return Err(fail(format!("{shown}: not a regular file")));
    }
    read(path).map_err(fail)
}

/// What a weights file in the reference layout fixes.
fn read_hdf5(path: &Path) -> std::result::Result<FileNetwork, String> {
    let input = crate::io::reference::read_reference(path).map_err(|e| e.to_string())?;
    Ok(FileNetwork {
        arch: input.network.architecture().clone(),
        batch: input.batch.size(),
    })
}

/// What a data set file fixes.
fn read_dataset(path: &Path) -> std::result::Result<DatasetShape, String> {
    let d = crate::io::dataset::read_dataset(path).map_err(|e| e.to_string())?;
    Ok(DatasetShape {
        inputs: d.inputs(),
        outputs: d.outputs(),
        unsplit: d.test.is_none().then(|| d.train.size()),
    })
}

/// `data.source`, reading the network and batch of an HDF5 file.
pub(super) fn source(r: &mut Resolver, data: &RawData, opts: &LoadOptions) -> Result<Src> {
    let ctx = r.ctx;
    let span = data.source.span();
    let text = data.source.get_ref().as_str();
    let src = match text {
        "optdigits" => Src::Optdigits,
        "teacher" => Src::Teacher,
        "gaussian" => Src::Gaussian,
        s if s.starts_with("hdf5:") && s.len() > "hdf5:".len() => {
            let path = resolve_path(ctx.base_dir.as_deref(), &s["hdf5:".len()..]);
            let file = read_file(ctx, &span, (&path, opts), read_hdf5)?;
            Src::Hdf5(path, file)
        }
        s if s.starts_with("dataset:") && s.len() > "dataset:".len() => {
            let path = resolve_path(ctx.base_dir.as_deref(), &s["dataset:".len()..]);
            let shape = read_file(ctx, &span, (&path, opts), read_dataset)?;
            Src::Dataset(path, shape)
        }
        other => {
            let choices = [
                "optdigits",
                "teacher",
                "gaussian",
                "hdf5:PATH",
                "dataset:PATH",
            ];
            return Err(ctx.error(
                &span,
                ErrorKind::UnknownChoice {
                    value: other.to_string(),
                    choices: choices.iter().map(|c| c.to_string()).collect(),
                    suggestion: schema::nearest(other, ["optdigits", "teacher", "gaussian"])
                        .map(str::to_string),
                },
            ));
        }
    };
    r.put("data", "source", json!(text), Some(&span));
    Ok(src)
}

/// The samples `apcsim train`'s split draws from and what holds them (`None`: a data set file
/// with its own split).
pub(super) fn split_pool(src: &Src) -> Option<(u64, &'static str)> {
    match src {
        Src::Dataset(_, d) => d.unsplit.map(|n| (n as u64, "the data set")),
        _ => Some((OPTDIGITS_SAMPLES as u64, "optdigits")),
    }
}

/// `data.samples` and `data.offset`, against the batch (`run.batch`, at `batch_span`) and the
/// source's size.
pub(super) fn samples(
    r: &Resolver,
    data: &RawData,
    src: &Src,
    batch: u64,
    batch_span: &Range<usize>,
) -> Result<Samples> {
    let file = src.file();
    let (count, span) = match &data.samples {
        Some(s) => (s.get_ref().0, Some(s.span())),
        None => (file.map_or(batch, |f| f.batch as u64), None),
    };
    if let Some(span) = &span {
        r.ensure(count >= 1, span, || "must be at least 1".to_string())?;
        if let Some(f) = file {
            r.ensure(count <= f.batch as u64, span, || {
                format!(
                    "the weights file holds {} samples, fewer than {count}",
                    f.batch
                )
            })?;
        }
    }
    let too_few =
        || format!("the batch ({batch}) is larger than the samples taken from the data ({count})");
    match &span {
        Some(s) => r.ensure_relation(batch <= count, batch_span, s, too_few)?,
        None => r.ensure(batch <= count, batch_span, too_few)?,
    }
    let offset = data.offset.get_ref().0;
    if let Src::Optdigits = src {
        let offset_span = data.offset.span();
        r.ensure_relation(
            offset.saturating_add(count) <= OPTDIGITS_SAMPLES as u64,
            &offset_span,
            span.as_ref().unwrap_or(batch_span),
            || {
                format!(
                    "optdigits has {OPTDIGITS_SAMPLES} samples; offset {offset} + samples {count} \
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
    Ok(Samples {
        count,
        span,
        offset,
    })
}

/// The data of the circuit: the source with its parameters (the synthetic sources' seed
/// follows `run.seed` unless given).
pub(super) fn data_spec(
    r: &mut Resolver,
    data: &RawData,
    src: Src,
    samples: &Samples,
    run_seed: u64,
) -> Result<DataSpec> {
    let data_seed = data.seed.as_ref().map_or(run_seed, |s| s.get_ref().0);
    let input_std = r.positive(&data.input_std, "input_std")?;
    let target_std = r.positive(&data.target_std, "target_std")?;
    let target_noise = r.non_negative(&data.target_noise, "target_noise")?;
    let synthetic = matches!(src, Src::Teacher | Src::Gaussian);
    let synthetic_only = "data.source is teacher or gaussian";
    if let Some(s) = &data.seed {
        r.unused_unless(&s.span(), &[data_seed as f64], synthetic, synthetic_only)?;
    }
    r.unused_unless(
        &data.input_std.span(),
        &[input_std],
        synthetic,
        synthetic_only,
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
            offset: usize_of(samples.offset),
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
        Src::Dataset(path, _) => DataSource::Dataset { path },
    };
    r.put_all(
        "data",
        vec![
            ("samples", json!(samples.count), samples.span.clone()),
            ("offset", json!(samples.offset), Some(data.offset.span())),
            ("seed", json!(data_seed), opt_sp(&data.seed)),
            ("input_std", json!(input_std), Some(data.input_std.span())),
            (
                "target_std",
                json!(target_std),
                Some(data.target_std.span()),
            ),
            (
                "target_noise",
                json!(target_noise),
                Some(data.target_noise.span()),
            ),
        ],
    );
    Ok(DataSpec {
        source,
        samples: usize_of(samples.count),
    })
}
