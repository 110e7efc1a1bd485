//! The plan of a sweep: its axes (from `--grid` and `--zip`), seeds and shard, the point each
//! index stands for, the seed each point derives, and the check that every point's design loads
//! before any point runs.
//!
//! Points are numbered in plan order: the cartesian product of the axes with the first axis
//! varying slowest, then the seeds innermost (`index = combination * seeds + seed_index`).
//!
//! Every combination's design is loaded and checked up front, but none is kept: a point's
//! design is loaded again, from the design text read once, when the point runs
//! ([`LoadedPlan::circuit`]). A plan therefore costs under a kilobyte per point of its
//! shard, whatever the size of a design.

use super::SweepError;
use crate::config::{self, schema, Circuit, DesignText, Document, LoadOptions, Origin};
use crate::numeric::seeds::{splitmix64_mix, GOLDEN_GAMMA};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::Path;

/// The format tag of `plan.json`.
pub const PLAN_FORMAT: &str = "apcsim-sweep-plan/1";

/// The most points a sweep may have (every point's design is loaded and checked up front).
pub const MAX_POINTS: usize = 1_000_000;

/// One axis of the grid: a single `--grid` key, or every `--zip` key varying together.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanAxis {
    /// The keys as written (`crossbar.wire_resistance`).
    pub keys: Vec<String>,
    /// `values[v][k]`: the text of key `k` at the axis' `v`-th value, as written.
    pub values: Vec<Vec<String>>,
    /// What the axis is called on charts: the first key and its unit.
    pub label: String,
    /// The first key's resolved value in SI units at each axis value, when it is a finite
    /// number (for charts: numeric axes are drawn to scale).
    pub numeric: Vec<Option<f64>>,
}

impl PlanAxis {
    /// Whether every value has a number, so that the axis can be drawn to scale.
    pub fn is_numeric(&self) -> bool {
        self.numeric.iter().all(Option::is_some)
    }

    /// The text of the axis' `v`-th value: "8" or, for zipped keys, "8 / 1ohm".
    pub fn tick(&self, v: usize) -> String {
        self.values[v].join(" / ")
    }
}

/// The K-th of N disjoint slices of the points: shard K (counted from 1) runs the points whose
/// index is K - 1 modulo N (interleaved, so that every shard gets a share of every region of the
/// grid and shards take about as long as each other).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// Parses `K/N` with 1 <= K <= N.
    pub fn parse(text: &str) -> Result<Shard, SweepError> {
        let bad = |why: &str| SweepError::Spec(format!("--shard {text}: {why}"));
        let (k, n) = text
            .split_once('/')
            .ok_or_else(|| bad("expected K/N, e.g. 1/4"))?;
        let k: usize = k
            .trim()
            .parse()
            .map_err(|_| bad("K is not a whole number"))?;
        let n: usize = n
            .trim()
            .parse()
            .map_err(|_| bad("N is not a whole number"))?;
        if n == 0 {
            return Err(bad("N must be at least 1"));
        }
        if k == 0 || k > n {
            return Err(bad(&format!(
                "K counts from 1 to N = {n} (with a Slurm array --array=0-{}, pass \
                 $((SLURM_ARRAY_TASK_ID + 1)))",
                n - 1
            )));
        }
        Ok(Shard { index: k, count: n })
    }

    /// Whether the point `index` belongs to this shard.
    pub fn holds(&self, index: usize) -> bool {
        index % self.count == self.index - 1
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// What a sweep is, as recorded in `DIR/plan.json`: enough to check that a resumed or merged
/// folder continues the same sweep, and to draw its summaries without the design file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepPlan {
    pub format: String,
    pub apcsim_version: String,
    /// The design file as named on the command line (not compared: a sweep may be resumed
    /// from another folder).
    pub design: String,
    /// The `--set` overrides as given (not compared: their effect is in `config`).
    pub sets: Vec<String>,
    pub axes: Vec<PlanAxis>,
    pub seeds: usize,
    pub common_seeds: bool,
    /// Every point of the sweep, all shards together.
    pub points: usize,
    /// This folder's slice of the points; `None` for the whole sweep.
    pub shard: Option<Shard>,
    /// The resolved configuration (`values`, SI units) of the design with `--set` applied,
    /// before the grid.
    pub config: Value,
}

impl SweepPlan {
    /// Number of grid combinations (points without the seeds).
    pub fn combinations(&self) -> usize {
        self.axes.iter().map(|a| a.values.len()).product()
    }

    /// Every key of the axes, in axis order (zipped keys in their order).
    pub fn keys(&self) -> Vec<String> {
        self.axes.iter().flat_map(|a| a.keys.clone()).collect()
    }

    /// The value index on each axis of combination `c` (the last axis varies fastest).
    pub fn combination(&self, c: usize) -> Vec<usize> {
        let mut rest = c;
        let mut out = vec![0; self.axes.len()];
        for (a, axis) in self.axes.iter().enumerate().rev() {
            let n = axis.values.len();
            out[a] = rest % n;
            rest /= n;
        }
        out
    }

