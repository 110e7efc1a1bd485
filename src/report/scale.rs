//! Numeric axes: which values can be drawn, the axis range they span, where the ticks go and how
//! their labels read.
//!
//! A log axis is drawn in log10 space: the chart's coordinate is `log10(value)` and only the tick
//! labels speak in values. One linear coordinate type then serves every chart, whatever mix of
//! linear and log axes it has.

/// Largest magnitude drawn on a linear axis. Beyond it, spans and paddings would overflow to
/// infinity; such values are treated like infinities (skipped).
const LINEAR_LIMIT: f64 = 1e300;

/// Spans narrower than this (in drawn units) are treated as a single value: below it tick steps
/// underflow.
const TINY_SPAN: f64 = 1e-250;

/// One numeric axis: the mapping from data values to drawn coordinates and the drawn range.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Scale {
    log: bool,
    lo: f64,
    hi: f64,
}

/// A tick: drawn coordinate and label.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Tick {
    pub at: f64,
    pub label: String,
}

/// Where the grid and labels go: labelled major ticks and unlabelled minor grid lines.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Ticks {
    pub major: Vec<Tick>,
    pub minor: Vec<f64>,
}

/// The smallest and largest drawn coordinate seen so far.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Extent {
    lo: f64,
    hi: f64,
}

impl Extent {
    pub fn new() -> Self {
        Extent {
            lo: f64::INFINITY,
            hi: f64::NEG_INFINITY,
        }
    }

    pub fn add(&mut self, drawn: f64) {
        if drawn.is_finite() {
            self.lo = self.lo.min(drawn);
            self.hi = self.hi.max(drawn);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.lo > self.hi
    }
}

/// The drawn coordinate of `value` on a linear (`log == false`) or log axis; `None` when it
/// cannot be drawn there (NaN, infinite, beyond [`LINEAR_LIMIT`], or not positive on a log axis).
pub(crate) fn drawn(log: bool, value: f64) -> Option<f64> {
    if log {
        let l = value.log10();
        (value > 0.0 && l.is_finite()).then_some(l)
    } else {
        (value.is_finite() && value.abs() <= LINEAR_LIMIT).then_some(value)
    }
}

impl Scale {
    /// A scale covering `extent` (drawn units), widened by `pad_low` and `pad_high` (fractions of
    /// the span) at each end. A single value, or values too close to tell apart, get a range
    /// around them instead: ±10 % (±1 around zero) linear, ±half a decade log. `None` when the
    /// extent is empty.
    pub fn new(log: bool, extent: Extent, pad_low: f64, pad_high: f64) -> Option<Scale> {
        if extent.is_empty() {
            return None;
        }
        let (mut lo, mut hi) = (extent.lo, extent.hi);
        if !log {
            // Keeps the span and its padding finite.
            lo = lo.clamp(-LINEAR_LIMIT, LINEAR_LIMIT);
            hi = hi.clamp(-LINEAR_LIMIT, LINEAR_LIMIT);
        }
        let span = hi - lo;
        let magnitude = lo.abs().max(hi.abs());
        if log {
            if span < 1e-9 {
                let c = lo / 2.0 + hi / 2.0;
                return Some(Scale {
                    log,
                    lo: c - 0.5,
                    hi: c + 0.5,
                });
            }
        } else if span <= magnitude * 1e-12 || span < TINY_SPAN {
            let c = lo / 2.0 + hi / 2.0;
            let (c, d) = if c.abs() > TINY_SPAN {
                (c, 0.1 * c.abs())
            } else {
                (0.0, 1.0)
            };
            return Some(Scale {
                log,
                lo: c - d,
                hi: c + d,
            });
        }
        lo -= pad_low * span;
        hi += pad_high * span;
        Some(Scale { log, lo, hi })
    }

    /// A linear scale over exactly `lo..hi`, for a range already decided (a colour bar's).
    pub fn fixed(lo: f64, hi: f64) -> Scale {
        Scale { log: false, lo, hi }
    }

    /// The drawn range.
    pub fn range(&self) -> (f64, f64) {
        (self.lo, self.hi)
    }

