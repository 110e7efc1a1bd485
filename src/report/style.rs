//! The look shared by every chart: canvas size, fonts, colours, and the estimate of how wide a
//! piece of text will be once a browser draws it.
//!
//! plotters is built without a font backend: its SVG backend writes each label as an SVG
//! `<text>` element with `text-anchor` and `dy` set from the anchor, so the viewer's own font
//! engine shapes and places the glyphs, and the alignment (centred, right-aligned) holds whatever
//! font the viewer picks. plotters itself only guesses text extents (0.56 em per UTF-8 byte),
//! which it uses for layout decisions we do not delegate to it. Our layout (label areas, legend
//! width, title fitting) uses [`text_width_px`] instead: per-character advances of DejaVu Sans,
//! the widest of the fonts in [`FONT_STACK`], so the space reserved is enough for any of them.
//! A font rendered by ab_glyph would give exact metrics only for a font the viewer does not
//! necessarily use, unless the font were embedded in every SVG, which costs hundreds of
//! kilobytes per figure.

use plotters::style::{FontDesc, FontFamily, FontStyle, FontTransform, RGBColor, TextStyle};

/// Canvas width of every chart, in pixels (the HTML report scales figures down to fit).
pub(crate) const WIDTH_PX: u32 = 820;
/// Canvas height of every chart, in pixels.
pub(crate) const HEIGHT_PX: u32 = 500;

/// Fonts in order of preference. Helvetica, Arial and Liberation Sans share metrics; DejaVu Sans
/// (Debian's default) is wider, and [`text_width_px`] assumes it.
pub(crate) const FONT_STACK: &str = "Helvetica, Arial, Liberation Sans, DejaVu Sans, sans-serif";

/// Font sizes, in CSS pixels as the browser renders them.
pub(crate) const TITLE_PX: f64 = 18.0;
pub(crate) const AXIS_LABEL_PX: f64 = 14.0;
pub(crate) const TICK_PX: f64 = 12.5;
pub(crate) const LEGEND_PX: f64 = 13.0;
pub(crate) const ANNOTATION_PX: f64 = 12.5;

pub(crate) const TEXT: RGBColor = RGBColor(0x22, 0x22, 0x22);
pub(crate) const TICK_TEXT: RGBColor = RGBColor(0x44, 0x44, 0x44);
pub(crate) const AXIS_LINE: RGBColor = RGBColor(0x55, 0x55, 0x55);
pub(crate) const GRID_MAJOR: RGBColor = RGBColor(0xDD, 0xDD, 0xDD);
pub(crate) const GRID_MINOR: RGBColor = RGBColor(0xF0, 0xF0, 0xF0);
/// Guides of a line chart: thresholds (a tolerance) and events (when something happened),
/// greys apart from the palette and from each other.
pub(crate) const GUIDE_THRESHOLD: RGBColor = RGBColor(0x66, 0x66, 0x66);
pub(crate) const GUIDE_EVENT: RGBColor = RGBColor(0x22, 0x22, 0x22);
/// Heatmap cells without a value (NaN): a neutral grey that viridis never produces.
pub(crate) const MISSING: RGBColor = RGBColor(0xC8, 0xC8, 0xC8);

/// The Okabe–Ito palette, distinguishable under the common colour-vision deficiencies. Yellow
/// comes last because it is hard to see as a thin line on white.
///
/// # Reference
/// M. Okabe and K. Ito, "Color Universal Design (CUD): how to make figures and presentations
/// that are friendly to colorblind people", 2008.
pub(crate) const OKABE_ITO: [RGBColor; 8] = [
    RGBColor(0x00, 0x72, 0xB2), // blue
    RGBColor(0xD5, 0x5E, 0x00), // vermillion
    RGBColor(0x00, 0x9E, 0x73), // bluish green
    RGBColor(0xE6, 0x9F, 0x00), // orange
    RGBColor(0xCC, 0x79, 0xA7), // reddish purple
    RGBColor(0x56, 0xB4, 0xE9), // sky blue
    RGBColor(0x00, 0x00, 0x00), // black
    RGBColor(0xF0, 0xE4, 0x42), // yellow
];

/// Colour of series `i`. Past eight series the palette repeats; lines then differ by dash
/// pattern ([`is_dashed`]) and filled shapes by a lighter tint.
pub(crate) fn series_colour(i: usize) -> RGBColor {
    OKABE_ITO[i % OKABE_ITO.len()]
}