    /// The texts of every key at combination `c`, in [`SweepPlan::keys`] order.
    pub fn values_of(&self, c: usize) -> Vec<String> {
        self.combination(c)
            .iter()
            .zip(&self.axes)
            .flat_map(|(&v, axis)| axis.values[v].clone())
            .collect()
    }

    /// Whether this folder runs point `index`.
    pub fn holds(&self, index: usize) -> bool {
        self.shard.is_none_or(|s| s.holds(index))
    }

    /// The points of this folder, in plan order.
    pub fn own_points(&self) -> Vec<usize> {
        (0..self.points).filter(|&i| self.holds(i)).collect()
    }

    /// The file name of point `index` under `points/`, zero-padded so that names sort in plan
    /// order.
    pub fn point_name(&self, index: usize) -> String {
        let width = self.points.saturating_sub(1).to_string().len();
        format!("{index:0width$}")
    }

    /// The plan as `plan.json` holds it.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into());
        s.push('\n');
        s
    }

    /// Parses `plan.json` text.
    pub fn from_json(text: &str) -> Result<SweepPlan, String> {
        let plan: SweepPlan = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if plan.format != PLAN_FORMAT {
            return Err(format!(
                "format `{}`, expected `{PLAN_FORMAT}`",
                plan.format
            ));
        }
        let combos = plan
            .axes
            .iter()
            .try_fold(1usize, |acc, a| acc.checked_mul(a.values.len()));
        let consistent = plan.seeds >= 1
            && plan.axes.iter().all(|a| {
                !a.keys.is_empty()
                    && !a.values.is_empty()
                    && a.numeric.len() == a.values.len()
                    && a.values.iter().all(|v| v.len() == a.keys.len())
            })
            && combos.and_then(|c| c.checked_mul(plan.seeds)) == Some(plan.points)
            && plan
                .shard
                .is_none_or(|s| s.count >= 1 && (1..=s.count).contains(&s.index));
        if !consistent {
            return Err("inconsistent axes, seeds, points or shard".into());
        }
        Ok(plan)
    }

    /// Why `other` (read from a folder) is not the same sweep as `self`, if it is not: the
    /// version, axes, seeds and resolved design must agree. With `same_shard`, the shard too.
    /// Both plans are compared as `plan.json` text parses, so that floats compare exactly.
    pub fn mismatch(&self, other: &SweepPlan, same_shard: bool) -> Option<String> {
        let mine = match SweepPlan::from_json(&self.to_json()) {
            Ok(p) => p,
            Err(e) => return Some(e),
        };
        if mine.apcsim_version != other.apcsim_version {
            return Some(format!(
                "it was made by apcsim {}, this is apcsim {}",
                other.apcsim_version, mine.apcsim_version
            ));
        }
        if mine.axes.len() != other.axes.len()
            || mine
                .axes
                .iter()
                .zip(&other.axes)
                .any(|(a, b)| a.keys != b.keys || a.values != b.values)
        {
            return Some(format!(
                "its axes are {}, these are {}",
                describe_axes(&other.axes),
                describe_axes(&mine.axes)
            ));
        }
        if mine.seeds != other.seeds || mine.common_seeds != other.common_seeds {
            return Some(format!(
                "it has {} seeds{}, this has {}{}",
                other.seeds,
                if other.common_seeds { " (common)" } else { "" },
                mine.seeds,
                if mine.common_seeds { " (common)" } else { "" }
            ));
        }
        if mine.config != other.config {
            let keys = differences(&mine.config, &other.config);
            let shown: Vec<&str> = keys.iter().take(6).map(String::as_str).collect();
            return Some(format!(
                "the resolved design differs at {}{}",
                shown.join(", "),
                if keys.len() > shown.len() {
                    ", …"
                } else {
                    ""
                }
            ));
        }
        if mine.axes != other.axes || mine.points != other.points {
            return Some("its axes resolve to other values".into());
        }
        if same_shard && mine.shard != other.shard {
            let show =
                |s: Option<Shard>| s.map_or("the whole sweep".into(), |s| format!("shard {s}"));
            return Some(format!(
                "it holds {}, this run is {}",
                show(other.shard),
                show(mine.shard)
            ));
        }
        None
    }
}

fn describe_axes(axes: &[PlanAxis]) -> String {
    if axes.is_empty() {
        return "none".into();
    }
    axes.iter()
        .map(|a| {
            let vals: Vec<String> = (0..a.values.len()).map(|v| a.tick(v)).collect();
            format!("{}={}", a.keys.join("+"), vals.join(","))
        })
        .collect::<Vec<_>>()
        .join(" x ")
}

