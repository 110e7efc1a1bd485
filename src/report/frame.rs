//! The frame every chart is drawn in: title, axes with ticks and titles, grid, and the panel on
//! the right (legend or colour bar), laid out so that no label is clipped; then the chart's own
//! marks are drawn through [`Plot`] in data coordinates.
//!
//! Layout is ours rather than plotters' because plotters sizes label areas from a crude guess
//! of text width (see `style.rs`); we size each area from the labels it will actually hold.

use super::scale::{Scale, Ticks};
use super::style::{
    self, bold_font, fit_label, font, text_width_px, vertical_font, wrap_label, AXIS_LABEL_PX,
    AXIS_LINE, GRID_MAJOR, GRID_MINOR, HEIGHT_PX, LEGEND_PX, TEXT, TICK_PX, TICK_TEXT, TITLE_PX,
    WIDTH_PX,
};
use super::PlotError;
use plotters::backend::SVGBackend;
use plotters::chart::{ChartBuilder, ChartContext};
use plotters::coord::cartesian::Cartesian2d;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::Shift;
use plotters::drawing::{DrawingArea, IntoDrawingArea};
use plotters::element::{
    Circle, DashedPathElement, Drawable, PathElement, PointCollection, Polygon, Rectangle, Text,
};
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{Color, RGBColor, ShapeStyle, TextStyle, WHITE};

type Coord = Cartesian2d<TickedAxis, TickedAxis>;
type Root<'b> = DrawingArea<SVGBackend<'b>, Shift>;

/// Gap between the canvas edge or title and the plot, in pixels.
const MARGIN: i32 = 10;
/// Tick mark length; plotters puts tick labels twice this far from the axis.
const TICK_MARK: i32 = 5;
/// Longest a category label may get before it is shortened with an ellipsis.
const MAX_CATEGORY_PX: f64 = 180.0;
/// Legend width besides the names: padding, swatch, gap, and slack for the width estimate.
const LEGEND_CHROME_PX: f64 = 60.0;
/// Widest the legend panel may get, as a fraction of the canvas.
const MAX_LEGEND_FRACTION: f64 = 0.3;

/// A linear axis in drawn units with our own ticks. plotters' `WithKeyPoints<RangedCoordf64>`
/// would carry the ticks too, but in 0.3.7 it has no label formatter, so the mesh could not
/// label it.
#[derive(Clone)]
pub(crate) struct TickedAxis {
    lo: f64,
    hi: f64,
    major: Vec<f64>,
    minor: Vec<f64>,
}

impl Ranged for TickedAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let f = (value - self.lo) / (self.hi - self.lo);
        let px = limit.0 as f64 + f * (limit.1 - limit.0) as f64;
        // Far outside the canvas is as good as at infinity; `as` turns NaN into 0.
        px.round().clamp(-1e6, 1e6) as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.minor.clone()
        } else {
            self.major.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

/// What one axis shows.
pub(crate) enum AxisKind {
    /// Numbers on a linear or log scale.
    Numeric(Scale),
    /// Named slots; category `i` is centred on coordinate `i`.
    Categories(Vec<String>),
}

/// One axis: its title and what it shows.
pub(crate) struct AxisSpec {
    pub label: String,
    pub kind: AxisKind,
}

impl AxisSpec {
    /// A numeric axis titled as `axis` says, over `scale`.
    pub fn numeric(axis: &super::Axis, scale: Scale) -> Self {
        AxisSpec {
            label: axis.label.clone(),
            kind: AxisKind::Numeric(scale),
        }
    }

    /// The drawn coordinate range: the scale's, or half a slot beyond the first and last category.
    fn range(&self) -> (f64, f64) {
        match &self.kind {
            AxisKind::Numeric(s) => s.range(),
            AxisKind::Categories(c) => (-0.5, c.len().max(1) as f64 - 0.5),
        }
    }
}

/// How a legend entry is marked.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Swatch {
    Line {
        colour: RGBColor,
        dashed: bool,
        band: bool,
    },
    Patch(RGBColor),
}

