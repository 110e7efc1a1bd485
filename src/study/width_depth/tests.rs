use super::*;

#[test]
fn theory_matches_the_paper_for_mupc_without_skips() {
    for (n, l) in [(16, 2), (64, 4), (256, 8), (1024, 16)] {
        for gamma0 in [0.5, 1.0, 2.0] {
            let t = theory_s_minus_1(Parameterisation::Mupc, false, n, l, gamma0);
            let paper = (l as f64 - 1.0) / (gamma0 * gamma0 * n as f64);
            assert!(
                (t - paper).abs() <= 1e-15 * paper,
                "{n} {l}: {t} vs {paper}"
            );
        }
    }
    // With skips: (L / (gamma0^2 N)) ((1 + 1/L)^(L-1) - 1).
    let (n, l) = (128usize, 8usize);
    let t = theory_s_minus_1(Parameterisation::Mupc, true, n, l, 1.0);
    let lf = l as f64;
    let expect = lf / n as f64 * ((1.0 + 1.0 / lf).powi(l as i32 - 1) - 1.0);
    assert!((t - expect).abs() < 1e-14, "{t} vs {expect}");
    // NTP does not vanish with width.
    let ntp = theory_s_minus_1(Parameterisation::Ntp, false, 4096, 5, 1.0);
    assert!((ntp - 4.0).abs() < 1e-12);
}

#[test]
fn adam_rates_follow_jpc() {
    let m = Parameterisation::Mupc;
    assert_eq!(
        adam_learning_rate(Parameterisation::Sp, true, 1e-3, 64, 4),
        1e-3
    );
    assert!((adam_learning_rate(m, false, 1e-3, 64, 4) - 1e-3 / 8.0).abs() < 1e-18);
    assert!((adam_learning_rate(m, true, 1e-3, 64, 4) - 1e-3 / 16.0).abs() < 1e-18);
}

#[test]
fn adam_first_step_moves_each_weight_by_the_rate() {
    // Bias correction makes the first update -lr sign(g) (up to eps).
    let mut w = vec![DMatrix::from_row_slice(1, 3, &[0.0, 1.0, -1.0])];
    let g = vec![DMatrix::from_row_slice(1, 3, &[2.0, -0.5, 1e-3])];
    let mut adam = Adam::new(0.1, &w);
    adam.step(&mut w, &g);
    let expect = [-0.1, 1.1, -1.1];
    for (a, b) in w[0].iter().zip(expect) {
        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    }
}

#[test]
fn bad_plans_name_the_offending_value() {
    type Change = fn(&mut StudyPlan);
    let cases: [(Change, &str); 6] = [
        (|p| p.widths = vec![], "--widths"),
        (|p| p.widths = vec![16, 0], "got 0"),
        (|p| p.depths = vec![1], "got 1"),
        (|p| p.depths = vec![4, 4], "4 is given twice"),
        (|p| p.lr = f64::NAN, "--lr"),
        (|p| p.widths = vec![1 << 22], "GiB"),
    ];
    for (change, expect) in cases {
        let mut p = StudyPlan::default();
        change(&mut p);
        let e = p.validate().unwrap_err().to_string();
        assert!(e.contains(expect), "{e} lacks {expect}");
    }
}

/// Fields of `csv` as a CSV reader reads them back.
fn read_csv(csv: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(csv.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

#[test]
fn a_device_name_reads_back_whole_from_both_csv_files() {
    let plan = StudyPlan {
        widths: vec![4],
        depths: vec![2],
        seeds: 1,
        steps: 1,
        batch: 4,
        input: 5,
        output: 2,
        device: Some(DeviceSetup::load("rram_hfo2").unwrap()),
        ..StudyPlan::default()
    };
    let mut r = run(&plan, &|_| {}).unwrap();
    // A lone carriage return ends a CSV line as a line feed does: it must be quoted too.
    for name in ["my \"rram\", v2\nfinal", "rram\rcopy"] {
        r.plan.device.as_mut().unwrap().name = name.to_string();
        for csv in [r.study_csv(), r.summary_csv()] {
            let rows = read_csv(&csv);
            assert_eq!(rows.len(), 1 + 2, "{csv:?}");
            assert_eq!(rows[0][3], "device");
            for row in &rows[1..] {
                assert_eq!(row.len(), rows[0].len(), "{csv:?}");
                assert_eq!(row[3], name);
            }
        }
    }
}

#[test]
fn csv_rows_pad_per_layer_cells_for_shallow_nets() {
    let plan = StudyPlan {
        widths: vec![8],
        depths: vec![2, 3],
        seeds: 2,
        steps: 1,
        batch: 4,
        input: 5,
        output: 2,
        ..StudyPlan::default()
    };
    let r = run(&plan, &|_| {}).unwrap();
    let csv = r.study_csv();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header.last(), Some(&"cos_layer_3"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 2 * 2 * 2);
    for row in &rows {
        assert_eq!(row.len(), header.len());
        let depth: usize = row[5].parse().unwrap();
        assert_eq!(row[header.len() - 1].is_empty(), depth == 2);
        // The theory sits on step 0 rows only.
        assert_eq!(row[12].is_empty(), row[7] != "0");
    }
    let summary = r.summary_csv();
    let n_cols = summary.lines().next().unwrap().split(',').count();
    assert!(summary.lines().all(|l| l.split(',').count() == n_cols));
    assert_eq!(summary.lines().count(), 1 + 2 * 2);
}