/// The `section.key`s whose values differ between two resolved configurations.
fn differences(a: &Value, b: &Value) -> Vec<String> {
    let empty = serde_json::Map::new();
    let (a, b) = (
        a.as_object().unwrap_or(&empty),
        b.as_object().unwrap_or(&empty),
    );
    let mut sections: Vec<&String> = a.keys().chain(b.keys()).collect();
    sections.sort();
    sections.dedup();
    let mut out = Vec::new();
    for s in sections {
        let (x, y) = (a.get(s), b.get(s));
        if x == y {
            continue;
        }
        let (xm, ym) = (
            x.and_then(Value::as_object).unwrap_or(&empty),
            y.and_then(Value::as_object).unwrap_or(&empty),
        );
        let mut keys: Vec<&String> = xm.keys().chain(ym.keys()).collect();
        keys.sort();
        keys.dedup();
        let before = out.len();
        out.extend(
            keys.into_iter()
                .filter(|k| xm.get(*k) != ym.get(*k))
                .map(|k| format!("{s}.{k}")),
        );
        if out.len() == before {
            out.push(s.clone());
        }
    }
    out
}

/// What the command line asks for, before anything is loaded.
#[derive(Clone, Debug, Default)]
pub struct SweepSpec {
    /// `--grid` arguments, as given.
    pub grids: Vec<String>,
    /// `--zip` arguments, as given.
    pub zips: Vec<String>,
    pub seeds: usize,
    pub common_seeds: bool,
    pub shard: Option<Shard>,
    /// `--set` overrides, applied before the grid.
    pub sets: Vec<String>,
}

/// One point to run: its place in the plan and what its design is loaded with
/// ([`LoadedPlan::circuit`]).
#[derive(Clone, Debug, PartialEq)]
pub struct PointJob {
    pub index: usize,
    pub seed_index: usize,
    /// The derived `run.seed` the design is loaded with.
    pub seed: u64,
    /// The texts of every key, in [`SweepPlan::keys`] order.
    pub values: Vec<String>,
    /// A digest of the design as the plan's check resolved it (see `fingerprint` in this module).
    pub fingerprint: u64,
}

/// A digest of a resolved design: equal for two loads of the same texts with the same
/// overrides, so that a design loaded again when its point runs can be checked against the one
/// the plan's check resolved, device presets included. Everything that derives from the seed
/// (`run.seed`, and `data.seed` where it follows `run.seed`) is in it: a point compares the
/// digest of its design loaded as the check loaded it, with the design's own seed, before it
/// loads the design with the point's seed ([`LoadedPlan::circuit`]).
fn fingerprint(circuit: &Circuit) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    serde_json::to_string(&circuit.config.values)
        .unwrap_or_default()
        .hash(&mut h);
    h.finish()
}

/// A checked plan with this folder's points, and the design text they load from.
#[derive(Clone, Debug)]
pub struct LoadedPlan {
    pub plan: SweepPlan,
    /// This shard's points in plan order.
    pub jobs: Vec<PointJob>,
    design: DesignText,
}

impl LoadedPlan {
    /// The design of `job`: the design text as read when the plan was loaded, with `--set`,
    /// the job's key values and its derived `run.seed` applied. Every combination loaded when
    /// the plan was checked, so this fails only on a job that is not from this plan, or when a
    /// file that the design names, such as a device preset, changed meanwhile: then the design
    /// no longer resolves as it did for the check, and the point is refused rather than run on
    /// other values than the plan records.
    pub fn circuit(&self, job: &PointJob) -> Result<Circuit, SweepError> {
        let keys = self.plan.keys();
        let grid_specs = grid_specs(&keys, &job.values);
        let mut overrides = self.plan.sets.clone();
        overrides.extend(grid_specs.iter().cloned());
        let load = |overrides: &[String]| {
            self.design
                .load(overrides, &LoadOptions::default())
                .map_err(|e| point_error(job.index, &keys, &job.values, &grid_specs, e))
        };
        // As the check loaded it (the design's own seed): the same values, or a file changed.
        if fingerprint(&load(&overrides)?) != job.fingerprint {
            return Err(SweepError::Point {
                index: job.index,
                values: grid_specs.join(", "),
                message: "the design resolves to other values than when the sweep started: a \
                          file it names (a device preset) changed; run the sweep again"
                    .into(),
            });
        }
        overrides.push(format!("run.seed={}", job.seed));
        load(&overrides)
    }
}

/// `key=value` for every key of a point, as `--grid` would give them.
fn grid_specs(keys: &[String], values: &[String]) -> Vec<String> {
    keys.iter()
        .zip(values)
        .map(|(k, v)| format!("{k}={v}"))
        .collect()
}

