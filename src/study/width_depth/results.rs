//! A finished study: its aggregation over seeds, its CSV files and its text report.

use super::*;

/// A finished study.
#[derive(Clone, Debug)]
pub struct StudyResults {
    pub plan: StudyPlan,
    /// In the order of [`StudyPlan::points`].
    pub points: Vec<PointResult>,
}

pub use crate::numeric::stats::MeanStd;

/// One row of `summary.csv`: one (N, L, step) over the seeds.
#[derive(Clone, Debug, PartialEq)]
pub struct SummaryRow {
    pub width: usize,
    pub depth: usize,
    pub step: usize,
    pub seeds: usize,
    pub cos_sim: MeanStd,
    pub norm_ratio: MeanStd,
    pub cos_sim_bp_traj: MeanStd,
    pub cos_sim_cross: MeanStd,
    pub cos_sim_hw_bp: Option<MeanStd>,
    pub s_minus_1: Option<MeanStd>,
    pub s_norm_minus_1: Option<MeanStd>,
    pub theory: Option<f64>,
    pub loss_pc_traj: MeanStd,
    pub loss_bp_traj: MeanStd,
}

/// A heatmap of mean and std over seeds: rows are depths, columns widths (Figure 1's layout).
#[derive(Clone, Debug, PartialEq)]
pub struct Heatmap {
    pub title: String,
    /// The CSV column it shows.
    pub quantity: &'static str,
    pub step: usize,
    pub depths: Vec<usize>,
    pub widths: Vec<usize>,
    /// `mean[i][j]` for depth i, width j.
    pub mean: Vec<Vec<f64>>,
    pub std: Vec<Vec<Option<f64>>>,
}

/// A curve with an error band, for line plots.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub label: String,
    pub x: Vec<f64>,
    pub mean: Vec<f64>,
    /// Empty for exact curves (the theory).
    pub std: Vec<Option<f64>>,
}

/// The data of the study's figures, ready for a plotting back end.
#[derive(Clone, Debug, PartialEq)]
pub struct Figures {
    /// cos sim (PC vs BP) at initialisation: Figure 1's heatmap.
    pub cos_sim_t0: Heatmap,
    /// The same after the last step, when the study trained.
    pub cos_sim_final: Option<Heatmap>,
    /// Device runs: the hardware's PC gradient against BP through the hardware's own weights,
    /// at initialisation.
    pub cos_sim_hw_bp_t0: Option<Heatmap>,
    /// s - 1 measured at initialisation (linear networks).
    pub s_minus_1_t0: Option<Heatmap>,
    /// cos sim at initialisation against N / L, one series per depth.
    pub cos_sim_vs_ratio: Vec<Series>,
    /// s - 1 at initialisation against N / L, measured (one series per depth, labelled
    /// `L = 4`) and the theory (one exact series per depth, `L = 4, theory`); log-log axes suit
    /// them.
    pub s_minus_1_vs_ratio: Vec<Series>,
    pub theory_vs_ratio: Vec<Series>,
    /// cos sim on the PC trajectory against the step, one series per (N, L).
    pub training: Vec<Series>,
}

impl StudyResults {
    /// Mean and std over seeds for every (N, L, step), width-major.
    pub fn summary(&self) -> Vec<SummaryRow> {
        let plan = &self.plan;
        let mut rows = Vec::new();
        for &width in &plan.widths {
            for &depth in &plan.depths {
                let pts: Vec<&PointResult> = self
                    .points
                    .iter()
                    .filter(|p| p.point.width == width && p.point.depth == depth)
                    .collect();
                if pts.is_empty() {
                    continue;
                }
                for step in 0..=plan.steps {
                    let recs: Vec<&StepRecord> = pts.iter().map(|p| &p.steps[step]).collect();
                    let col = |f: &dyn Fn(&StepRecord) -> f64| {
                        MeanStd::of(&recs.iter().map(|r| f(r)).collect::<Vec<_>>())
                    };
                    let opt = |f: &dyn Fn(&StepRecord) -> Option<f64>| {
                        recs.iter()
                            .map(|r| f(r))
                            .collect::<Option<Vec<f64>>>()
                            .map(|v| MeanStd::of(&v))
                    };
                    rows.push(SummaryRow {
                        width,
                        depth,
                        step,
                        seeds: recs.len(),
                        cos_sim: col(&|r| r.pc_traj.overall),
                        norm_ratio: col(&|r| r.pc_traj.norm_ratio),
                        cos_sim_bp_traj: col(&|r| r.bp_traj.overall),
                        cos_sim_cross: col(&|r| r.cos_sim_cross),
                        cos_sim_hw_bp: opt(&|r| r.cos_sim_hw_bp),
                        s_minus_1: opt(&|r| r.s_minus_1),
                        s_norm_minus_1: opt(&|r| r.s_norm_minus_1),
                        theory: if step == 0 { pts[0].theory } else { None },
                        loss_pc_traj: col(&|r| r.loss_pc_traj),
                        loss_bp_traj: col(&|r| r.loss_bp_traj),
                    });
                }
            }
        }
        rows
    }

