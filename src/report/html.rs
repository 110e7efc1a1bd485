//! The HTML report: one self-contained file (inline CSS, inline SVG figures, no scripts, no
//! external resources) that opens in any browser and can be mailed or archived as is.

use super::PlotError;
use std::fmt::Write as _;

/// One figure of a report: its file name in the output folder, its caption, and its SVG or why
/// the chart could not be drawn (the report then says so in its place and writes no file).
#[derive(Clone, Debug)]
pub struct Figure {
    pub file: String,
    pub caption: String,
    pub svg: Result<String, PlotError>,
}

impl Figure {
    pub fn new(
        file: impl Into<String>,
        caption: impl Into<String>,
        svg: Result<String, PlotError>,
    ) -> Self {
        Figure {
            file: file.into(),
            caption: caption.into(),
            svg,
        }
    }
}

/// A report built block by block: text, tables and figures in reading order.
/// [`Report::to_html`] gives the page; [`Report::write`] writes it and its figures into a folder.
///
/// All text given to it is escaped; only figure SVGs are inserted as markup.
///
/// ```
/// use apcsim::report::Report;
///
/// let mut report = Report::new("Sweep <g_max>");
/// report
///     .heading(2, "Settings")
///     .table(&["parameter", "value"], &[vec!["dt (ns)", "0.5"]])
///     .preformatted("apcsim run circuits/default.toml");
/// let html = report.to_html();
/// assert!(html.contains("Sweep &lt;g_max&gt;"));
/// ```
#[derive(Clone, Debug, Default)]
pub struct Report {
    title: String,
    body: String,
    figures: usize,
    /// (file name, SVG) of every figure drawn, in order.
    pub(super) files: Vec<(String, String)>,
}

/// Replaces the characters that are markup in HTML and XML (`& < > " '`) by entities and drops
/// control characters other than tab and newline, which XML does not allow.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Whether a table cell reads as a number (then it is right-aligned, digits in columns).
fn is_numeric(cell: &str) -> bool {
    let t = cell.trim().replace('−', "-");
    let t = t.trim_end_matches('%');
    !t.is_empty() && t.parse::<f64>().is_ok()
}

/// `text` escaped, with a line-break opportunity after every `.`, `_` and `/`, so that a long
/// key name in a table header (`crossbar.wire_resistance`) can wrap between its parts.
fn breakable(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in escape(text).chars() {
        out.push(c);
        if matches!(c, '.' | '_' | '/') {
            out.push_str("<wbr>");
        }
    }
    out
}

/// `svg` as one SVG element (after any XML declaration) when it is one and keeps the page
/// self-contained and script-free: no scripts, event handlers, embedded HTML or references to
/// other resources. The chart functions write such SVG; anything else is shown as text rather
/// than trusted as markup.
fn svg_element(svg: &str) -> Option<&str> {
    let mut s = svg.trim();
    if s.starts_with("<?xml") {
        s = s[s.find("?>")? + 2..].trim_start();
    }
    if !(s.starts_with("<svg") && s.ends_with("</svg>")) {
        return None;
    }
    let lower = s.to_ascii_lowercase();
    let forbidden = [
        "<script",
        "<foreignobject",
        "<iframe",
        "<image",
        "href",
        "url(",
    ];
    if forbidden.iter().any(|f| lower.contains(f)) {
        return None;
    }
    // Event handlers (`onload=` ...) can only sit inside tags; text content has its `<` escaped.
    let handler = lower.split('<').skip(1).any(|tag| {
        let tag = tag.split('>').next().unwrap_or("");
        tag.split(|c: char| c.is_whitespace() || c == '/')
            .any(|attr| attr.starts_with("on") && attr.contains('='))
    });
    (!handler).then_some(s)
}