    /// Ticks for this axis, at most `max_major` labelled ones (at least 2).
    pub fn ticks(&self, max_major: usize) -> Ticks {
        let max_major = max_major.max(2);
        if self.log {
            log_ticks(self.lo, self.hi, max_major)
        } else {
            let values = nice_ticks(self.lo, self.hi, max_major);
            let labels = format_ticks(&values);
            Ticks {
                major: zip_ticks(values, labels),
                minor: Vec::new(),
            }
        }
    }
}

fn zip_ticks(at: Vec<f64>, labels: Vec<String>) -> Vec<Tick> {
    at.into_iter()
        .zip(labels)
        .map(|(at, label)| Tick { at, label })
        .collect()
}

/// Round-number ticks inside `[lo, hi]`: multiples of 1, 2, 2.5 or 5 times a power of ten, the
/// finest step that gives at most `max` ticks (and at least two where possible).
pub(crate) fn nice_ticks(lo: f64, hi: f64, max: usize) -> Vec<f64> {
    let span = hi - lo;
    if !(span > 0.0 && span.is_finite()) {
        return vec![lo];
    }
    let count = |step: f64| ((hi / step).floor() - (lo / step).ceil() + 1.0).max(0.0);
    let e0 = span.log10().floor() as i32;
    let mut previous: Option<(f64, i32)> = None;
    let mut chosen = None;
    'search: for e in (e0 - 3)..=(e0 + 1) {
        for m in [1.0, 2.0, 2.5, 5.0] {
            let step = m * 10f64.powi(e);
            if !(step > 0.0 && step.is_finite()) {
                continue;
            }
            if count(step) <= max as f64 {
                chosen = Some(if count(step) < 2.0 {
                    previous.unwrap_or((m, e))
                } else {
                    (m, e)
                });
                break 'search;
            }
            previous = Some((m, e));
        }
    }
    let Some((m, e)) = chosen else {
        return vec![lo, hi];
    };
    // k·m / 10^|e| rounds once, so ticks land on the doubles nearest the decimals they name
    // (0.6, not 0.6000000000000001, which would print badly).
    let at = |k: f64| {
        if e < 0 {
            k * m / 10f64.powi(-e)
        } else {
            k * m * 10f64.powi(e)
        }
    };
    let step = at(1.0);
    let first = (lo / step).ceil();
    let n = count(step).min(4.0 * max as f64) as usize;
    (0..n)
        .map(|i| {
            let t = at(first + i as f64);
            // Multiples that should be zero come out as 1e-17 from rounding.
            if t.abs() < step * 1e-9 {
                0.0
            } else {
                t
            }
        })
        .collect()
}

/// Labels for evenly spaced linear ticks: as few decimals as show every tick exactly, and
/// `m×10ⁿ` when the values are very large or very small. Negative values use the minus sign.
pub(crate) fn format_ticks(values: &[f64]) -> Vec<String> {
    let largest = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if largest == 0.0 {
        return values.iter().map(|_| "0".to_string()).collect();
    }
    let scientific = !(1e-3..1e5).contains(&largest);
    let exponent = if scientific {
        largest.log10().floor() as i32
    } else {
        0
    };
    let scale = 10f64.powi(exponent);
    let mantissas: Vec<f64> = values.iter().map(|v| v / scale).collect();
    let resolution = smallest_gap(&mantissas).unwrap_or(largest / scale);
    let decimals = (0..=12)
        .find(|&d| {
            let f = 10f64.powi(d);
            mantissas
                .iter()
                .all(|m| ((m * f).round() - m * f).abs() <= 1e-6 * resolution * f)
        })
        .unwrap_or(12) as usize;
    values
        .iter()
        .zip(&mantissas)
        .map(|(&v, &m)| {
            if v == 0.0 && scientific {
                return "0".to_string();
            }
            let text = with_minus(&format!("{m:.decimals$}"));
            if scientific {
                format!("{text}×10{}", superscript(exponent))
            } else {
                text
            }
        })
        .collect()
}

fn smallest_gap(values: &[f64]) -> Option<f64> {
    values
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .filter(|g| *g > 0.0)
        .min_by(|a, b| a.total_cmp(b))
}

/// `-` turned into the typographic minus sign, and a negative zero into zero.
fn with_minus(text: &str) -> String {
    match text.strip_prefix('-') {
        Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_string(),
        Some(rest) => format!("−{rest}"),
        None => text.to_string(),
    }
}

/// `n` in superscript digits, e.g. `-6` as `⁻⁶`.
pub(crate) fn superscript(n: i32) -> String {
    n.to_string()
        .chars()
        .map(|c| match c {
            '-' => '⁻',
            '0' => '⁰',
            '1' => '¹',
            '2' => '²',
            '3' => '³',
            '4' => '⁴',
            '5' => '⁵',
            '6' => '⁶',
            '7' => '⁷',
            '8' => '⁸',
            _ => '⁹',
        })
        .collect()
}

