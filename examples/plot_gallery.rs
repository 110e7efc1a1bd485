//! Writes one chart of every kind (SVG) and a report showing them all (`report.html`) into a
//! directory, so that a person can look at them: `cargo run --example plot_gallery -- DIR`
//! (default `runs/plot_gallery`).

use anyhow::Context;
use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "runs/plot_gallery".into()),
    );
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for (stem, _, svg) in apcsim::plot::gallery_charts()? {
        let path = dir.join(format!("{stem}.svg"));
        std::fs::write(&path, svg).with_context(|| format!("writing {}", path.display()))?;
    }
    let path = dir.join("report.html");
    let html = apcsim::plot::gallery_report()?.to_html();
    std::fs::write(&path, html).with_context(|| format!("writing {}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(())
}