/// Splits `key=v1,v2,…` into the key and its values. Commas inside brackets, braces or quotes
/// do not split (`network.hidden=[32,32],[64,64]` has two values).
pub fn parse_axis_arg(flag: &str, arg: &str) -> Result<(String, Vec<String>), SweepError> {
    let Some((key, rest)) = arg.split_once('=') else {
        return Err(SweepError::Spec(format!(
            "{flag} {arg}: expected KEY=V1,V2,… (e.g. {flag} device.levels=8,16,32)"
        )));
    };
    let key = key.trim();
    if key.is_empty() {
        return Err(SweepError::Spec(format!("{flag} {arg}: no key before `=`")));
    }
    if rest.trim().is_empty() {
        return Err(SweepError::Spec(format!(
            "{flag} {key}: empty grid (no values after `=`)"
        )));
    }
    let mut values = Vec::new();
    let (mut depth, mut quote, mut start) = (0i32, None::<char>, 0usize);
    for (i, ch) in rest.char_indices() {
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(ch),
            (None, '[' | '{') => depth += 1,
            (None, ']' | '}') => depth -= 1,
            (None, ',') if depth <= 0 => {
                values.push(rest[start..i].trim().to_string());
                start = i + 1;
            }
            _ => {}
        }
    }
    values.push(rest[start..].trim().to_string());
    if quote.is_some() || depth != 0 {
        return Err(SweepError::Spec(format!(
            "{flag} {key}: unbalanced quotes or brackets in `{rest}`"
        )));
    }
    if let Some(pos) = values.iter().position(String::is_empty) {
        return Err(SweepError::Spec(format!(
            "{flag} {key}: value {} of `{rest}` is empty",
            pos + 1
        )));
    }
    Ok((key.to_string(), values))
}

/// Checks that `key` names a key of the format; returns its canonical `section.name`.
fn canonical_key(flag: &str, key: &str) -> Result<String, SweepError> {
    let spec = format!("{key}=0");
    let mut doc = Document::parse("(sweep)", "").map_err(|e| SweepError::Spec(e.to_string()))?;
    if let Err(e) = doc.apply_override(&spec) {
        return Err(SweepError::Spec(format!("{flag} {key}: {}", e.kind)));
    }
    let parts: Vec<&str> = key.split('.').map(str::trim).collect();
    Ok(match parts.as_slice() {
        ["device"] => "device.preset".into(),
        [s, k] => schema::lookup(s, k).map_or_else(|| key.to_string(), |(k, _)| k.path()),
        _ => key.to_string(),
    })
}

/// The first key of `section.key` as it appears in a resolved configuration, and its label.
fn resolved_slot(key: &str) -> (String, String, String) {
    let parts: Vec<&str> = key.split('.').map(str::trim).collect();
    let (section, name) = match parts.as_slice() {
        ["device"] => ("device", "preset"),
        [s, k] => (*s, *k),
        _ => ("", key),
    };
    match schema::lookup(section, name) {
        Some((k, _)) => {
            let slot = k.si_name().unwrap_or_else(|| k.name.to_string());
            let label = match k.dimension() {
                Some(d) => format!("{} ({})", k.path(), d.symbol()),
                None => k.path(),
            };
            (section.to_string(), slot, label)
        }
        None => (section.to_string(), name.to_string(), key.to_string()),
    }
}

/// A point's seed: a hash of the design's `run.seed`, the point's key values as written (unless
/// `common`) and the seed index, so that adding values to an axis leaves the other points'
/// seeds alone. 53 bits, so that it is exact in JSON and in HDF5 doubles alike.
pub fn derive_seed(base: u64, values: &[(&str, &str)], seed_index: usize, common: bool) -> u64 {
    // FNV-1a over the bytes, then SplitMix64's finaliser: stable across platforms and
    // versions, unlike std's hasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    feed(&base.to_le_bytes());
    if !common {
        for (k, v) in values {
            feed(k.as_bytes());
            feed(&[0]);
            feed(v.as_bytes());
            feed(&[0xff]);
        }
    }
    feed(&(seed_index as u64).to_le_bytes());
    splitmix64_mix(h.wrapping_add(GOLDEN_GAMMA)) & ((1u64 << 53) - 1)
}

/// A config error of one point, with `<--grid k=v>` as its location when a grid value caused it.
fn point_error(
    index: usize,
    keys: &[String],
    values: &[String],
    grid_specs: &[String],
    e: config::ConfigError,
) -> SweepError {
    let mut message = e.to_string();
    if let Origin::Override(s) = &e.location.origin {
        if grid_specs.contains(s) {
            message = message.replacen(&format!("<--set {s}>"), &format!("<--grid {s}>"), 1);
        }
    }
    let at: Vec<String> = keys
        .iter()
        .zip(values)
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    SweepError::Point {
        index,
        values: at.join(", "),
        message,
    }
}