/// The panel to the right of the plot.
pub(crate) enum Side {
    Nothing,
    Legend(Vec<(String, Swatch)>),
    ColourBar(ColourBar),
}

/// A vertical colour scale from `lo` to `hi`.
pub(crate) struct ColourBar {
    pub label: String,
    pub lo: f64,
    pub hi: f64,
    pub colour: fn(f64) -> RGBColor,
    /// Add a grey swatch for cells without a value.
    pub show_missing: bool,
}

/// Where the labels of a category axis go and how they read.
struct CategoryLayout {
    labels: Vec<String>,
    /// Turned to read bottom-to-top because they do not fit side by side.
    rotated: bool,
    /// Label every `every`-th category when even rotated labels would overlap.
    every: usize,
    /// Space the labels take across the axis, in pixels.
    depth_px: f64,
}

fn lay_out_categories(names: &[String], slot_px: f64, horizontal_axis: bool) -> CategoryLayout {
    let labels: Vec<String> = names
        .iter()
        .map(|n| fit_label(&style::clean_label(n), TICK_PX, false, MAX_CATEGORY_PX))
        .collect();
    let widest = labels
        .iter()
        .map(|l| text_width_px(l, TICK_PX, false))
        .fold(0.0, f64::max);
    let line_px = TICK_PX * 1.35;
    let rotated = horizontal_axis && widest > 0.92 * slot_px;
    let across_px = if horizontal_axis && !rotated {
        widest
    } else {
        line_px
    };
    let every = ((across_px + 4.0) / slot_px.max(1e-3)).ceil().max(1.0) as usize;
    let depth_px = if horizontal_axis && !rotated {
        line_px
    } else {
        widest
    };
    CategoryLayout {
        labels,
        rotated,
        every: if horizontal_axis && !rotated {
            1
        } else {
            every
        },
        depth_px,
    }
}

fn widest_label(ticks: &Ticks) -> f64 {
    ticks
        .major
        .iter()
        .map(|t| text_width_px(&t.label, TICK_PX, false))
        .fold(0.0, f64::max)
}

/// Sizes of everything around the plot, in pixels.
struct Layout {
    title: String,
    title_px: f64,
    title_h: i32,
    side_w: i32,
    y_area_w: i32,
    x_area_h: i32,
    margin_right: i32,
    x_ticks: Ticks,
    y_ticks: Ticks,
    x_categories: Option<CategoryLayout>,
    y_categories: Option<CategoryLayout>,
    /// The legend entries shown: each name's lines and its swatch.
    legend: Vec<(Vec<String>, Swatch)>,
    /// Legend entries that did not fit and are summarised as "+ N more".
    legend_hidden: usize,
    colour_ticks: Ticks,
}

