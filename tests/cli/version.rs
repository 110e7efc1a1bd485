//! `--version` names the commit; `--help` prints small defaults in scientific notation; shell
//! completions cover every subcommand.

use super::util::*;

#[test]
fn version_names_the_commit_when_built_from_git() {
    let tmp = tempfile::tempdir().unwrap();
    let o = apcsim(&["--version"], tmp.path());
    ok(&o);
    let v = text(&o.stdout);
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| text(&o.stdout).trim().to_string());
    let crate_version = format!("apcsim {}", env!("CARGO_PKG_VERSION"));
    match commit {
        // Built from this checkout: its commit (the one HEAD named when the binary was built,
        // which a test run builds first).
        Some(c) => assert!(
            v.starts_with(&format!("{crate_version} ({c}")),
            "{v} (HEAD is {c})"
        ),
        None => assert_eq!(v.trim(), crate_version),
    }
}

#[test]
fn help_prints_small_defaults_in_scientific_notation() {
    let tmp = tempfile::tempdir().unwrap();
    let o = apcsim(&["reference", "--help"], tmp.path());
    ok(&o);
    let help = text(&o.stdout);
    assert!(help.contains("[default: 1e-12]"), "{help}");
    assert!(!help.contains("0.0000"), "{help}");
}

#[test]
fn the_bash_completions_mention_every_subcommand() {
    let tmp = tempfile::tempdir().unwrap();
    let help = text(&apcsim(&["--help"], tmp.path()).stdout);
    // The subcommands as --help lists them: the indented lines of the Commands section.
    let commands: Vec<&str> = help
        .split("Commands:")
        .nth(1)
        .unwrap()
        .split("Options:")
        .next()
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.len() >= 10, "{commands:?}");
    let o = apcsim(&["completions", "bash"], tmp.path());
    ok(&o);
    let script = text(&o.stdout);
    // Each subcommand is a case of the script's dispatch (`apcsim,run)`).
    for c in &commands {
        assert!(script.contains(&format!("apcsim,{c})")), "{c} missing");
    }
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let o = apcsim(&["completions", shell], tmp.path());
        ok(&o);
        assert!(text(&o.stdout).contains("spice-check"), "{shell}");
    }
}
