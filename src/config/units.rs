//! Physical quantities written as unit strings ("25uS", "1.5us", "0.2V", "10fF", "2pJ", "300K",
//! "50MHz", "20uW", "1kohm"), parsed strictly into SI values, and printed back the same way.
//!
//! Grammar: `[+-]digits[.digits][(e|E)[+-]digits][ ]prefix?symbol`, with at most one space before
//! the unit. Prefixes: f p n u µ μ m k M G. Symbols are case-sensitive: `s` is the second and `S`
//! the siemens, so "25uS" given for a time is rejected with both dimensions named. The value is
//! computed by one correctly rounded decimal conversion ("25uS" is exactly the f64 nearest to
//! 25e-6), not by multiplying by an inexact power of ten.

use super::echo::shorten;
use std::fmt;

/// The dimensions a circuit file uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dimension {
    Conductance,
    Resistance,
    Time,
    Voltage,
    Capacitance,
    Energy,
    Temperature,
    Frequency,
    Power,
    /// Voltage noise spectral density (V/√Hz).
    NoiseDensity,
}

/// (prefix, power of ten). Both micro signs are accepted: U+00B5 (the keyboard's µ) and U+03BC.
const PREFIXES: [(&str, i32); 10] = [
    ("f", -15),
    ("p", -12),
    ("n", -9),
    ("u", -6),
    ("\u{b5}", -6),
    ("\u{3bc}", -6),
    ("m", -3),
    ("k", 3),
    ("M", 6),
    ("G", 9),
];

pub use crate::numeric::format::engineering;

impl Dimension {
    pub const ALL: [Dimension; 10] = [
        Dimension::Conductance,
        Dimension::Resistance,
        Dimension::Time,
        Dimension::Voltage,
        Dimension::Capacitance,
        Dimension::Energy,
        Dimension::Temperature,
        Dimension::Frequency,
        Dimension::Power,
        Dimension::NoiseDensity,
    ];

    /// The unit symbol used when printing.
    pub fn symbol(self) -> &'static str {
        self.symbols()[0]
    }

    /// Every accepted spelling of the unit symbol (the first is the printed one).
    pub fn symbols(self) -> &'static [&'static str] {
        match self {
            Dimension::Conductance => &["S"],
            Dimension::Resistance => &["ohm", "\u{3a9}", "\u{2126}"],
            Dimension::Time => &["s"],
            Dimension::Voltage => &["V"],
            Dimension::Capacitance => &["F"],
            Dimension::Energy => &["J"],
            Dimension::Temperature => &["K"],
            Dimension::Frequency => &["Hz"],
            Dimension::Power => &["W"],
            Dimension::NoiseDensity => &["V/rtHz", "V/\u{221a}Hz", "V/sqrtHz"],
        }
    }

    /// The SI unit's name, used as the suffix of a key that takes a plain number
    /// (`g_max_siemens`, `tau_z_seconds`).
    pub fn si_name(self) -> &'static str {
        match self {
            Dimension::Conductance => "siemens",
            Dimension::Resistance => "ohms",
            Dimension::Time => "seconds",
            Dimension::Voltage => "volts",
            Dimension::Capacitance => "farads",
            Dimension::Energy => "joules",
            Dimension::Temperature => "kelvin",
            Dimension::Frequency => "hertz",
            Dimension::Power => "watts",
            Dimension::NoiseDensity => "volts_per_root_hertz",
        }
    }

    /// What a value of this dimension is called in messages.
    pub fn noun(self) -> &'static str {
        match self {
            Dimension::Conductance => "a conductance",
            Dimension::Resistance => "a resistance",
            Dimension::Time => "a time",
            Dimension::Voltage => "a voltage",
            Dimension::Capacitance => "a capacitance",
            Dimension::Energy => "an energy",
            Dimension::Temperature => "a temperature",
            Dimension::Frequency => "a frequency",
            Dimension::Power => "a power",
            Dimension::NoiseDensity => "a voltage noise density",
        }
    }

    /// A typical value, written as a unit string, for messages.
    pub fn example(self) -> &'static str {
        match self {
            Dimension::Conductance => "25uS",
            Dimension::Resistance => "1ohm",
            Dimension::Time => "100ns",
            Dimension::Voltage => "0.2V",
            Dimension::Capacitance => "100fF",
            Dimension::Energy => "80fJ",
            Dimension::Temperature => "300K",
            Dimension::Frequency => "50MHz",
            Dimension::Power => "20uW",
            Dimension::NoiseDensity => "10nV/rtHz",
        }
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.noun())
    }
}