fn lay_out(title: &str, x: &AxisSpec, y: &AxisSpec, side: &Side) -> Layout {
    let (w, h) = (WIDTH_PX as f64, HEIGHT_PX as f64);
    let (title, title_px) = fit_title(title);
    let title_h = (MARGIN as f64 * 1.4 + title_px * 1.3).ceil() as i32;
    let desc_px = AXIS_LABEL_PX * 1.3;
    let desc_of = |a: &AxisSpec| {
        if style::clean_label(&a.label).is_empty() {
            0.0
        } else {
            desc_px + 10.0
        }
    };

    let (side_w, colour_ticks) = side_panel(side, desc_px);

    // The x label area's height and the y axis' tick count depend on each other through the
    // plot's size: lay out for a guess of the height, then again for the height that gave.
    let plot_top = title_h + MARGIN / 2;
    let attempt = |x_area_guess: f64| {
        let plot_h = h - plot_top as f64 - MARGIN as f64 - x_area_guess;
        let (y_ticks, y_categories, y_labels_w) = match &y.kind {
            AxisKind::Numeric(s) => {
                let t = s.ticks((plot_h / 55.0) as usize);
                let wl = widest_label(&t);
                (t, None, wl)
            }
            AxisKind::Categories(names) => {
                let c = lay_out_categories(names, plot_h / names.len().max(1) as f64, false);
                let wl = c.depth_px;
                (Ticks::default(), Some(c), wl)
            }
        };
        let y_area_w = 2.0 * TICK_MARK as f64 + y_labels_w + desc_of(y);
        let (x_ticks, x_categories, margin_right, label_depth) = match &x.kind {
            AxisKind::Numeric(s) => {
                // The last label's overhang past the plot sets the right margin.
                let plot_w = w - side_w - MARGIN as f64 - y_area_w - 24.0;
                // Fewer ticks until their labels stand apart.
                let mut max = (plot_w / 90.0) as usize;
                let mut t = s.ticks(max);
                while max > 2 && (widest_label(&t) + 16.0) * t.major.len() as f64 > plot_w {
                    max -= 1;
                    t = s.ticks(max);
                }
                let last = t
                    .major
                    .last()
                    .map(|t| text_width_px(&t.label, TICK_PX, false))
                    .unwrap_or(0.0);
                (t, None, (last / 2.0 + 6.0).max(16.0), TICK_PX * 1.35)
            }
            AxisKind::Categories(names) => {
                let plot_w = w - side_w - MARGIN as f64 - y_area_w - 16.0;
                let c = lay_out_categories(names, plot_w / names.len().max(1) as f64, true);
                let d = c.depth_px;
                (Ticks::default(), Some(c), 16.0, d)
            }
        };
        let x_area_h = 2.0 * TICK_MARK as f64 + label_depth + desc_of(x);
        Layout {
            title: title.clone(),
            title_px,
            title_h,
            side_w: side_w.round() as i32,
            y_area_w: y_area_w.ceil() as i32,
            x_area_h: x_area_h.ceil() as i32,
            margin_right: margin_right.ceil() as i32,
            x_ticks,
            y_ticks,
            x_categories,
            y_categories,
            legend: Vec::new(),
            legend_hidden: 0,
            colour_ticks: colour_ticks.clone(),
        }
    };
    let first = attempt(60.0);
    let mut layout = attempt(first.x_area_h as f64);

    if let Side::Legend(entries) = side {
        let room = h - plot_top as f64 - layout.x_area_h as f64;
        (layout.legend, layout.legend_hidden) = fit_legend(entries, room);
    }
    layout
}

/// The title with the size it is drawn at: long titles first shrink a little, then lose their
/// end to an ellipsis.
fn fit_title(title: &str) -> (String, f64) {
    let room = WIDTH_PX as f64 - 4.0 * MARGIN as f64;
    let title = style::clean_label(title);
    let mut title_px = TITLE_PX;
    while title_px > 13.0 && text_width_px(&title, title_px, true) > room {
        title_px -= 1.0;
    }
    (fit_label(&title, title_px, true, room), title_px)
}

/// The right-hand panel's width, and the colour bar's ticks when it is one.
fn side_panel(side: &Side, desc_px: f64) -> (f64, Ticks) {
    match side {
        Side::Nothing => (0.0, Ticks::default()),
        Side::Legend(entries) => {
            let widest = legend_lines(entries)
                .iter()
                .flat_map(|(lines, _)| lines)
                .map(|l| text_width_px(l, LEGEND_PX, false))
                .fold(0.0, f64::max);
            ((widest + LEGEND_CHROME_PX).ceil(), Ticks::default())
        }
        Side::ColourBar(bar) => {
            let scale = colour_scale(bar);
            let ticks = scale.ticks(8);
            let labels_w = widest_label(&ticks).max(text_width_px("NaN", TICK_PX, false));
            (18.0 + 14.0 + 8.0 + labels_w + 12.0 + desc_px + 6.0, ticks)
        }
    }
}

/// The legend entries that fit a panel `room` pixels high (with a "+ N more" line when some do
/// not), and how many were left out.
fn fit_legend(entries: &[(String, Swatch)], room: f64) -> (Vec<(Vec<String>, Swatch)>, usize) {
    let mut lines = legend_lines(entries);
    let heights: Vec<f64> = lines.iter().map(|(l, _)| entry_px(l.len())).collect();
    let mut shown = 0;
    let mut used = 0.0;
    while shown < lines.len() && used + heights[shown] <= room {
        used += heights[shown];
        shown += 1;
    }
    if shown < lines.len() {
        // Room for the "+ N more" line.
        while shown > 0 && used + legend_row_px() > room {
            shown -= 1;
            used -= heights[shown];
        }
    }
    lines.truncate(shown);
    (lines, entries.len() - shown)
}

