//! `apcsim merge`: the folders of a sharded sweep combined into one folder, identical to the one
//! an unsharded run writes (the same plan less the shard, the same point files, `points.jsonl`
//! in plan order, the same summaries). Shards of different sweeps, a point missing from every
//! folder or present in two are refused.

use super::exec::{finished_points, io_err, point_file, read_plan};
use super::plan::SweepPlan;
use super::record::PointRecord;
use super::{summary, SweepError, PLAN_FILE, POINTS_DIR, POINTS_JSONL};
use std::path::{Path, PathBuf};

/// What a merge found.
#[derive(Clone, Debug)]
pub struct MergeOutcome {
    pub points: usize,
    pub folders: usize,
}

fn same_folder(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Merges the sweep folders `inputs` into `out`, which must be empty (or missing) unless
/// `force`: then the outputs of an earlier sweep or merge there are replaced.
pub fn merge(inputs: &[PathBuf], out: &Path, force: bool) -> Result<MergeOutcome, SweepError> {
    let (plans, merged) = plans_of(inputs, out)?;
    let found = points_of(inputs, &plans, &merged)?;
    let (folder, existing) = super::exec::claim_folder(out, force)?;
    if existing.is_some() {
        return Err(SweepError::Plan(format!(
            "{} already holds a sweep (plan.json): choose another --out, or pass --force to \
             replace it",
            out.display()
        )));
    }
    let pd = out.join(POINTS_DIR);
    std::fs::create_dir_all(&pd).map_err(|e| io_err(&pd, e))?;
    let pp = out.join(PLAN_FILE);
    crate::io::write_atomic(&pp, merged.to_json().as_bytes()).map_err(|e| io_err(&pp, e))?;
    let mut lines = String::new();
    let mut records = Vec::with_capacity(merged.points);
    for (i, (f, line, rec)) in found.into_iter().enumerate() {
        let from = point_file(&inputs[f], &plans[f], i);
        let to = point_file(out, &merged, i);
        let bytes = std::fs::read(&from).map_err(|e| io_err(&from, e))?;
        crate::io::write_atomic(&to, &bytes).map_err(|e| io_err(&to, e))?;
        lines.push_str(&line);
        lines.push('\n');
        records.push(Some(rec));
    }
    let jp = out.join(POINTS_JSONL);
    crate::io::write_atomic(&jp, lines.as_bytes()).map_err(|e| io_err(&jp, e))?;
    let on_disk = read_plan(out)?.ok_or_else(|| io_err(&pp, "vanished"))?;
    summary::write_all(out, &on_disk, &records)?;
    // Done with the folder: its lock file goes (removed while still held).
    drop(folder);
    Ok(MergeOutcome {
        points: merged.points,
        folders: inputs.len(),
    })
}

/// Each folder's plan, and the merged plan (the first one's without its shard), after checking
/// that every folder is a shard of the same sweep and none is `out`.
fn plans_of(inputs: &[PathBuf], out: &Path) -> Result<(Vec<SweepPlan>, SweepPlan), SweepError> {
    if inputs.is_empty() {
        return Err(SweepError::Spec("merge: no folders given".into()));
    }
    let mut plans = Vec::new();
    for dir in inputs {
        if same_folder(dir, out) {
            return Err(SweepError::Spec(format!(
                "merge: --out {} is one of the folders to merge; choose a new folder",
                out.display()
            )));
        }
        let plan = read_plan(dir)?.ok_or_else(|| {
            SweepError::Plan(format!(
                "{}: not a sweep folder (no {PLAN_FILE})",
                dir.display()
            ))
        })?;
        plans.push(plan);
    }
    let mut merged = plans[0].clone();
    merged.shard = None;
    for (dir, p) in inputs.iter().zip(&plans).skip(1) {
        if let Some(why) = merged.mismatch(p, false) {
            return Err(SweepError::Plan(format!(
                "{} is not part of the same sweep as {}: {why}",
                dir.display(),
                inputs[0].display()
            )));
        }
    }
    Ok((plans, merged))
}

/// Every point of `merged`, exactly once, in plan order: the folder it is in, its line and its
/// record.
fn points_of(
    inputs: &[PathBuf],
    plans: &[SweepPlan],
    merged: &SweepPlan,
) -> Result<Vec<(usize, String, PointRecord)>, SweepError> {
    let mut found: Vec<Option<(usize, String, PointRecord)>> = vec![None; merged.points];
    for (f, (dir, plan)) in inputs.iter().zip(plans).enumerate() {
        for (line, rec) in finished_points(dir, plan)? {
            let i = rec.index;
            if let Some((g, _, _)) = &found[i] {
                return Err(SweepError::Points(format!(
                    "point {i} is in both {} and {}: merge each shard once",
                    inputs[*g].display(),
                    dir.display()
                )));
            }
            found[i] = Some((f, line, rec));
        }
    }
    let missing: Vec<usize> = (0..merged.points).filter(|&i| found[i].is_none()).collect();
    if !missing.is_empty() {
        return Err(missing_points(&missing, plans, merged.points));
    }
    Ok(found.into_iter().flatten().collect())
}

/// The error for points in none of the folders: the first ten, and the shards the folders hold.
fn missing_points(missing: &[usize], plans: &[SweepPlan], points: usize) -> SweepError {
    let shown: Vec<String> = missing.iter().take(10).map(|i| i.to_string()).collect();
    let mut shards: Vec<String> = plans
        .iter()
        .filter_map(|p| p.shard.map(|s| s.to_string()))
        .collect();
    shards.sort();
    SweepError::Points(format!(
        "{} of {} points are in none of the folders (points {}{}); the folders hold {}: \
         finish an interrupted shard with --resume, or run the missing shard",
        missing.len(),
        points,
        shown.join(", "),
        if missing.len() > shown.len() {
            ", …"
        } else {
            ""
        },
        if shards.is_empty() {
            "no shard".to_string()
        } else {
            format!("shards {}", shards.join(", "))
        }
    ))
}
