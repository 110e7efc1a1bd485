//! Several charts as one SVG document: the panels of a figure side by side, in rows.

use super::style::{HEIGHT_PX, WIDTH_PX};
use super::PlotError;

/// The charts `panels` (each an SVG document of this module's size) laid out `columns` to a
/// row, left to right and top to bottom, as one SVG document: each panel a nested `<svg>` at
/// its place, drawn as it was. Errors: [`PlotError::NoData`] when there is no panel, and the
/// first panel that could not be drawn.
pub fn panel_grid(
    title: &str,
    panels: &[Result<String, PlotError>],
    columns: usize,
) -> Result<String, PlotError> {
    if panels.is_empty() {
        return Err(PlotError::NoData {
            title: title.to_string(),
            log: false,
        });
    }
    let columns = columns.clamp(1, panels.len());
    let rows = panels.len().div_ceil(columns);
    let (w, h) = (WIDTH_PX as usize, HEIGHT_PX as usize);
    let (width, height) = (columns * w, rows * h);
    let mut svg = format!(
        "<svg width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" \
         xmlns=\"http://www.w3.org/2000/svg\">\n<title>{}</title>\n",
        super::html::escape(title)
    );
    for (k, panel) in panels.iter().enumerate() {
        let panel = panel.as_ref().map_err(Clone::clone)?;
        let (x, y) = ((k % columns) * w, (k / columns) * h);
        // Everything before the panel's root element (an XML declaration) is dropped.
        let body = panel.find("<svg").map_or(panel.as_str(), |i| &panel[i..]);
        let placed = body.replacen("<svg", &format!("<svg x=\"{x}\" y=\"{y}\""), 1);
        svg.push_str(placed.trim_end());
        svg.push('\n');
    }
    svg.push_str("</svg>\n");
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{line_chart, Axis, Series};

    fn chart(title: &str) -> Result<String, PlotError> {
        let s = Series::new("a", vec![0.0, 1.0], vec![1.0, 2.0]);
        line_chart(title, &Axis::linear("x"), &Axis::linear("y"), &[s])
    }

    /// Three panels two to a row: a document twice a chart wide and two high, each panel a
    /// nested chart at its place.
    #[test]
    fn panels_are_placed_in_rows() {
        let panels = [chart("one"), chart("two"), chart("three")];
        let svg = panel_grid("grid", &panels, 2).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let root = doc.root_element();
        assert_eq!(root.attribute("width"), Some("1640"));
        assert_eq!(root.attribute("height"), Some("1000"));
        let nested: Vec<_> = root
            .children()
            .filter(|n| n.has_tag_name("svg"))
            .map(|n| (n.attribute("x").unwrap(), n.attribute("y").unwrap()))
            .collect();
        assert_eq!(nested, [("0", "0"), ("820", "0"), ("0", "500")]);
        for t in ["one", "two", "three"] {
            assert!(svg.contains(&format!(">{t}<")), "{t}");
        }
    }

    #[test]
    fn no_panel_or_a_failed_one_is_an_error() {
        assert!(matches!(
            panel_grid("empty", &[], 2),
            Err(PlotError::NoData { .. })
        ));
        let bad = line_chart("bad", &Axis::log("x"), &Axis::linear("y"), &[]);
        assert!(panel_grid("grid", &[chart("one"), bad], 2).is_err());
    }
}