/// Legend names at most this many lines long; longer ones are shortened.
const LEGEND_MAX_LINES: usize = 3;

/// Each legend entry's name broken into lines that fit the widest legend panel allowed.
fn legend_lines(entries: &[(String, Swatch)]) -> Vec<(Vec<String>, Swatch)> {
    let max_text = WIDTH_PX as f64 * MAX_LEGEND_FRACTION - LEGEND_CHROME_PX;
    entries
        .iter()
        .map(|(name, swatch)| {
            let name = style::clean_label(name);
            let lines = wrap_label(&name, LEGEND_PX, max_text, LEGEND_MAX_LINES);
            (lines, *swatch)
        })
        .collect()
}

/// Height of a one-line legend entry.
fn legend_row_px() -> f64 {
    LEGEND_PX * 1.7
}

/// Distance between the lines of one legend entry.
fn legend_line_px() -> f64 {
    LEGEND_PX * 1.25
}

/// Height of a legend entry of `lines` lines.
fn entry_px(lines: usize) -> f64 {
    legend_row_px() + lines.saturating_sub(1) as f64 * legend_line_px()
}

/// The linear scale of a colour bar: exactly its range, which the heatmap has settled.
fn colour_scale(bar: &ColourBar) -> Scale {
    Scale::fixed(bar.lo, bar.hi)
}

/// The chart being drawn: marks in data coordinates (drawn units: log10 of the value on a log
/// axis, the category index on a category axis).
pub(crate) struct Plot<'a, 'b> {
    chart: ChartContext<'a, SVGBackend<'b>, Coord>,
    title: String,
}

impl<'b> Plot<'_, 'b> {
    /// The axes, their tick labels and descriptions, and the grid.
    fn draw_mesh(&mut self, layout: &Layout, x: &AxisSpec, y: &AxisSpec) -> Result<(), PlotError> {
        let label_of = |ticks: &Ticks, v: f64| {
            ticks
                .major
                .iter()
                .min_by(|a, b| (a.at - v).abs().total_cmp(&(b.at - v).abs()))
                .map(|t| t.label.clone())
                .unwrap_or_default()
        };
        let x_fmt = |v: &f64| label_of(&layout.x_ticks, *v);
        let y_fmt = |v: &f64| label_of(&layout.y_ticks, *v);
        let mut mesh = self.chart.configure_mesh();
        let (x_desc, y_desc) = (style::clean_label(&x.label), style::clean_label(&y.label));
        if !x_desc.is_empty() {
            mesh.x_desc(x_desc);
        }
        if !y_desc.is_empty() {
            mesh.y_desc(y_desc);
        }
        let drawn = mesh
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .label_style(font(TICK_PX, TICK_TEXT))
            .axis_desc_style(font(AXIS_LABEL_PX, TEXT))
            .axis_style(AXIS_LINE.stroke_width(1))
            .bold_line_style(GRID_MAJOR.stroke_width(1))
            .light_line_style(GRID_MINOR.stroke_width(1))
            .set_all_tick_mark_size(TICK_MARK)
            .draw();
        drawn.map_err(|e| self.fail(e))
    }

    fn fail(&self, e: impl std::fmt::Display) -> PlotError {
        PlotError::Render {
            title: self.title.clone(),
            message: e.to_string(),
        }
    }

    fn draw_one<E>(&mut self, element: E) -> Result<(), PlotError>
    where
        E: Drawable<SVGBackend<'b>>,
        for<'e> &'e E: PointCollection<'e, (f64, f64)>,
    {
        let r = self.chart.draw_series(std::iter::once(element));
        r.map(|_| ()).map_err(|e| self.fail(e))
    }

    pub fn path(&mut self, points: Vec<(f64, f64)>, style: ShapeStyle) -> Result<(), PlotError> {
        self.draw_one(PathElement::new(points, style))
    }

    pub fn dashed_path(
        &mut self,
        points: Vec<(f64, f64)>,
        style: ShapeStyle,
    ) -> Result<(), PlotError> {
        self.draw_one(DashedPathElement::new(points, 8, 5, style))
    }

    pub fn polygon(&mut self, points: Vec<(f64, f64)>, style: ShapeStyle) -> Result<(), PlotError> {
        self.draw_one(Polygon::new(points, style))
    }

    pub fn rect(
        &mut self,
        a: (f64, f64),
        b: (f64, f64),
        style: ShapeStyle,
    ) -> Result<(), PlotError> {
        self.draw_one(Rectangle::new([a, b], style))
    }

    pub fn circle(
        &mut self,
        at: (f64, f64),
        radius_px: i32,
        style: ShapeStyle,
    ) -> Result<(), PlotError> {
        self.draw_one(Circle::new(at, radius_px, style))
    }

    pub fn text(
        &mut self,
        at: (f64, f64),
        text: String,
        style: TextStyle<'static>,
    ) -> Result<(), PlotError> {
        self.draw_one(Text::new(text, at, style))
    }

    /// The pixel position of a point, to size marks in pixels (e.g. whether text fits a cell).
    pub fn pixel(&self, at: (f64, f64)) -> (i32, i32) {
        self.chart.backend_coord(&at)
    }
}