/// `m × 10^k` written out: plainly (`0.002`, `500`), or as `m×10ᵏ` (`10ᵏ` when `m` is 1).
fn power_label(m: u32, k: i32, plain: bool) -> String {
    if plain {
        if k >= 0 {
            format!("{m}{}", "0".repeat(k as usize))
        } else {
            format!("0.{}{m}", "0".repeat((-k - 1) as usize))
        }
    } else if m == 1 {
        format!("10{}", superscript(k))
    } else {
        format!("{m}×10{}", superscript(k))
    }
}

/// Ticks of a log axis spanning `[lo, hi]` in log10 units: decades when there are at least
/// three (thinned to `max`, with the 2..9 multiples as minor grid lines over up to six decades),
/// else 1, 2 and 5 (or 1 and 3) times powers of ten, else (less than a factor of about 2.5) round
/// linear values. Decades read `0.01 … 1000` when all are moderate, else all as `10ⁿ`, so one axis never
/// mixes the two styles.
fn log_ticks(lo: f64, hi: f64, max: usize) -> Ticks {
    let inside = |x: f64| x >= lo - 1e-9 && x <= hi + 1e-9;
    let (k_lo, k_hi) = (lo.floor() as i32, hi.ceil() as i32);
    let decades: Vec<i32> = (k_lo..=k_hi).filter(|&k| inside(k as f64)).collect();
    // Within two decades or so, decades alone are too sparse: 1-2-5 steps, or 1-3 when those
    // are too many.
    let candidates: Vec<(u32, i32)> = [&[1, 2, 5][..], &[1, 3][..]]
        .iter()
        .map(|ms| {
            (k_lo..=k_hi)
                .flat_map(|k| ms.iter().map(move |&m| (m, k)))
                .filter(|&(m, k)| inside(k as f64 + (m as f64).log10()))
                .collect::<Vec<_>>()
        })
        .find(|c| c.len() >= 2 && c.len() <= max)
        .unwrap_or_default();
    let use_125 = decades.len() < 3 && !candidates.is_empty();
    if decades.len() >= 2 && !use_125 {
        let stride = decades.len().div_ceil(max) as i32;
        let shown: Vec<i32> = decades
            .iter()
            .copied()
            .filter(|k| k.rem_euclid(stride) == 0)
            .collect();
        let plain = shown.iter().all(|k| (-3..=4).contains(k));
        let major = shown
            .iter()
            .map(|&k| Tick {
                at: k as f64,
                label: power_label(1, k, plain),
            })
            .collect();
        let minor = if stride > 1 {
            decades
                .iter()
                .filter(|k| k.rem_euclid(stride) != 0)
                .map(|&k| k as f64)
                .collect()
        } else if hi - lo <= 6.0 {
            multiples(k_lo, k_hi, &[2, 3, 4, 5, 6, 7, 8, 9], &inside)
        } else {
            Vec::new()
        };
        return Ticks { major, minor };
    }
    if !candidates.is_empty() {
        let plain = candidates.iter().all(|(_, k)| (-3..=4).contains(k));
        return Ticks {
            major: candidates
                .iter()
                .map(|&(m, k)| Tick {
                    at: k as f64 + (m as f64).log10(),
                    label: power_label(m, k, plain),
                })
                .collect(),
            minor: multiples(k_lo, k_hi, &[2, 3, 4, 5, 6, 7, 8, 9], &inside)
                .into_iter()
                .filter(|x| {
                    !candidates
                        .iter()
                        .any(|&(m, k)| (k as f64 + (m as f64).log10() - x).abs() < 1e-9)
                })
                .collect(),
        };
    }
    let (v_lo, v_hi) = (10f64.powf(lo), 10f64.powf(hi));
    let values: Vec<f64> = nice_ticks(v_lo, v_hi, max)
        .into_iter()
        .filter(|v| *v > 0.0)
        .collect();
    let labels = format_ticks(&values);
    Ticks {
        major: zip_ticks(values.iter().map(|v| v.log10()).collect(), labels),
        minor: Vec::new(),
    }
}

