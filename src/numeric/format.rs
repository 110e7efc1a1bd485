//! Numbers as people read them: a value with an engineering prefix ("3.18 ns"). One table of
//! prefixes serves every printed quantity (the terminal summaries, the design's echo in
//! [`crate::config::units`]).

/// Engineering prefixes used when printing, one per power of a thousand.
const PRINT_PREFIXES: [(&str, i32); 11] = [
    ("a", -18),
    ("f", -15),
    ("p", -12),
    ("n", -9),
    ("u", -6),
    ("m", -3),
    ("", 0),
    ("k", 3),
    ("M", 6),
    ("G", 9),
    ("T", 12),
];

/// `value` as a mantissa and an engineering prefix ("u" for 1e-6), the exponent clamped to
/// `[min_exp, max_exp]` (multiples of 3 within atto to tera). Zero and non-finite values keep
/// no prefix.
pub fn engineering(value: f64, min_exp: i32, max_exp: i32) -> (f64, &'static str) {
    if value == 0.0 || !value.is_finite() {
        return (value, "");
    }
    let exp3 = ((value.abs().log10() / 3.0).floor() as i32 * 3).clamp(min_exp, max_exp);
    let (prefix, power) = PRINT_PREFIXES
        .iter()
        .find(|(_, p)| *p == exp3)
        .copied()
        .unwrap_or(("", 0));
    (value / 10f64.powi(power), prefix)
}

/// `v` with an engineering prefix and three significant digits ("3.18 ns").
pub fn si(v: f64, unit: &str) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v} {unit}");
    }
    let (scaled, prefix) = engineering(v, -18, 12);
    let decimals = 2usize.saturating_sub(scaled.abs().log10().floor().max(0.0) as usize);
    format!("{scaled:.decimals$} {prefix}{unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_significant_digits_with_a_prefix() {
        assert_eq!(si(3.1831e-9, "s"), "3.18 ns");
        assert_eq!(si(31.831e-9, "s"), "31.8 ns");
        assert_eq!(si(318.31e-9, "s"), "318 ns");
        assert_eq!(si(-1.5e3, "J"), "-1.50 kJ");
        assert_eq!(si(0.0, "J"), "0 J");
        // Beyond the table the exponent is clamped, not invented.
        assert_eq!(si(2e-21, "J"), "0.00 aJ");
        assert_eq!(engineering(2.5e15, -18, 12), (2500.0, "T"));
        assert_eq!(engineering(f64::INFINITY, -18, 12), (f64::INFINITY, ""));
    }
}