/// Draws a chart: the frame, then `draw`'s marks on top of the grid, then the category labels
/// and the right-hand panel. Returns the SVG document.
pub(crate) fn render(
    title: &str,
    x: &AxisSpec,
    y: &AxisSpec,
    side: &Side,
    draw: impl FnOnce(&mut Plot<'_, '_>) -> Result<(), PlotError>,
) -> Result<String, PlotError> {
    let layout = lay_out(title, x, y, side);
    let fail = |e: &dyn std::fmt::Display| PlotError::Render {
        title: layout.title.clone(),
        message: e.to_string(),
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH_PX, HEIGHT_PX)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(&e))?;
        let title_style = bold_font(layout.title_px, TEXT).pos(Pos::new(HPos::Center, VPos::Top));
        root.draw(&Text::new(
            layout.title.clone(),
            (WIDTH_PX as i32 / 2, (MARGIN as f64 * 1.2) as i32),
            title_style,
        ))
        .map_err(|e| fail(&e))?;

        let (_, body) = root.split_vertically(layout.title_h);
        let (plot_area, _) = body.split_horizontally(WIDTH_PX as i32 - layout.side_w);
        let (x_lo, x_hi) = x.range();
        let (y_lo, y_hi) = y.range();
        let x_coord = TickedAxis {
            lo: x_lo,
            hi: x_hi,
            major: layout.x_ticks.major.iter().map(|t| t.at).collect(),
            minor: layout.x_ticks.minor.clone(),
        };
        let y_coord = TickedAxis {
            lo: y_lo,
            hi: y_hi,
            major: layout.y_ticks.major.iter().map(|t| t.at).collect(),
            minor: layout.y_ticks.minor.clone(),
        };
        let chart = ChartBuilder::on(&plot_area)
            .margin_top(MARGIN / 2)
            .margin_left(MARGIN)
            .margin_bottom(MARGIN)
            .margin_right(layout.margin_right)
            .x_label_area_size(layout.x_area_h)
            .y_label_area_size(layout.y_area_w)
            .build_cartesian_2d(x_coord, y_coord)
            .map_err(|e| fail(&e))?;
        let mut plot = Plot {
            chart,
            title: layout.title.clone(),
        };

        plot.draw_mesh(&layout, x, y)?;

        draw(&mut plot)?;

        let (_, px_y) = plot.chart.plotting_area().get_pixel_range();
        draw_category_labels(&root, &plot, &layout, (x_lo, y_lo)).map_err(|e| fail(&e))?;

        let panel_x = WIDTH_PX as i32 - layout.side_w;
        match side {
            Side::Nothing => {}
            Side::Legend(_) => {
                draw_legend(&root, &layout, panel_x, px_y.start).map_err(|e| fail(&e))?
            }
            Side::ColourBar(bar) => {
                draw_colour_bar(&root, &layout, bar, panel_x, px_y.clone()).map_err(|e| fail(&e))?
            }
        }
        root.present().map_err(|e| fail(&e))?;
    }
    Ok(finish_svg(svg, &layout.title))
}

