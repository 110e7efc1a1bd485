//! Sets APCSIM_VERSION for `apcsim --version`: the crate version, and the commit it was built
//! from when the source is a git checkout (`0.1.0 (3f2a9c1)`, `-dirty` with uncommitted
//! changes). Without git (a crates.io tarball, an exported tree) it is the crate version alone.
//! The script runs again only when the checked-out commit changes (HEAD or the branch it names).

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    let version = env!("CARGO_PKG_VERSION");
    println!("cargo:rerun-if-changed=build.rs");
    let Some(commit) = git(&["rev-parse", "--short", "HEAD"]).filter(|c| !c.is_empty()) else {
        println!("cargo:rustc-env=APCSIM_VERSION={version}");
        return;
    };
    // HEAD, the branch it points to, and packed refs (where a branch lives after `git gc`);
    // `--git-path` finds them in a worktree too.
    let mut watched = vec!["HEAD".to_string(), "packed-refs".to_string()];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(branch);
    }
    for name in watched {
        // A path that does not exist would make every build run the script again.
        let path = git(&["rev-parse", "--git-path", &name]).filter(|p| Path::new(p).exists());
        if let Some(path) = path {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    let suffix = if dirty { "-dirty" } else { "" };
    println!("cargo:rustc-env=APCSIM_VERSION={version} ({commit}{suffix})");
}