/// Reads the axes, loads the design and every point's design (all shards', so that every shard
/// of a bad sweep fails the same way), and returns the plan with this shard's points. Nothing
/// is run and nothing is written; no point's design is kept (see [`LoadedPlan::circuit`]).
pub fn load_plan(design: &Path, spec: &SweepSpec) -> Result<LoadedPlan, SweepError> {
    if spec.seeds == 0 {
        return Err(SweepError::Spec("--seeds must be at least 1".into()));
    }
    let opts = LoadOptions::default();
    let config_error = |e: config::ConfigError| SweepError::Config {
        message: e.to_string(),
    };
    let text = DesignText::read(design, &opts).map_err(config_error)?;
    let base = text.load(&spec.sets, &opts).map_err(config_error)?;
    let (axes, flags) = read_axes(spec)?;
    let combos = axes
        .iter()
        .try_fold(1usize, |acc, a| acc.checked_mul(a.values.len()))
        .filter(|c| c.checked_mul(spec.seeds).is_some_and(|t| t <= MAX_POINTS))
        .ok_or_else(|| SweepError::Spec(format!("the sweep has more than {MAX_POINTS} points")))?;
    let mut plan = SweepPlan {
        format: PLAN_FORMAT.into(),
        apcsim_version: env!("CARGO_PKG_VERSION").into(),
        design: design.display().to_string(),
        sets: spec.sets.clone(),
        axes,
        seeds: spec.seeds,
        common_seeds: spec.common_seeds,
        points: combos * spec.seeds,
        shard: spec.shard,
        config: serde_json::to_value(&base.config.values).unwrap_or(Value::Null),
    };
    let check = PlanCheck::new(&plan, spec, &text);
    let (jobs, resolved) = check.every_combination(combos)?;
    refuse_equal_values(&plan.axes, &flags, &check.slots, &resolved)?;
    label_axes(&mut plan.axes, &resolved);
    Ok(LoadedPlan {
        plan,
        jobs,
        design: text,
    })
}

/// The axes of `spec`, checked (each `--grid`, then the `--zip` keys together as the last
/// axis), with the flag that names each in messages. Labels and numbers are left for
/// [`label_axes`].
fn read_axes(spec: &SweepSpec) -> Result<(Vec<PlanAxis>, Vec<String>), SweepError> {
    let mut swept = SweptKeys {
        sets: &spec.sets,
        seen: Vec::new(),
    };
    let mut axes = Vec::new();
    let mut flags = Vec::new();
    for g in &spec.grids {
        let (key, values) = parse_axis_arg("--grid", g)?;
        swept.claim("--grid", &key)?;
        listed_once(&format!("--grid {key}"), &values)?;
        flags.push(format!("--grid {key}"));
        axes.push(PlanAxis {
            keys: vec![key],
            values: values.into_iter().map(|v| vec![v]).collect(),
            label: String::new(),
            numeric: Vec::new(),
        });
    }
    if !spec.zips.is_empty() {
        let axis = zip_axis(&spec.zips, &mut swept)?;
        flags.push(format!("--zip {}", axis.keys.join(" + ")));
        axes.push(axis);
    }
    Ok((axes, flags))
}

/// The keys swept so far (as written, and canonical), and the `--set` overrides that a swept
/// key must not repeat.
struct SweptKeys<'a> {
    sets: &'a [String],
    seen: Vec<(String, String)>,
}

impl SweptKeys<'_> {
    /// Takes `key` for an axis: a key of the format, not swept already, not also set.
    fn claim(&mut self, flag: &str, key: &str) -> Result<(), SweepError> {
        let canon = canonical_key(flag, key)?;
        if let Some((other, _)) = self.seen.iter().find(|(_, c)| *c == canon) {
            return Err(SweepError::Spec(format!(
                "{flag} {key}: the key is already swept (as `{other}`)"
            )));
        }
        for s in self.sets {
            let set_key = s.split_once('=').map_or(s.as_str(), |(k, _)| k.trim());
            if canonical_key("--set", set_key).ok().as_deref() == Some(canon.as_str()) {
                return Err(SweepError::Spec(format!(
                    "{flag} {key}: the key is also given by --set {s}; drop one"
                )));
            }
        }
        self.seen.push((key.to_string(), canon));
        Ok(())
    }
}

/// Refuses a value listed twice: two equal points would derive the same seed and repeat each
/// other.
fn listed_once(what: &str, values: &[String]) -> Result<(), SweepError> {
    match (0..values.len()).find(|&i| values[..i].contains(&values[i])) {
        Some(i) => Err(SweepError::Spec(format!(
            "{what}: value `{}` is listed twice",
            values[i]
        ))),
        None => Ok(()),
    }
}

/// The `--zip` keys as one axis: their lists go together, so they must have one length, and a
/// combination of values may be listed once.
fn zip_axis(zips: &[String], swept: &mut SweptKeys) -> Result<PlanAxis, SweepError> {
    let mut keys = Vec::new();
    let mut columns: Vec<Vec<String>> = Vec::new();
    for z in zips {
        let (key, values) = parse_axis_arg("--zip", z)?;
        swept.claim("--zip", &key)?;
        if let Some(first) = columns.first() {
            if first.len() != values.len() {
                return Err(SweepError::Spec(format!(
                    "--zip {key}: {} values, but --zip {} has {}; zipped lists go together \
                     and must have the same length",
                    values.len(),
                    keys[0],
                    first.len()
                )));
            }
        }
        keys.push(key);
        columns.push(values);
    }
    let n = columns[0].len();
    let tuples: Vec<String> = (0..n)
        .map(|v| {
            let t: Vec<&str> = columns.iter().map(|c| c[v].as_str()).collect();
            t.join(" / ")
        })
        .collect();
    listed_once(&format!("--zip {}", keys.join(" + ")), &tuples)?;
    Ok(PlanAxis {
        keys,
        values: (0..n)
            .map(|v| columns.iter().map(|c| c[v].clone()).collect())
            .collect(),
        label: String::new(),
        numeric: Vec::new(),
    })
}