/// The labels of categorical axes, drawn on the canvas beside the plot (every `c.every`-th).
fn draw_category_labels(
    root: &Root<'_>,
    plot: &Plot<'_, '_>,
    layout: &Layout,
    (x_lo, y_lo): (f64, f64),
) -> DrawResult {
    let (px_x, px_y) = plot.chart.plotting_area().get_pixel_range();
    if let Some(c) = &layout.x_categories {
        for (i, label) in c.labels.iter().enumerate().step_by(c.every) {
            let (cx, _) = plot.pixel((i as f64, y_lo));
            let at = (cx, px_y.end + 2 * TICK_MARK);
            let style = if c.rotated {
                vertical_font(TICK_PX, TICK_TEXT).pos(Pos::new(HPos::Right, VPos::Center))
            } else {
                font(TICK_PX, TICK_TEXT).pos(Pos::new(HPos::Center, VPos::Top))
            };
            root.draw(&Text::new(label.clone(), at, style))?;
        }
    }
    if let Some(c) = &layout.y_categories {
        for (i, label) in c.labels.iter().enumerate().step_by(c.every) {
            let (_, cy) = plot.pixel((x_lo, i as f64));
            let style = font(TICK_PX, TICK_TEXT).pos(Pos::new(HPos::Right, VPos::Center));
            root.draw(&Text::new(
                label.clone(),
                (px_x.start - 2 * TICK_MARK, cy),
                style,
            ))?;
        }
    }
    Ok(())
}

type DrawResult = Result<(), plotters::drawing::DrawingAreaErrorKind<std::io::Error>>;

fn draw_legend(root: &Root<'_>, layout: &Layout, panel_x: i32, top: i32) -> DrawResult {
    let x0 = panel_x + 12;
    let row = legend_row_px();
    let label_style = font(LEGEND_PX, TEXT).pos(Pos::new(HPos::Left, VPos::Center));
    let mut entry_top = top as f64 + 4.0;
    for (lines, swatch) in &layout.legend {
        let cy = (entry_top + row / 2.0) as i32;
        match *swatch {
            Swatch::Line {
                colour,
                dashed,
                band,
            } => {
                if band {
                    root.draw(&Rectangle::new(
                        [(x0, cy - 7), (x0 + 28, cy + 7)],
                        colour.mix(0.2).filled(),
                    ))?;
                }
                let stroke = colour.stroke_width(2);
                if dashed {
                    for k in 0..2 {
                        let a = x0 + k * 16;
                        root.draw(&PathElement::new(vec![(a, cy), (a + 10, cy)], stroke))?;
                    }
                } else {
                    root.draw(&PathElement::new(vec![(x0, cy), (x0 + 28, cy)], stroke))?;
                }
            }
            Swatch::Patch(colour) => {
                root.draw(&Rectangle::new(
                    [(x0 + 4, cy - 7), (x0 + 24, cy + 7)],
                    colour.filled(),
                ))?;
            }
        }
        for (k, line) in lines.iter().enumerate() {
            let y = cy + (k as f64 * legend_line_px()).round() as i32;
            root.draw(&Text::new(line.clone(), (x0 + 38, y), label_style.clone()))?;
        }
        entry_top += entry_px(lines.len());
    }
    if layout.legend_hidden > 0 {
        let cy = (entry_top + row / 2.0) as i32;
        let more = format!("+ {} more", layout.legend_hidden);
        root.draw(&Text::new(more, (x0 + 38, cy), label_style))?;
    }
    Ok(())
}