    /// `study.csv`: one row per (param, skips, width, depth, seed, step).
    pub fn study_csv(&self) -> String {
        let plan = &self.plan;
        let max_depth = plan.depths.iter().copied().max().unwrap_or(0);
        let mut header = csv_header(&[
            "seed",
            "step",
            "cos_sim",
            "norm_ratio",
            "s_minus_1",
            "s_norm_minus_1",
            "theory",
            "cos_sim_bp_traj",
            "norm_ratio_bp_traj",
            "cos_sim_cross",
            "cos_sim_hw_bp",
            "loss_pc_traj",
            "loss_bp_traj",
            "equilibrium_residual",
        ]);
        header.extend((1..=max_depth).map(|l| format!("cos_layer_{l}")));
        let mut table = CsvTable::new(&header);
        for p in &self.points {
            for r in &p.steps {
                let mut row = self.plan_fields();
                row.extend([
                    p.point.width.to_string(),
                    p.point.depth.to_string(),
                    p.point.seed.to_string(),
                    r.step.to_string(),
                    num(r.pc_traj.overall),
                    num(r.pc_traj.norm_ratio),
                    opt_num(r.s_minus_1),
                    opt_num(r.s_norm_minus_1),
                    opt_num(if r.step == 0 { p.theory } else { None }),
                    num(r.bp_traj.overall),
                    num(r.bp_traj.norm_ratio),
                    num(r.cos_sim_cross),
                    opt_num(r.cos_sim_hw_bp),
                    num(r.loss_pc_traj),
                    num(r.loss_bp_traj),
                    opt_num(r.residual),
                ]);
                row.extend((0..max_depth).map(|l| opt_num(r.pc_traj.per_layer.get(l).copied())));
                table.row(&row);
            }
        }
        table.finish()
    }

    /// The fields every CSV row starts with: what the study ran ([`POINT_COLUMNS`] but the
    /// point's width and depth).
    fn plan_fields(&self) -> Vec<String> {
        let plan = &self.plan;
        let device = plan
            .device
            .as_ref()
            .map_or_else(|| "ideal".to_string(), DeviceSetup::label);
        vec![
            plan.parameterisation.to_string(),
            plan.skips.to_string(),
            plan.activation.to_string(),
            device.to_string(),
        ]
    }

    /// `summary.csv`: mean and std over seeds per (width, depth, step).
    pub fn summary_csv(&self) -> String {
        let mut header = csv_header(&["step", "seeds"]);
        let quantities = [
            "cos_sim",
            "norm_ratio",
            "s_minus_1",
            "s_norm_minus_1",
            "theory",
            "cos_sim_bp_traj",
            "cos_sim_cross",
            "cos_sim_hw_bp",
            "loss_pc_traj",
            "loss_bp_traj",
        ];
        for q in quantities {
            if q == "theory" {
                header.push(q.to_string());
            } else {
                header.extend([format!("{q}_mean"), format!("{q}_std")]);
            }
        }
        let mut table = CsvTable::new(&header);
        let ms = |m: &MeanStd| [num(m.mean), opt_num(m.std)];
        let oms = |m: &Option<MeanStd>| m.as_ref().map_or([String::new(), String::new()], ms);
        for r in self.summary() {
            let mut row = self.plan_fields();
            row.extend([r.width, r.depth, r.step, r.seeds].map(|v| v.to_string()));
            row.extend(ms(&r.cos_sim));
            row.extend(ms(&r.norm_ratio));
            row.extend(oms(&r.s_minus_1));
            row.extend(oms(&r.s_norm_minus_1));
            row.push(opt_num(r.theory));
            row.extend(ms(&r.cos_sim_bp_traj));
            row.extend(ms(&r.cos_sim_cross));
            row.extend(oms(&r.cos_sim_hw_bp));
            row.extend(ms(&r.loss_pc_traj));
            row.extend(ms(&r.loss_bp_traj));
            table.row(&row);
        }
        table.finish()
    }