/// Per axis and value, the resolved values of the axis' keys (`None` where a key has no
/// resolved value), read from the combination that stands for the value.
type Resolved = Vec<Vec<Vec<Option<Value>>>>;

/// What checking one combination keeps: this shard's points of it, and the resolved values of
/// its axis keys where it stands for an axis value (axis, value, the keys' values).
type Checked = (Vec<PointJob>, Vec<(usize, usize, Vec<Option<Value>>)>);

/// The check of every combination of a plan: each loads, and its simulation options pass.
struct PlanCheck<'a> {
    plan: &'a SweepPlan,
    spec: &'a SweepSpec,
    text: &'a DesignText,
    keys: Vec<String>,
    /// Where each axis' keys sit in a resolved configuration: (section, slot).
    slots: Vec<Vec<(String, String)>>,
    /// How many combinations one step along each axis skips.
    strides: Vec<usize>,
}

impl<'a> PlanCheck<'a> {
    fn new(plan: &'a SweepPlan, spec: &'a SweepSpec, text: &'a DesignText) -> Self {
        let slots = plan
            .axes
            .iter()
            .map(|a| {
                a.keys
                    .iter()
                    .map(|k| {
                        let (section, slot, _) = resolved_slot(k);
                        (section, slot)
                    })
                    .collect()
            })
            .collect();
        let mut strides = vec![1usize; plan.axes.len()];
        for a in (0..plan.axes.len().saturating_sub(1)).rev() {
            strides[a] = strides[a + 1] * plan.axes[a + 1].values.len();
        }
        PlanCheck {
            plan,
            spec,
            text,
            keys: plan.keys(),
            slots,
            strides,
        }
    }

    /// Every combination loads (in parallel: loading is independent) and is dropped at once;
    /// only this shard's points (their key values and seeds) and the resolved axis values of
    /// the combinations that stand for them (the other axes at their first value) are kept.
    /// The first combination in plan order that fails is the error.
    fn every_combination(&self, combos: usize) -> Result<(Vec<PointJob>, Resolved), SweepError> {
        use rayon::prelude::*;
        let checked: Vec<Result<Checked, SweepError>> = (0..combos)
            .into_par_iter()
            .map(|c| self.combination(c))
            .filter(|r| {
                r.as_ref()
                    .map_or(true, |(j, s)| !j.is_empty() || !s.is_empty())
            })
            .collect();
        let mut jobs = Vec::new();
        let mut resolved: Resolved = self
            .plan
            .axes
            .iter()
            .map(|a| vec![Vec::new(); a.values.len()])
            .collect();
        for r in checked {
            let (j, stands_for) = r?;
            jobs.extend(j);
            for (a, v, values) in stands_for {
                resolved[a][v] = values;
            }
        }
        Ok((jobs, resolved))
    }

    /// Loads combination `c` and checks its simulation options.
    fn combination(&self, c: usize) -> Result<Checked, SweepError> {
        let (plan, spec) = (self.plan, self.spec);
        let values = plan.values_of(c);
        let grid_specs = grid_specs(&self.keys, &values);
        let mut overrides = spec.sets.clone();
        overrides.extend(grid_specs.iter().cloned());
        let first = c * spec.seeds;
        let circuit = self
            .text
            .load(&overrides, &LoadOptions::default())
            .map_err(|e| point_error(first, &self.keys, &values, &grid_specs, e))?;
        crate::measure::sim_options(&circuit).map_err(|e| SweepError::Point {
            index: first,
            values: grid_specs.join(", "),
            message: e.to_string(),
        })?;
        let kv: Vec<(&str, &str)> = self
            .keys
            .iter()
            .zip(&values)
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let digest = fingerprint(&circuit);
        let jobs: Vec<PointJob> = (0..spec.seeds)
            .filter(|s| plan.holds(first + s))
            .map(|s| PointJob {
                index: first + s,
                seed_index: s,
                seed: derive_seed(circuit.run.seed, &kv, s, spec.common_seeds),
                values: values.clone(),
                fingerprint: digest,
            })
            .collect();
        Ok((jobs, self.stands_for(c, &circuit)))
    }

    /// The axis values that combination `c` stands for, with the resolved values of their keys.
    fn stands_for(&self, c: usize, circuit: &Circuit) -> Vec<(usize, usize, Vec<Option<Value>>)> {
        let mut out = Vec::new();
        for (a, axis) in self.plan.axes.iter().enumerate() {
            let stride = self.strides[a];
            if c.is_multiple_of(stride) && c / stride < axis.values.len() {
                let resolved = self.slots[a]
                    .iter()
                    .map(|(section, slot)| {
                        circuit
                            .config
                            .values
                            .get(section)
                            .and_then(|s| s.get(slot))
                            .cloned()
                    })
                    .collect();
                out.push((a, c / stride, resolved));
            }
        }
        out
    }
}