/// Fill colour of area or bar component `i`: the palette, then its tints.
pub(crate) fn fill_colour(i: usize) -> RGBColor {
    let c = series_colour(i);
    if (i / OKABE_ITO.len()).is_multiple_of(2) {
        c
    } else {
        mix(c, RGBColor(255, 255, 255), 0.5)
    }
}

/// Whether line series `i` is dashed (every second round through the palette).
pub(crate) fn is_dashed(i: usize) -> bool {
    (i / OKABE_ITO.len()) % 2 == 1
}

/// `a` moved a fraction `t` of the way to `b`.
pub(crate) fn mix(a: RGBColor, b: RGBColor, t: f64) -> RGBColor {
    let f = |x: u8, y: u8| (x as f64 + (y as f64 - x as f64) * t).round() as u8;
    RGBColor(f(a.0, b.0), f(a.1, b.1), f(a.2, b.2))
}

/// Relative luminance (WCAG), to choose dark or light text on a coloured cell.
pub(crate) fn luminance(c: RGBColor) -> f64 {
    let lin = |v: u8| {
        let s = v as f64 / 255.0;
        if s <= 0.040_45 {
            s / 12.92
        } else {
            ((s + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * lin(c.0) + 0.7152 * lin(c.1) + 0.0722 * lin(c.2)
}

/// A text style whose SVG `font-size` is `px`. plotters writes `size / 1.24` as the font size
/// (its pixel-to-point convention), so the size handed to it is scaled up by the same factor.
pub(crate) fn font(px: f64, colour: RGBColor) -> TextStyle<'static> {
    FontDesc::new(FontFamily::Name(FONT_STACK), px * 1.24, FontStyle::Normal).color(&colour)
}

/// [`font`] in bold.
pub(crate) fn bold_font(px: f64, colour: RGBColor) -> TextStyle<'static> {
    FontDesc::new(FontFamily::Name(FONT_STACK), px * 1.24, FontStyle::Bold).color(&colour)
}

/// [`font`] turned to read bottom-to-top, for vertical axis labels.
pub(crate) fn vertical_font(px: f64, colour: RGBColor) -> TextStyle<'static> {
    font(px, colour).transform(FontTransform::Rotate270)
}

/// Advance width of `c` in DejaVu Sans, in em. Grouped by shape; exact to a few percent, and
/// never an underestimate by much for Latin text, digits and the symbols units use.
fn advance_em(c: char) -> f64 {
    match c {
        ' ' => 0.32,
        'i' | 'j' | 'l' | '.' | ',' | ':' | ';' | '\'' | '|' | '!' | 'I' => 0.30,
        'f' | 't' | 'r' | '(' | ')' | '[' | ']' | '{' | '}' | '/' | '\\' | '-' => 0.41,
        'm' | 'M' => 0.98,
        'w' | 'W' | '%' | '…' | '—' | '@' => 1.0,
        '+' | '=' | '<' | '>' | '×' | '±' | '−' | '~' | '^' | '#' => 0.84,
        '0'..='9' | '$' | '*' | 'µ' => 0.64,
        '⁰' | '¹' | '²' | '³' | '⁴' | '⁵' | '⁶' | '⁷' | '⁸' | '⁹' | '⁻' => 0.42,
        'a'..='z' => 0.63,
        'A'..='Z' => 0.74,
        _ if c.is_control() => 0.0,
        _ if c.is_ascii() => 0.63,
        // Greek, accented Latin and the rest: as wide as a capital, so long labels in other
        // scripts get room rather than overflow.
        _ => 0.78,
    }
}

/// Estimated width of `text` drawn at `px` pixels, in pixels.
pub(crate) fn text_width_px(text: &str, px: f64, bold: bool) -> f64 {
    let em: f64 = text.chars().map(advance_em).sum();
    em * px * if bold { 1.1 } else { 1.0 }
}

/// The text with control characters (not allowed in XML, and meaningless in a label) replaced
/// by spaces and surrounding white space trimmed.
pub(crate) fn clean_label(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

/// `text` shortened with an ellipsis so that it fits `max_px` at `px` (whole text when it fits).
pub(crate) fn fit_label(text: &str, px: f64, bold: bool, max_px: f64) -> String {
    if text_width_px(text, px, bold) <= max_px {
        return text.to_string();
    }
    let budget = max_px - text_width_px("…", px, bold);
    let mut out = String::new();
    let mut used = 0.0;
    for c in text.chars() {
        let w = advance_em(c) * px * if bold { 1.1 } else { 1.0 };
        if used + w > budget {
            break;
        }
        used += w;
        out.push(c);
    }
    let mut out = out.trim_end().to_string();
    out.push('…');
    out
}

/// `text` broken at spaces into at most `max_lines` lines that each fit `max_px` at `px`, as
/// even in width as the fewest lines allow ("hardware vs BP" / "(effective W)", not
/// "hardware vs BP (effective" / "W)"). A word wider than a line, or text that needs more
/// lines, is shortened with an ellipsis (the last resort); text that fits stays one line.
pub(crate) fn wrap_label(text: &str, px: f64, max_px: f64, max_lines: usize) -> Vec<String> {
    let words: Vec<&str> = text.split(' ').filter(|w| !w.is_empty()).collect();
    let width = |s: &str| text_width_px(s, px, false);
    let mut lines = fill_lines(&words, &width, max_px);
    let max_lines = max_lines.max(1);
    if lines.len() > max_lines {
        // The last line allowed takes the rest, shortened.
        let rest = lines.split_off(max_lines - 1).join(" ");
        lines.push(rest);
    } else if lines.len() > 1 {
        // The narrowest width that needs no more lines (to a tenth of a pixel).
        let widest_word = words.iter().map(|w| width(w)).fold(0.0, f64::max);
        let (mut lo, mut hi) = (widest_word.min(max_px), max_px);
        while hi - lo > 0.1 {
            let mid = 0.5 * (lo + hi);
            if fill_lines(&words, &width, mid).len() <= lines.len() {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        lines = fill_lines(&words, &width, hi);
    }
    lines
        .iter()
        .map(|l| fit_label(l, px, false, max_px))
        .collect()
}

/// `words` filled greedily into lines no wider than `max_px` (a word wider than that alone on
/// its line).
fn fill_lines(words: &[&str], width: &dyn Fn(&str) -> f64, max_px: f64) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in words {
        match lines.last_mut() {
            Some(line) if width(&format!("{line} {word}")) <= max_px => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitted_labels_fit_and_keep_short_text_whole() {
        assert_eq!(fit_label("energy", 13.0, false, 200.0), "energy");
        let long = "a very long series name that cannot possibly fit in the legend";
        let fitted = fit_label(long, 13.0, false, 120.0);
        assert!(fitted.ends_with('…'));
        assert!(text_width_px(&fitted, 13.0, false) <= 120.0);
        // Nothing fits: just the ellipsis, never a panic.
        assert_eq!(fit_label(long, 13.0, false, 1.0), "…");
    }

    #[test]
    fn wrapped_labels_fit_each_line_and_keep_every_word_that_fits() {
        let name = "hardware vs BP (effective W)";
        let width = text_width_px(name, 13.0, false);
        assert_eq!(wrap_label(name, 13.0, width, 3), vec![name]);
        for room in [0.6, 0.9] {
            // Two lines of even width, not the most that fits on the first.
            let lines = wrap_label(name, 13.0, room * width, 3);
            assert_eq!(lines, vec!["hardware vs BP", "(effective W)"], "{room}");
            for line in &lines {
                assert!(text_width_px(line, 13.0, false) <= room * width);
            }
        }
        // Too many lines: the last one allowed is shortened.
        let lines = wrap_label("a b c d e f g h", 13.0, 10.0, 2);
        assert_eq!(lines.len(), 2);
        assert!(lines[1].ends_with('…'), "{lines:?}");
        // A word wider than a line is shortened; nothing at all gives nothing.
        assert!(wrap_label(&"x".repeat(100), 13.0, 50.0, 3)[0].ends_with('…'));
        assert!(wrap_label("", 13.0, 50.0, 3).is_empty());
    }

    #[test]
    fn control_characters_become_spaces() {
        assert_eq!(clean_label("\u{1}a\tb\n"), "a b");
    }

    #[test]
    fn palette_tints_repeat_lighter() {
        assert_eq!(fill_colour(0), OKABE_ITO[0]);
        assert!(luminance(fill_colour(8)) > luminance(fill_colour(0)));
        assert!(!is_dashed(7) && is_dashed(8) && !is_dashed(16));
    }
}
