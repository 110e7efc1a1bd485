//! Writes one chart of every kind (SVG) and a report showing them all (`report.html`) into a
//! directory, so that a person can look at them: `cargo run --example plot_gallery -- DIR`
//! (default `runs/plot_gallery`).

use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "runs/plot_gallery".into()),
    );
    apcsim::report::gallery_report()?.write(&dir)?;
    println!("wrote {}", dir.join(apcsim::report::REPORT_HTML).display());
    Ok(())
}