/// Refuses two spellings of one value (`1ohm`, `1000mohm`) on an axis: they would run the same
/// design twice.
fn refuse_equal_values(
    axes: &[PlanAxis],
    flags: &[String],
    slots: &[Vec<(String, String)>],
    resolved: &Resolved,
) -> Result<(), SweepError> {
    for (a, axis) in axes.iter().enumerate() {
        let same = |v: usize, w: usize| {
            !resolved[a][v].is_empty()
                && resolved[a][v]
                    .iter()
                    .zip(&resolved[a][w])
                    .all(|(x, y)| x.is_some() && x == y)
        };
        let n = axis.values.len();
        if let Some((v, w)) = (0..n).find_map(|w| (0..w).find(|&v| same(v, w)).map(|v| (v, w))) {
            let shown: Vec<String> = slots[a]
                .iter()
                .zip(&resolved[a][v])
                .map(|((section, slot), x)| {
                    format!("{section}.{slot} = {}", x.as_ref().unwrap_or(&Value::Null))
                })
                .collect();
            return Err(SweepError::Spec(format!(
                "{}: `{}` and `{}` are the same value ({}); list it once",
                flags[a],
                axis.tick(v),
                axis.tick(w),
                shown.join(", ")
            )));
        }
    }
    Ok(())
}