    /// A heatmap of one summary quantity at one step.
    pub fn heatmap(
        &self,
        title: &str,
        quantity: &'static str,
        step: usize,
        pick: impl Fn(&SummaryRow) -> Option<MeanStd>,
    ) -> Option<Heatmap> {
        let rows = self.summary();
        let plan = &self.plan;
        let mut mean = vec![vec![f64::NAN; plan.widths.len()]; plan.depths.len()];
        let mut std = vec![vec![None; plan.widths.len()]; plan.depths.len()];
        for r in rows.iter().filter(|r| r.step == step) {
            let i = plan.depths.iter().position(|&d| d == r.depth)?;
            let j = plan.widths.iter().position(|&w| w == r.width)?;
            let m = pick(r)?;
            mean[i][j] = m.mean;
            std[i][j] = m.std;
        }
        Some(Heatmap {
            title: title.to_string(),
            quantity,
            step,
            depths: plan.depths.clone(),
            widths: plan.widths.clone(),
            mean,
            std,
        })
    }

    /// The data of every figure of the study.
    pub fn figures(&self) -> Figures {
        let plan = &self.plan;
        let what = self.what();
        let cos_t0 = |step: usize, when: &str| {
            self.heatmap(
                &format!("cos sim PC vs BP {when} ({what})"),
                "cos_sim",
                step,
                |r| Some(r.cos_sim),
            )
        };
        let empty = Heatmap {
            title: String::new(),
            quantity: "cos_sim",
            step: 0,
            depths: Vec::new(),
            widths: Vec::new(),
            mean: Vec::new(),
            std: Vec::new(),
        };
        let rows = self.summary();
        let theory_vs_ratio = if plan.has_theory() {
            let theory = |r: &SummaryRow| r.theory.map(|t| MeanStd { mean: t, std: None });
            self.along_ratio(&rows, &theory, ", theory")
                .into_iter()
                .map(|mut s| {
                    s.std.clear();
                    s
                })
                .collect()
        } else {
            Vec::new()
        };
        Figures {
            cos_sim_t0: cos_t0(0, "at initialisation").unwrap_or(empty),
            cos_sim_final: (plan.steps > 0)
                .then(|| cos_t0(plan.steps, &format!("after {} steps", plan.steps)))
                .flatten(),
            cos_sim_hw_bp_t0: self.heatmap(
                &format!("cos sim hardware PC vs BP on the hardware's own weights ({what})"),
                "cos_sim_hw_bp",
                0,
                |r| r.cos_sim_hw_bp,
            ),
            s_minus_1_t0: self.heatmap(
                &format!("s - 1 = tr(S)/O - 1 at initialisation ({what})"),
                "s_minus_1",
                0,
                |r| r.s_minus_1,
            ),
            cos_sim_vs_ratio: self.along_ratio(&rows, &|r| Some(r.cos_sim), ""),
            s_minus_1_vs_ratio: self.along_ratio(&rows, &|r| r.s_minus_1, ""),
            theory_vs_ratio,
            training: self.training_series(&rows),
        }
    }

    /// What the study's networks are, for the figures' titles.
    fn what(&self) -> String {
        let plan = &self.plan;
        format!(
            "{}{}, {}{}",
            plan.parameterisation,
            if plan.skips { " + skips" } else { "" },
            plan.activation,
            plan.device
                .as_ref()
                .map_or(String::new(), |d| format!(", on {}", d.label()))
        )
    }

    /// One series per depth of `pick` at initialisation against the ratio width / depth.
    fn along_ratio(
        &self,
        rows: &[SummaryRow],
        pick: &dyn Fn(&SummaryRow) -> Option<MeanStd>,
        suffix: &str,
    ) -> Vec<Series> {
        let plan = &self.plan;
        plan.depths
            .iter()
            .filter_map(|&depth| {
                let pts: Vec<(f64, MeanStd)> = plan
                    .widths
                    .iter()
                    .filter_map(|&width| {
                        rows.iter()
                            .find(|r| r.step == 0 && r.width == width && r.depth == depth)
                            .and_then(pick)
                            .map(|m| (width as f64 / depth as f64, m))
                    })
                    .collect();
                (!pts.is_empty()).then(|| Series {
                    label: format!("L = {depth}{suffix}"),
                    x: pts.iter().map(|p| p.0).collect(),
                    mean: pts.iter().map(|p| p.1.mean).collect(),
                    std: pts.iter().map(|p| p.1.std).collect(),
                })
            })
            .collect()
    }

    /// The cos sim along training, one series per (width, depth); none without training.
    fn training_series(&self, rows: &[SummaryRow]) -> Vec<Series> {
        let plan = &self.plan;
        if plan.steps == 0 {
            return Vec::new();
        }
        let mut out = Vec::new();
        for &width in &plan.widths {
            for &depth in &plan.depths {
                let pts: Vec<&SummaryRow> = rows
                    .iter()
                    .filter(|r| r.width == width && r.depth == depth)
                    .collect();
                out.push(Series {
                    label: format!("N = {width}, L = {depth}"),
                    x: pts.iter().map(|r| r.step as f64).collect(),
                    mean: pts.iter().map(|r| r.cos_sim.mean).collect(),
                    std: pts.iter().map(|r| r.cos_sim.std).collect(),
                });
            }
        }
        out
    }