/// A parsed quantity: an SI value and its dimension.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quantity {
    pub value: f64,
    pub dimension: Dimension,
}

/// Why a unit string was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum UnitError {
    #[error(
        "`{}` is not a quantity: expected a number and a unit, such as \"{example}\"",
        shorten(text)
    )]
    NotANumber { text: String, example: &'static str },
    #[error(
        "`{}` has no unit: write it with one, such as \"{example}\"",
        shorten(text)
    )]
    NoUnit { text: String, example: &'static str },
    #[error("unknown unit `{}` in `{}`{hint}", shorten(unit), shorten(text))]
    UnknownUnit {
        text: String,
        unit: String,
        /// Empty, or a hint starting with "; ".
        hint: String,
    },
    #[error(
        "`{}` is {} ({}), but this key takes {} ({}, e.g. \"{}\")",
        shorten(text), found.noun(), found.symbol(), expected.noun(), expected.symbol(), expected.example()
    )]
    WrongDimension {
        text: String,
        found: Dimension,
        expected: Dimension,
    },
    #[error("`{}` is out of the range of a 64-bit float", shorten(text))]
    OutOfRange { text: String },
}

/// Splits `text` into its number (as written) and the rest, or `None` without a leading number.
fn split_number(text: &str) -> Option<(&str, &str)> {
    let b = text.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let digits = |mut j: usize| {
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        j
    };
    let int_end = digits(i);
    if int_end == i {
        return None;
    }
    i = int_end;
    if i < b.len() && b[i] == b'.' {
        let frac_end = digits(i + 1);
        if frac_end == i + 1 {
            return None; // "5." or "5.us": a digit must follow the point
        }
        i = frac_end;
    }
    // An exponent only when digits follow: in "5e" the `e` is not one.
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        let exp_end = digits(j);
        if exp_end > j {
            i = exp_end;
        }
    }
    Some((&text[..i], &text[i..]))
}

/// The (prefix power, dimension) of every reading of `unit`.
fn readings(unit: &str) -> Vec<(i32, Dimension)> {
    let mut out = Vec::new();
    for dim in Dimension::ALL {
        for sym in dim.symbols() {
            if let Some(prefix) = unit.strip_suffix(sym) {
                if prefix.is_empty() {
                    out.push((0, dim));
                } else if let Some(&(_, p)) = PREFIXES.iter().find(|(s, _)| *s == prefix) {
                    out.push((p, dim));
                }
            }
        }
    }
    out
}

/// Every way of writing a unit of `dim` (prefixed and not), for case-insensitive hints.
fn spellings(dim: Dimension) -> Vec<String> {
    let mut out = Vec::new();
    for sym in dim.symbols() {
        out.push(sym.to_string());
        for (p, _) in PREFIXES {
            out.push(format!("{p}{sym}"));
        }
    }
    out
}

/// Parses a unit string into an SI value, whatever its dimension.
pub fn parse_quantity(text: &str) -> Result<Quantity, UnitError> {
    parse_inner(text, None)
}

/// Parses a unit string that must have dimension `expected`.
pub fn parse_expecting(text: &str, expected: Dimension) -> Result<f64, UnitError> {
    parse_inner(text, Some(expected)).map(|q| q.value)
}