/// Axis labels and numbers, read from the resolved designs: the point whose other axes sit at
/// their first value stands for each value.
fn label_axes(axes: &mut [PlanAxis], resolved: &Resolved) {
    for (a, axis) in axes.iter_mut().enumerate() {
        axis.label = resolved_slot(&axis.keys[0]).2;
        axis.numeric = resolved[a]
            .iter()
            .map(|keys| {
                keys[0]
                    .as_ref()
                    .and_then(Value::as_f64)
                    .filter(|x| x.is_finite())
            })
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_values_split_at_top_level_commas_only() {
        let (k, v) = parse_axis_arg("--grid", "network.hidden=[32,32], [64,64],'a,b'").unwrap();
        assert_eq!(k, "network.hidden");
        assert_eq!(v, vec!["[32,32]", "[64,64]", "'a,b'"]);
        let (_, v) = parse_axis_arg("--grid", "device.levels=8,16").unwrap();
        assert_eq!(v, vec!["8", "16"]);
        for bad in [
            "device.levels",
            "device.levels=",
            "=1,2",
            "device.levels=8,,16",
            "network.hidden=[1,2",
        ] {
            assert!(parse_axis_arg("--grid", bad).is_err(), "{bad}");
        }
    }

    fn tiny() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("circuits/tiny.toml")
    }

    #[test]
    fn grids_and_zips_make_the_product_in_plan_order() {
        let spec = SweepSpec {
            grids: vec!["device.levels=8,16".into()],
            zips: vec![
                "dynamics.tau_z=100ns,200ns,100ns".into(),
                "crossbar.wire_resistance=0ohm,0ohm,2ohm".into(),
            ],
            seeds: 2,
            shard: Some(Shard { index: 2, count: 3 }),
            ..SweepSpec::default()
        };
        let l = load_plan(&tiny(), &spec).unwrap();
        let p = &l.plan;
        assert_eq!((p.points, p.combinations(), p.axes.len()), (12, 6, 2));
        assert_eq!(
            p.keys(),
            [
                "device.levels",
                "dynamics.tau_z",
                "crossbar.wire_resistance"
            ]
        );
        assert_eq!(p.values_of(4), ["16", "200ns", "0ohm"]);
        assert_eq!(
            p.axes[1].numeric,
            [Some(100e-9), Some(200e-9), Some(100e-9)]
        );
        assert_eq!(p.axes[1].label, "dynamics.tau_z (s)");
        // Shard 2 of 3: indices 1, 4, 7, 10; each loaded with its own seed.
        let idx: Vec<usize> = l.jobs.iter().map(|j| j.index).collect();
        assert_eq!(idx, [1, 4, 7, 10]);
        let j = &l.jobs[2];
        assert_eq!((j.seed_index, j.values.clone()), (1, p.values_of(3)));
        let circuit = l.circuit(j).unwrap();
        assert_eq!(circuit.run.seed, j.seed);
        assert_eq!(circuit.dynamics.tau_z_seconds, 100e-9);
        assert_eq!(circuit.device.levels, Some(16));
        // A repeated combination, not a repeated value, is what a zip refuses.
        let mut twice = spec.clone();
        twice.zips[0] = "dynamics.tau_z=100ns,200ns,200ns".into();
        twice.zips[1] = "crossbar.wire_resistance=0ohm,1ohm,1ohm".into();
        let e = load_plan(&tiny(), &twice).unwrap_err().to_string();
        assert!(e.contains("`200ns / 1ohm` is listed twice"), "{e}");
    }

    /// Two spellings of one value are one value: `1ohm` and `1000mohm` would run the same
    /// design twice. The units fold the prefix into one decimal rounding, so equal decimal
    /// values are equal doubles and the comparison is exact.
    #[test]
    fn values_equal_once_resolved_are_refused_naming_both_spellings() {
        let grid = |g: &str| SweepSpec {
            grids: vec![g.into()],
            seeds: 1,
            ..SweepSpec::default()
        };
        for (g, needle) in [
            (
                "crossbar.wire_resistance=1ohm,2ohm,1000mohm",
                "--grid crossbar.wire_resistance: `1ohm` and `1000mohm` are the same value \
                 (crossbar.wire_resistance_ohms = 1.0)",
            ),
            (
                "dynamics.tau_z=100ns,0.1us",
                "`100ns` and `0.1us` are the same value",
            ),
            (
                "network.hidden=[3,3],[3, 3]",
                "`[3,3]` and `[3, 3]` are the same value",
            ),
        ] {
            let e = load_plan(&tiny(), &grid(g)).unwrap_err();
            assert!(matches!(e, SweepError::Spec(_)), "{g}: {e}");
            let e = e.to_string();
            assert!(e.contains(needle), "{g}: {e}");
        }
        // Distinct values that print alike on a chart are not duplicates.
        let l = load_plan(&tiny(), &grid("crossbar.wire_resistance=1ohm,1.0001ohm")).unwrap();
        assert_eq!(l.plan.axes[0].numeric, [Some(1.0), Some(1.0001)]);
        // A zip axis repeats only when every key's value coincides.
        let zip = |a: &str, b: &str| SweepSpec {
            zips: vec![a.into(), b.into()],
            seeds: 1,
            ..SweepSpec::default()
        };
        let e = load_plan(
            &tiny(),
            &zip(
                "crossbar.wire_resistance=1ohm,2ohm,1000mohm",
                "dynamics.tau_z=100ns,100ns,0.1us",
            ),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains(
                "--zip crossbar.wire_resistance + dynamics.tau_z: `1ohm / 100ns` and \
                 `1000mohm / 0.1us` are the same value"
            ),
            "{e}"
        );
        let l = load_plan(
            &tiny(),
            &zip(
                "crossbar.wire_resistance=1ohm,2ohm,1000mohm",
                "dynamics.tau_z=100ns,100ns,0.2us",
            ),
        )
        .unwrap();
        assert_eq!(l.jobs.len(), 3);
    }

    /// No point's design is kept: a job is its key values and seed, and its design loads again
    /// (to the same circuit as the plan's check loaded) when it runs.
    #[test]
    fn jobs_keep_no_design_and_load_it_on_demand() {
        let spec = SweepSpec {
            grids: vec!["device.levels=8,16".into()],
            seeds: 2,
            ..SweepSpec::default()
        };
        let l = load_plan(&tiny(), &spec).unwrap();
        let j = &l.jobs[3];
        let direct = config::load(
            &tiny(),
            &[
                "device.levels=16".to_string(),
                format!("run.seed={}", j.seed),
            ],
            &LoadOptions::default(),
        )
        .unwrap();
        assert_eq!(l.circuit(j).unwrap(), direct);
        // A job that is not from the plan is refused with the point's place, not a panic.
        let bad = PointJob {
            values: vec!["1".into()],
            ..j.clone()
        };
        let e = l.circuit(&bad).unwrap_err().to_string();
        assert!(e.contains("sweep point 3 (device.levels=1)"), "{e}");
    }

    #[test]
    fn keys_are_checked_and_canonical() {
        assert_eq!(
            canonical_key("--grid", "crossbar.wire_resistance_ohms").unwrap(),
            "crossbar.wire_resistance"
        );
        assert_eq!(canonical_key("--grid", "device").unwrap(), "device.preset");
        let e = canonical_key("--grid", "device.levls")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("device.levls") && e.contains("did you mean `levels`"),
            "{e}"
        );
    }

    #[test]
    fn shards_partition_the_points() {
        let shards: Vec<Shard> = (1..=4)
            .map(|k| Shard::parse(&format!("{k}/4")).unwrap())
            .collect();
        for i in 0..37 {
            assert_eq!(shards.iter().filter(|s| s.holds(i)).count(), 1);
        }
        for bad in ["0/4", "5/4", "1/0", "x/2", "3"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn seeds_are_stable_and_depend_on_what_they_should() {
        let kv = [("device.levels", "8")];
        // A change here changes every sweep's results: it must be deliberate.
        assert_eq!(derive_seed(7, &kv, 0, false), 1_414_220_927_706_903);
        assert_ne!(derive_seed(7, &kv, 0, false), derive_seed(7, &kv, 1, false));
        assert_ne!(derive_seed(7, &kv, 0, false), derive_seed(8, &kv, 0, false));
        assert_ne!(
            derive_seed(7, &kv, 0, false),
            derive_seed(7, &[("device.levels", "16")], 0, false)
        );
        assert_eq!(
            derive_seed(7, &kv, 1, true),
            derive_seed(7, &[("device.levels", "16")], 1, true)
        );
        assert!(derive_seed(u64::MAX, &kv, 3, false) < 1 << 53);
    }
}