    /// The terminal report: the plan, the cos-sim heatmaps, and the theory comparison.
    pub fn report(&self) -> String {
        let plan = &self.plan;
        let f = self.figures();
        let mut s = format!("width x depth study: {}\n\n", plan.describe());
        s.push_str(&f.cos_sim_t0.render_text());
        for h in [&f.cos_sim_final, &f.cos_sim_hw_bp_t0]
            .into_iter()
            .flatten()
        {
            s.push('\n');
            s.push_str(&h.render_text());
        }
        if plan.has_theory() {
            if let Some(h) = &f.s_minus_1_t0 {
                s.push('\n');
                s.push_str(&self.theory_table(h));
            }
        }
        let worst = self
            .points
            .iter()
            .flat_map(|p| p.steps.iter().filter_map(|r| r.residual))
            .fold(0.0, f64::max);
        let _ = writeln!(s, "\nlargest equilibrium residual max|dE/dz|: {worst:.2e}");
        let fell_back: Vec<String> = self
            .points
            .iter()
            .flat_map(|p| {
                let Point { width, depth, seed } = p.point;
                p.steps.iter().filter_map(move |r| {
                    let f = r.fallback.as_ref()?;
                    Some(format!(
                        "width {width}, depth {depth}, seed {seed}, step {}: {f}",
                        r.step
                    ))
                })
            })
            .collect();
        if let Some(first) = fell_back.first() {
            let _ = writeln!(
                s,
                "Newton-Krylov did not converge alone at {} steps; the first, {first}",
                fell_back.len()
            );
        }
        s
    }

    /// s - 1 measured (mean over seeds) beside the theory, with the measured norm ratio beside
    /// 1/s of the theory.
    fn theory_table(&self, h: &Heatmap) -> String {
        let plan = &self.plan;
        let rows = self.summary();
        let mut s = String::from(
            "s - 1 at initialisation: measured tr(S)/O - 1 (mean over seeds) / theory; \
             norm ratio |g_PC|/|g_BP| measured / 1/(1 + theory)\n",
        );
        let _ = write!(s, "{:>6}", "L \\ N");
        for w in &h.widths {
            let _ = write!(s, " {:>38}", w);
        }
        s.push('\n');
        for &depth in &plan.depths {
            let _ = write!(s, "{depth:>6}");
            for &width in &plan.widths {
                let cell = rows
                    .iter()
                    .find(|r| r.step == 0 && r.width == width && r.depth == depth)
                    .and_then(|r| {
                        let t = r.theory?;
                        let m = r.s_minus_1?;
                        Some(format!(
                            "{:.4e}/{:.4e}  {:.4}/{:.4}",
                            m.mean,
                            t,
                            r.norm_ratio.mean,
                            1.0 / (1.0 + t)
                        ))
                    })
                    .unwrap_or_default();
                let _ = write!(s, " {cell:>38}");
            }
            s.push('\n');
        }
        s
    }
}

impl Heatmap {
    /// The heatmap as a text table: depths as rows, widths as columns, "mean ± std".
    pub fn render_text(&self) -> String {
        let mut s = format!("{}: {}, mean ± std over seeds\n", self.title, self.quantity);
        let _ = write!(s, "{:>6}", "L \\ N");
        for w in &self.widths {
            let _ = write!(s, " {w:>17}");
        }
        s.push('\n');
        for (i, d) in self.depths.iter().enumerate() {
            let _ = write!(s, "{d:>6}");
            for j in 0..self.widths.len() {
                let cell = match self.std[i][j] {
                    Some(sd) => format!("{:.4} ± {:.4}", self.mean[i][j], sd),
                    None => format!("{:.4}", self.mean[i][j]),
                };
                let _ = write!(s, " {cell:>17}");
            }
            s.push('\n');
        }
        s
    }
}

/// The first columns of both CSV files: what the study ran, and the point's width and depth.
pub(super) const POINT_COLUMNS: [&str; 6] =
    ["param", "skips", "activation", "device", "width", "depth"];

/// A CSV header: [`POINT_COLUMNS`], then `columns`.
pub(super) fn csv_header(columns: &[&str]) -> Vec<String> {
    POINT_COLUMNS
        .iter()
        .chain(columns)
        .map(|c| c.to_string())
        .collect()
}

/// A number as CSV text: the shortest decimal that reads back to the same f64.
pub(super) fn num(v: f64) -> String {
    format!("{v}")
}

pub(super) fn opt_num(v: Option<f64>) -> String {
    v.map(num).unwrap_or_default()
}