fn parse_inner(text: &str, expected: Option<Dimension>) -> Result<Quantity, UnitError> {
    let example = expected.unwrap_or(Dimension::Conductance).example();
    let (number, rest) = split_number(text).ok_or_else(|| UnitError::NotANumber {
        text: text.to_string(),
        example,
    })?;
    let unit = rest.strip_prefix(' ').unwrap_or(rest);
    if unit.is_empty() {
        return Err(UnitError::NoUnit {
            text: text.to_string(),
            example,
        });
    }
    let found = readings(unit);
    let (power, dimension) = match (found.as_slice(), expected) {
        ([], _) => {
            // Units are case-sensitive; name the intended spelling when it is unique.
            let dims: Vec<Dimension> = expected.map_or(Dimension::ALL.to_vec(), |d| vec![d]);
            let candidates: Vec<String> = dims
                .into_iter()
                .flat_map(spellings)
                .filter(|s| s.eq_ignore_ascii_case(unit))
                .collect();
            let hint = match candidates.as_slice() {
                [one] => format!(
                    "; units are case-sensitive: did you mean `{}{one}`?",
                    shorten(number)
                ),
                [] => String::new(),
                many => format!(
                    "; units are case-sensitive: one of {}",
                    many.iter()
                        .map(|s| format!("`{s}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            return Err(UnitError::UnknownUnit {
                text: text.to_string(),
                unit: unit.to_string(),
                hint,
            });
        }
        (all, Some(want)) => match all.iter().find(|(_, d)| *d == want) {
            Some(&r) => r,
            None => {
                return Err(UnitError::WrongDimension {
                    text: text.to_string(),
                    found: all[0].1,
                    expected: want,
                })
            }
        },
        ([one], None) => *one,
        // No two readings exist for the units above; stay strict if one is ever added.
        (_, None) => {
            return Err(UnitError::UnknownUnit {
                text: text.to_string(),
                unit: unit.to_string(),
                hint: "; ambiguous unit".to_string(),
            })
        }
    };
    // Fold the prefix into the exponent so the decimal-to-binary conversion rounds once.
    let (mantissa, exponent) = match number.find(['e', 'E']) {
        Some(k) => (&number[..k], number[k + 1..].parse::<i64>().ok()),
        None => (number, Some(0)),
    };
    let out_of_range = || UnitError::OutOfRange {
        text: text.to_string(),
    };
    let exponent = exponent
        .and_then(|e| e.checked_add(i64::from(power)))
        .ok_or_else(out_of_range)?;
    let value: f64 = format!("{mantissa}e{exponent}")
        .parse()
        .map_err(|_| out_of_range())?;
    if !value.is_finite() {
        return Err(out_of_range());
    }
    Ok(Quantity { value, dimension })
}

/// Prints an SI value with an engineering prefix and five significant digits ("3.1831ns");
/// values beyond the prefixes (below 1f or from 1000G) in scientific notation ("1e-300s").
pub fn format_quantity(value: f64, dim: Dimension) -> String {
    format!("{}{}", format_prefixed(value), dim.symbol())
}

/// The smallest and the first too large magnitude printed with a prefix (femto to giga).
const PREFIXED_RANGE: std::ops::Range<f64> = 1e-15..1e12;

/// An SI value with an engineering prefix and no unit ("3.183n").
fn format_prefixed(value: f64) -> String {
    if value == 0.0 {
        return "0".to_string();
    }
    if !value.is_finite() {
        return format!("{value}");
    }
    if !PREFIXED_RANGE.contains(&value.abs()) {
        return format_scientific(value);
    }
    let (scaled, prefix) = engineering(value, -15, 9);
    let int_digits = scaled.abs().log10().floor().max(0.0) as usize;
    let s = format!("{:.*}", 4usize.saturating_sub(int_digits), scaled);
    format!("{}{prefix}", trim_zeros(&s))
}

/// Five significant digits in scientific notation, trailing zeros dropped ("1.5e-300").
fn format_scientific(value: f64) -> String {
    let s = format!("{value:.4e}");
    match s.split_once('e') {
        Some((mantissa, exponent)) => format!("{}e{exponent}", trim_zeros(mantissa)),
        None => s,
    }
}

/// The SI value a bare number most likely means: `x` with the prefix that brings it nearest
/// (in orders of magnitude) to `typical` (50 for a time near 100ns: 50ns, 5e-8).
pub fn likely_meaning(x: f64, typical: f64) -> f64 {
    let target = typical.abs().log10();
    let off = |p: i32| (x.abs().log10() + f64::from(p) - target).abs();
    let power = [-15, -12, -9, -6, -3, 0, 3, 6, 9]
        .into_iter()
        .min_by(|a, b| off(*a).total_cmp(&off(*b)))
        .unwrap_or(0);
    // Shift the decimal exponent, so that 50 with -9 is exactly 5e-8, not 50 * 1e-9.
    format!("{x:e}")
        .split_once('e')
        .and_then(|(m, e)| {
            format!("{m}e{}", e.parse::<i32>().ok()? + power)
                .parse()
                .ok()
        })
        .unwrap_or(x)
}

/// A plain number in its shortest form that reads back exactly ("0.25", "1e300"): beyond
/// 1e-4..1e15 in scientific notation, so that no value prints as hundreds of digits.
pub fn format_number(x: f64) -> String {
    if x == 0.0 || !x.is_finite() || (1e-4..1e15).contains(&x.abs()) {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

/// Trailing zeros of a decimal fraction dropped: 25.000 -> 25, 318.310 -> 318.31.
fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(text: &str) -> Quantity {
        parse_quantity(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn every_example_of_the_format_parses() {
        let cases = [
            ("25uS", 25e-6, Dimension::Conductance),
            ("1.5us", 1.5e-6, Dimension::Time),
            ("0.2V", 0.2, Dimension::Voltage),
            ("10fF", 10e-15, Dimension::Capacitance),
            ("2pJ", 2e-12, Dimension::Energy),
            ("300K", 300.0, Dimension::Temperature),
            ("50MHz", 50e6, Dimension::Frequency),
            ("20uW", 20e-6, Dimension::Power),
            ("10nV/rtHz", 10e-9, Dimension::NoiseDensity),
            ("3nV/\u{221a}Hz", 3e-9, Dimension::NoiseDensity),
            ("1ohm", 1.0, Dimension::Resistance),
            ("1kohm", 1e3, Dimension::Resistance),
            ("2.5GHz", 2.5e9, Dimension::Frequency),
            ("4.7 kΩ", 4.7e3, Dimension::Resistance),
            ("3 MΩ", 3e6, Dimension::Resistance),
            ("25µS", 25e-6, Dimension::Conductance),
            ("25μS", 25e-6, Dimension::Conductance),
            ("5mS", 5e-3, Dimension::Conductance),
            ("5ms", 5e-3, Dimension::Time),
            ("1e-7s", 1e-7, Dimension::Time),
            ("1.5e3ns", 1.5e-6, Dimension::Time),
            ("-1.1731uS", -1.1731e-6, Dimension::Conductance),
            ("+3V", 3.0, Dimension::Voltage),
            ("0s", 0.0, Dimension::Time),
            ("1E-3V", 1e-3, Dimension::Voltage),
        ];
        for (text, value, dim) in cases {
            let got = q(text);
            assert_eq!(got.dimension, dim, "{text}");
            assert_eq!(
                got.value, value,
                "{text}: the prefix must fold into one rounding"
            );
        }
    }

    #[test]
    fn prefixes_round_once() {
        // 25 * 1e-6 in floating point is not the f64 nearest to 25e-6; ours is.
        assert_eq!(q("25uS").value, "25e-6".parse::<f64>().unwrap());
        assert_eq!(q("0.26348uS").value, "0.26348e-6".parse::<f64>().unwrap());
        assert_eq!(q("3.3e2mV").value, 0.33);
    }

    #[test]
    fn the_wrong_dimension_names_both() {
        let e = parse_expecting("25uS", Dimension::Time).unwrap_err();
        assert_eq!(
            e,
            UnitError::WrongDimension {
                text: "25uS".into(),
                found: Dimension::Conductance,
                expected: Dimension::Time
            }
        );
        let msg = e.to_string();
        assert!(
            msg.contains("a conductance (S)") && msg.contains("a time (s"),
            "{msg}"
        );
        assert!(parse_expecting("25us", Dimension::Conductance).is_err());
        assert_eq!(parse_expecting("25us", Dimension::Time).unwrap(), 25e-6);
    }

    #[test]
    fn strictness() {
        for bad in [
            "",
            " ",
            "uS",
            "25",
            "25 ",
            "25  uS",
            "25uS ",
            " 25uS",
            "25.uS",
            ".5uS",
            "25_0uS",
            "25 u S",
            "25xS",
            "25uu S",
            "25US",
            "25usec",
            "25 seconds",
            "1e400V",
            "1e-400000000000000000000V",
            "nanV",
            "infV",
            "25u",
            "25e",
            "25eV",
            "1,5V",
            "0x10V",
            "25uS25",
            "--5V",
            "5kk ohm",
            "5Ohm",
            "5hz",
            "50mhz",
            "1T S",
        ] {
            assert!(parse_quantity(bad).is_err(), "`{bad}` must be rejected");
        }
        // "25eV" is not 25 electron-volts, and not an exponent without digits.
        assert!(matches!(
            parse_quantity("25eV"),
            Err(UnitError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_quantity("1e400V"),
            Err(UnitError::OutOfRange { .. })
        ));
    }

    #[test]
    fn case_hints_are_given_when_unique() {
        let msg = parse_expecting("5hz", Dimension::Frequency)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("did you mean `5Hz`"), "{msg}");
        let msg = parse_expecting("50mhz", Dimension::Frequency)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("`mHz`") && msg.contains("`MHz`"), "{msg}");
        let msg = parse_expecting("25US", Dimension::Conductance)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("did you mean `25uS`"), "{msg}");
    }

    #[test]
    fn printing_round_trips_to_five_digits() {
        assert_eq!(format_quantity(25e-6, Dimension::Conductance), "25uS");
        assert_eq!(
            format_quantity(1.0 / (2.0 * std::f64::consts::PI * 50e6), Dimension::Time),
            "3.1831ns"
        );
        assert_eq!(format_quantity(0.0, Dimension::Resistance), "0ohm");
        assert_eq!(format_quantity(300.0, Dimension::Temperature), "300K");
        assert_eq!(format_quantity(50e6, Dimension::Frequency), "50MHz");
        assert_eq!(
            format_quantity(-1.1731e-6, Dimension::Conductance),
            "-1.1731uS"
        );
        assert_eq!(format_quantity(f64::INFINITY, Dimension::Voltage), "infV");
        for v in [1e-15, 3.3e-13, 1.0, 999.0, 1e3, 2.5e9] {
            let s = format_quantity(v, Dimension::Voltage);
            let back = parse_quantity(&s).unwrap().value;
            assert!((back - v).abs() <= 1e-4 * v.abs(), "{v} -> {s} -> {back}");
        }
        assert_eq!(format_quantity(318.30988e-12, Dimension::Time), "318.31ps");
        assert_eq!(
            format_quantity(0.26348e-6, Dimension::Conductance),
            "263.48nS"
        );
        assert_eq!(format_quantity(0.0, Dimension::Time), "0s");
    }

    #[test]
    fn quantities_beyond_the_prefixes_print_in_scientific_notation() {
        let cases = [
            (1e-300, "1e-300s"),
            (-1e-300, "-1e-300s"),
            (1e300, "1e300s"),
            (1.5e-16, "1.5e-16s"),
            (1e12, "1e12s"),
            (2.3456789e15, "2.3457e15s"),
            (1e308, "1e308s"),
            (f64::MIN_POSITIVE, "2.2251e-308s"),
            (5e-324, "4.9407e-324s"),
            // The edges of the prefixed range keep their prefix.
            (1e-15, "1fs"),
            (999.99e9, "999.99Gs"),
        ];
        for (value, printed) in cases {
            let s = format_quantity(value, Dimension::Time);
            assert_eq!(s, printed, "{value:e}");
            // What is printed reads back as the value, to the five digits printed.
            let back = parse_expecting(&s, Dimension::Time).unwrap();
            assert!(
                (back - value).abs() <= 5e-5 * value.abs(),
                "{value:e} -> {s} -> {back:e}"
            );
        }
        for (value, printed) in [
            (1e300, "1e300"),
            (-2.5e-7, "-2.5e-7"),
            (0.25, "0.25"),
            (1e4, "10000"),
        ] {
            assert_eq!(format_number(value), printed);
            assert_eq!(printed.parse::<f64>(), Ok(value));
        }
        // A bare number is read with the prefix nearest to the key's typical magnitude.
        assert_eq!(likely_meaning(50.0, 100e-9), 5e-8);
        assert_eq!(likely_meaning(25.0, 25e-6), 25e-6);
        assert_eq!(likely_meaning(2.5e-5, 25e-6), 2.5e-5);
        assert_eq!(likely_meaning(300.0, 300.0), 300.0);
        assert_eq!(likely_meaning(-4.0, 1e9), -4e9);
        // The largest value rounds up past the range when printed to five digits.
        assert_eq!(format_quantity(f64::MAX, Dimension::Time), "1.7977e308s");
    }
}