fn multiples(k_lo: i32, k_hi: i32, ms: &[u32], inside: &dyn Fn(f64) -> bool) -> Vec<f64> {
    (k_lo..=k_hi)
        .flat_map(|k| ms.iter().map(move |&m| k as f64 + (m as f64).log10()))
        .filter(|&x| inside(x))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(t: &Ticks) -> Vec<&str> {
        t.major.iter().map(|t| t.label.as_str()).collect()
    }

    fn extent(values: &[f64]) -> Extent {
        let mut e = Extent::new();
        values.iter().for_each(|&v| e.add(v));
        e
    }

    #[test]
    fn linear_ticks_are_round_and_inside() {
        assert_eq!(nice_ticks(0.0, 1.0, 6), vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        assert_eq!(
            format_ticks(&nice_ticks(0.0, 1.0, 6)),
            ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]
        );
        assert_eq!(
            format_ticks(&nice_ticks(-3.0, 7.5, 6)),
            ["−2", "0", "2", "4", "6"]
        );
        assert_eq!(
            format_ticks(&nice_ticks(0.0, 10.0, 5)),
            ["0.0", "2.5", "5.0", "7.5", "10.0"]
        );
        let t = nice_ticks(0.013, 0.0171, 5);
        assert!(t.len() >= 2 && t.len() <= 5, "{t:?}");
        assert!(t.iter().all(|v| (0.013..=0.0171).contains(v)));
    }

    #[test]
    fn large_and_small_values_use_powers_of_ten() {
        assert_eq!(format_ticks(&[0.0, 2e-6, 4e-6]), ["0", "2×10⁻⁶", "4×10⁻⁶"]);
        assert_eq!(format_ticks(&[1e6, 1.5e6]), ["1.0×10⁶", "1.5×10⁶"]);
    }

    #[test]
    fn log_axes_label_decades() {
        let s = Scale::new(true, extent(&[-6.0, -1.0]), 0.0, 0.0).unwrap();
        assert_eq!(
            labels(&s.ticks(10)),
            ["10⁻⁶", "10⁻⁵", "10⁻⁴", "10⁻³", "10⁻²", "10⁻¹"]
        );
        let s = Scale::new(true, extent(&[-2.0, 3.0]), 0.0, 0.0).unwrap();
        assert_eq!(
            labels(&s.ticks(10)),
            ["0.01", "0.1", "1", "10", "100", "1000"]
        );
        // Two decades or less: 1-2-5 ticks.
        let s = Scale::new(true, extent(&[0.0, 1.0]), 0.0, 0.0).unwrap();
        assert_eq!(labels(&s.ticks(10)), ["1", "2", "5", "10"]);
        let s = Scale::new(true, extent(&[1.2, 3.6]), 0.0, 0.0).unwrap();
        assert_eq!(
            labels(&s.ticks(10)),
            ["20", "50", "100", "200", "500", "1000", "2000"]
        );
        assert_eq!(labels(&s.ticks(6)), ["30", "100", "300", "1000", "3000"]);
        let s = Scale::new(true, extent(&[0.05, 0.95]), 0.0, 0.0).unwrap();
        assert_eq!(labels(&s.ticks(10)), ["2", "5"]);
        // Less than a factor of 2.5: linear round values.
        let s = Scale::new(true, extent(&[0.1, 0.3]), 0.0, 0.0).unwrap();
        assert!(s.ticks(6).major.len() >= 2);
    }

    #[test]
    fn degenerate_ranges_are_widened() {
        let s = Scale::new(false, extent(&[3.0, 3.0]), 0.05, 0.05).unwrap();
        assert_eq!(s.range(), (2.7, 3.3));
        let s = Scale::new(false, extent(&[0.0]), 0.05, 0.05).unwrap();
        assert_eq!(s.range(), (-1.0, 1.0));
        let s = Scale::new(true, extent(&[2.0]), 0.05, 0.05).unwrap();
        assert_eq!(s.range(), (1.5, 2.5));
        assert!(Scale::new(false, Extent::new(), 0.0, 0.0).is_none());
    }

    #[test]
    fn undrawable_values() {
        assert_eq!(drawn(false, f64::NAN), None);
        assert_eq!(drawn(false, f64::INFINITY), None);
        assert_eq!(drawn(false, 1e301), None);
        assert_eq!(drawn(true, 0.0), None);
        assert_eq!(drawn(true, -1.0), None);
        assert_eq!(drawn(true, 100.0), Some(2.0));
    }
}