const STYLE: &str = r#"
:root { color-scheme: light; }
* { box-sizing: border-box; }
body {
  margin: 0; padding: 2rem 1.25rem 4rem; background: #f6f7f9; color: #1f2328;
  font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, "Liberation Sans", "DejaVu Sans", sans-serif;
}
main {
  max-width: 1100px; margin: 0 auto; background: #fff; padding: 2rem 2.5rem 2.5rem;
  border: 1px solid #e1e4e8; border-radius: 8px; overflow-wrap: break-word;
}
h1 { font-size: 1.9rem; line-height: 1.25; margin: 0 0 1.25rem; padding-bottom: .5rem; border-bottom: 2px solid #0072b2; }
h2 { font-size: 1.45rem; margin: 2.2rem 0 .8rem; padding-bottom: .25rem; border-bottom: 1px solid #e1e4e8; }
h3 { font-size: 1.2rem; margin: 1.8rem 0 .6rem; }
h4, h5, h6 { font-size: 1rem; margin: 1.4rem 0 .5rem; }
p { margin: .6rem 0 1rem; }
.table-wrap { overflow-x: auto; margin: 1rem 0 1.5rem; }
table { border-collapse: collapse; font-size: .92rem; min-width: 40%; }
th, td { padding: .4rem .6rem; border-bottom: 1px solid #e1e4e8; text-align: left; vertical-align: top; overflow-wrap: anywhere; }
th { background: #f0f3f6; border-bottom: 2px solid #c9d1d9; font-weight: 600; overflow-wrap: normal; }
tbody tr:nth-child(even) { background: #fafbfc; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
figure { margin: 1.5rem 0 2rem; padding: .75rem; border: 1px solid #e1e4e8; border-radius: 6px; background: #fff; }
figure svg { display: block; width: 100%; max-width: 100%; height: auto; margin: 0 auto; }
figcaption { margin-top: .6rem; font-size: .92rem; color: #57606a; }
figcaption b { color: #1f2328; }
pre {
  background: #f6f8fa; border: 1px solid #e1e4e8; border-radius: 6px; padding: .8rem 1rem;
  white-space: pre-wrap; overflow-wrap: anywhere;
  font: 13.5px/1.45 ui-monospace, "DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace;
}
pre .l { display: block; min-height: 1.45em; padding-left: 4ch; text-indent: -4ch; }
@media (max-width: 900px) {
  body { padding: 1rem .75rem 2rem; } main { padding: 1.25rem 1.25rem 1.5rem; }
  pre { font-size: 12px; padding: .6rem .7rem; }
  table { font-size: .78rem; } th, td { padding: .3rem .35rem; }
}
@media (max-width: 640px) {
  body { padding: .5rem; } main { padding: 1rem; border-radius: 0; }
  figure { padding: .25rem; margin: 1rem 0; }
}
@media print { body { background: #fff; padding: 0; } main { border: none; max-width: none; padding: 0; } figure { break-inside: avoid; } }
"#;

impl Report {
    /// An empty report; `title` is the page title and its top heading.
    pub fn new(title: &str) -> Self {
        Report {
            title: title.to_string(),
            ..Report::default()
        }
    }

    /// A section heading. Level 1 is the report title's; levels are clamped to 1..=6.
    pub fn heading(&mut self, level: u8, text: &str) -> &mut Self {
        let level = level.clamp(1, 6);
        let _ = writeln!(self.body, "<h{level}>{}</h{level}>", escape(text));
        self
    }

    /// A paragraph of text; blank lines in it start new paragraphs.
    pub fn paragraph(&mut self, text: &str) -> &mut Self {
        for para in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
            let _ = writeln!(self.body, "<p>{}</p>", escape(para));
        }
        self
    }

    /// A table. Rows shorter than the header are padded with empty cells; cells that read as
    /// numbers are right-aligned.
    pub fn table<H: AsRef<str>, C: AsRef<str>>(
        &mut self,
        headers: &[H],
        rows: &[Vec<C>],
    ) -> &mut Self {
        let columns = rows
            .iter()
            .map(Vec::len)
            .chain([headers.len()])
            .max()
            .unwrap_or(0);
        self.body.push_str("<div class=\"table-wrap\"><table>\n");
        if !headers.is_empty() {
            self.body.push_str("<thead><tr>");
            for i in 0..columns {
                let h = headers.get(i).map(|h| h.as_ref()).unwrap_or("");
                let _ = write!(self.body, "<th scope=\"col\">{}</th>", breakable(h));
            }
            self.body.push_str("</tr></thead>\n");
        }
        self.body.push_str("<tbody>\n");
        for row in rows {
            self.body.push_str("<tr>");
            for i in 0..columns {
                let cell = row.get(i).map(|c| c.as_ref()).unwrap_or("");
                let class = if is_numeric(cell) {
                    " class=\"num\""
                } else {
                    ""
                };
                let _ = write!(self.body, "<td{class}>{}</td>", escape(cell));
            }
            self.body.push_str("</tr>\n");
        }
        self.body.push_str("</tbody></table></div>\n");
        self
    }

    /// A numbered figure: an SVG from one of the chart functions, with a caption below it,
    /// written as its own file too by [`Report::write`]. A figure that could not be drawn is
    /// named in its place with the reason. Text that is not a plain SVG element (one with
    /// scripts, event handlers or links to other resources counts as not plain) is shown
    /// escaped, never inserted as markup.
    pub fn figure(&mut self, figure: Figure) -> &mut Self {
        let svg = match figure.svg {
            Ok(svg) => svg,
            Err(e) => return self.paragraph(&format!("{}: not drawn ({e}).", figure.caption)),
        };
        self.figures += 1;
        self.body.push_str("<figure>\n");
        match svg_element(&svg) {
            Some(element) => self.body.push_str(element),
            None => {
                let _ = write!(self.body, "<pre>{}</pre>", escape(&svg));
            }
        }
        let _ = writeln!(
            self.body,
            "\n<figcaption><b>Figure {}.</b> {}</figcaption>\n</figure>",
            self.figures,
            escape(&figure.caption)
        );
        self.files.push((figure.file, svg));
        self
    }

    /// The figure files the report writes, in order.
    pub fn figure_files(&self) -> impl Iterator<Item = &str> {
        self.files.iter().map(|(name, _)| name.as_str())
    }

    /// Text shown as written, in a monospaced font: command lines, logs, configuration. A line
    /// too long for the page wraps, its continuation indented, rather than being cut off.
    pub fn preformatted(&mut self, text: &str) -> &mut Self {
        self.body.push_str("<pre>");
        for line in text.trim_end().lines() {
            let _ = write!(self.body, "<span class=\"l\">{}</span>", escape(line));
        }
        self.body.push_str("</pre>\n");
        self
    }

    /// The whole page.
    pub fn to_html(&self) -> String {
        let title = escape(&self.title);
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <meta name=\"generator\" content=\"apcsim {}\">\n<title>{title}</title>\n\
             <style>{STYLE}</style>\n</head>\n<body>\n<main>\n<h1>{title}</h1>\n{}</main>\n\
             </body>\n</html>\n",
            env!("CARGO_PKG_VERSION"),
            self.body
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_everywhere() {
        let evil = "<script>alert('x')</script> & \"q\"\u{0}";
        let mut r = Report::new(evil);
        r.heading(9, evil)
            .paragraph(evil)
            .table(&[evil], &[vec![evil]])
            .figure(figure(evil, evil))
            .preformatted(evil);
        let html = r.to_html();
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains('\u{0}'));
        assert!(
            html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;")
        );
        assert!(html.contains("<h6>"), "heading levels are clamped");
    }

    fn figure(caption: &str, svg: &str) -> Figure {
        Figure::new("f.svg", caption, Ok(svg.to_string()))
    }

    #[test]
    fn figures_inline_svg_and_are_numbered() {
        let mut r = Report::new("t");
        r.figure(figure(
            "first",
            "<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>",
        ))
        .figure(figure("second", "<svg></svg>"));
        let html = r.to_html();
        assert!(html.contains("<figure>\n<svg xmlns"));
        assert!(!html.contains("<?xml"));
        assert!(html.contains("Figure 1.</b> first") && html.contains("Figure 2.</b> second"));
    }

    #[test]
    fn active_or_linking_svg_is_shown_as_text() {
        for svg in [
            "<svg><script>alert(1)</script></svg>",
            "<svg onload=\"alert(1)\"></svg>",
            "<svg><image href=\"http://example.org/x.png\"/></svg>",
        ] {
            let mut r = Report::new("t");
            r.figure(figure("c", svg));
            let html = r.to_html();
            assert!(html.contains("<pre>&lt;svg"), "{svg}: {html}");
        }
        // Words starting with "on" in text content are fine.
        let mut r = Report::new("t");
        r.figure(figure("c", "<svg><text x=\"1\">onset=3</text></svg>"));
        assert!(r.to_html().contains("<figure>\n<svg>"));
    }

    #[test]
    fn ragged_tables_are_padded_and_numbers_aligned() {
        let mut r = Report::new("t");
        r.table(
            &["a", "b", "c"],
            &[vec!["x", "1.5e-3"], vec!["y", "−2", "12%"]],
        );
        let html = r.to_html();
        assert_eq!(html.matches("<td").count(), 6);
        assert_eq!(html.matches("class=\"num\"").count(), 3);
    }

    #[test]
    fn long_lines_and_key_names_can_wrap() {
        let mut r = Report::new("t");
        r.preformatted("a\n\nb  <c>\n")
            .table(&["crossbar.wire_resistance"], &[vec!["1"]]);
        let html = r.to_html();
        let lines = "<pre><span class=\"l\">a</span><span class=\"l\"></span>\
                     <span class=\"l\">b  &lt;c&gt;</span></pre>";
        assert!(html.contains(lines), "{html}");
        assert!(html.contains("<th scope=\"col\">crossbar.<wbr>wire_<wbr>resistance</th>"));
        assert!(html.contains("white-space: pre-wrap"));
    }

    #[test]
    fn the_page_needs_nothing_from_outside() {
        let mut r = Report::new("t");
        r.paragraph("one\n\ntwo");
        let html = r.to_html();
        assert_eq!(html.matches("<p>").count(), 2);
        for outside in ["<script", "<link", "src=", "href=", "@import", "url("] {
            assert!(!html.contains(outside), "{outside}");
        }
    }
}