fn draw_colour_bar(
    root: &Root<'_>,
    layout: &Layout,
    bar: &ColourBar,
    panel_x: i32,
    plot_y: std::ops::Range<i32>,
) -> DrawResult {
    let x0 = panel_x + 14;
    let x1 = x0 + 18;
    let top = plot_y.start;
    let missing_h = if bar.show_missing { 34 } else { 0 };
    let bottom = plot_y.end - missing_h;
    let height = (bottom - top).max(1);
    // Bands of a few pixels look continuous and keep the SVG small.
    let bands = (height / 3).clamp(1, 96);
    for b in 0..bands {
        let y_hi = bottom - height * b / bands;
        let y_lo = bottom - height * (b + 1) / bands;
        let t = (b as f64 + 0.5) / bands as f64;
        let c = (bar.colour)(t);
        root.draw(&Rectangle::new([(x0, y_lo), (x1, y_hi)], c.filled()))?;
    }
    root.draw(&Rectangle::new(
        [(x0, top), (x1, bottom)],
        AXIS_LINE.stroke_width(1),
    ))?;
    let span = bar.hi - bar.lo;
    let label_style = font(TICK_PX, TICK_TEXT).pos(Pos::new(HPos::Left, VPos::Center));
    for t in &layout.colour_ticks.major {
        let f = if span > 0.0 {
            (t.at - bar.lo) / span
        } else {
            0.5
        };
        let y = bottom - (f * height as f64).round() as i32;
        root.draw(&PathElement::new(
            vec![(x1, y), (x1 + TICK_MARK, y)],
            AXIS_LINE.stroke_width(1),
        ))?;
        root.draw(&Text::new(
            t.label.clone(),
            (x1 + 2 * TICK_MARK, y),
            label_style.clone(),
        ))?;
    }
    if bar.show_missing {
        let (y0, y1) = (plot_y.end - 16, plot_y.end);
        root.draw(&Rectangle::new(
            [(x0, y0), (x1, y1)],
            style::MISSING.filled(),
        ))?;
        root.draw(&Text::new(
            "NaN".to_string(),
            (x1 + 2 * TICK_MARK, (y0 + y1) / 2),
            label_style,
        ))?;
    }
    let desc_x = WIDTH_PX as i32 - 6 - (AXIS_LABEL_PX * 1.3) as i32;
    root.draw(&Text::new(
        style::clean_label(&bar.label),
        (desc_x, (top + bottom) / 2),
        vertical_font(AXIS_LABEL_PX, TEXT).pos(Pos::new(HPos::Center, VPos::Top)),
    ))?;
    Ok(())
}

/// Adds an accessible name (`<title>`, `role="img"`) to the document plotters wrote, and round
/// joins to its lines: plotters' points are whole pixels, and mitred joins make the steps show.
fn finish_svg(svg: String, title: &str) -> String {
    let svg = svg.replace(
        "<polyline fill=\"none\"",
        "<polyline fill=\"none\" stroke-linejoin=\"round\" stroke-linecap=\"round\"",
    );
    let svg = tidy_font_sizes(&svg);
    let Some(end) = svg.find('>') else {
        return svg;
    };
    let mut out = String::with_capacity(svg.len() + title.len() + 64);
    out.push_str(svg[..end].trim_end_matches('/'));
    out.push_str(" role=\"img\">\n<title>");
    out.push_str(&super::html::escape(title));
    out.push_str("</title>");
    out.push_str(&svg[end + 1..]);
    out
}

/// Rounds `font-size` values to hundredths: plotters' size conversion leaves `13.000000000000002`.
fn tidy_font_sizes(svg: &str) -> String {
    const KEY: &str = "font-size=\"";
    let mut out = String::with_capacity(svg.len());
    let mut rest = svg;
    while let Some(i) = rest.find(KEY) {
        let (head, tail) = rest.split_at(i + KEY.len());
        out.push_str(head);
        let end = tail.find('"').unwrap_or(tail.len());
        match tail[..end].parse::<f64>() {
            Ok(size) => out.push_str(&format!("{}", (size * 100.0).round() / 100.0)),
            Err(_) => out.push_str(&tail[..end]),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn font_sizes_are_tidied() {
        let svg = r#"<text font-size="13.000000000000002">a</text><text font-size="12.5">"#;
        assert_eq!(
            tidy_font_sizes(svg),
            r#"<text font-size="13">a</text><text font-size="12.5">"#
        );
    }
}
