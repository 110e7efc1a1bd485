//! What every section of the resolver shares: the context that locates values, the resolved
//! configuration being filled in, and the checks that name the value responsible.

use crate::config::circuit::ResolvedConfig;
use crate::config::echo::shorten;
use crate::config::error::{ConfigError, Origin};
use crate::config::raw::{Count, Real, Si};
use crate::config::schema;
use crate::config::source::Context;
use crate::config::units::{format_number, format_quantity};
use serde_json::{json, Value};
use std::ops::Range;
use toml::Spanned;

pub(super) type Result<T> = std::result::Result<T, ConfigError>;

/// One resolved key: its name, its value for reports, and the span it came from (`None`:
/// derived from other keys).
pub(super) type Entry<'k> = (&'k str, Value, Option<Range<usize>>);

pub(super) struct Resolver<'c, 'a> {
    pub ctx: &'c Context<'a>,
    pub config: ResolvedConfig,
}

impl<'c, 'a> Resolver<'c, 'a> {
    pub fn new(ctx: &'c Context<'a>) -> Self {
        Resolver {
            ctx,
            config: ResolvedConfig::default(),
        }
    }

    /// Records the resolved `section.key` and where its value came from.
    pub fn put(&mut self, section: &str, key: &str, value: Value, span: Option<&Range<usize>>) {
        let origin = span.map_or("derived".to_string(), |s| self.ctx.origin_label(s));
        self.config
            .values
            .entry(section.to_string())
            .or_default()
            .insert(key.to_string(), value);
        self.config
            .origins
            .insert(format!("{section}.{key}"), origin);
    }

    /// Records every entry of `section`.
    pub fn put_all(&mut self, section: &str, entries: Vec<Entry<'_>>) {
        for (k, v, span) in entries {
            self.put(section, k, v, span.as_ref());
        }
    }

    pub fn err(&self, span: &Range<usize>, message: impl Into<String>) -> ConfigError {
        self.ctx.invalid(span, message)
    }

    pub fn ensure(
        &self,
        ok: bool,
        span: &Range<usize>,
        message: impl FnOnce() -> String,
    ) -> Result<()> {
        if ok {
            Ok(())
        } else {
            Err(self.err(span, message()))
        }
    }

    /// Of two values in a relation, the one to blame: the one the user wrote (an override
    /// before the file, the change being the more recent), else the preset's; the first on a
    /// tie.
    pub fn blame<'s>(&self, a: &'s Range<usize>, b: &'s Range<usize>) -> &'s Range<usize> {
        self.blame_of(&[a, b])
    }

    /// Of several values that together break a rule, the one to blame, as [`Self::blame`].
    pub fn blame_of<'s>(&self, spans: &[&'s Range<usize>]) -> &'s Range<usize> {
        let rank = |s: &Range<usize>| match self.ctx.sources.origin(s) {
            Origin::Override(_) => 0,
            Origin::File(_) => 1,
            Origin::Preset(_) => 2,
            Origin::Default { .. } => 3,
        };
        spans
            .iter()
            .copied()
            .min_by_key(|s| rank(s))
            .expect("a rule involves at least one value")
    }

    /// Requires a relation between the values at `a` and `b`: the error points at the one to
    /// [`blame`](Self::blame) and says where the other is set.
    pub fn ensure_relation(
        &self,
        ok: bool,
        a: &Range<usize>,
        b: &Range<usize>,
        message: impl FnOnce() -> String,
    ) -> Result<()> {
        let blamed = self.blame(a, b);
        let other = if std::ptr::eq(blamed, a) { b } else { a };
        self.ensure(ok, blamed, || {
            format!("{}; {}", message(), self.cite(other))
        })
    }

    /// Where the value at `span` is set, for a message about another: "dynamics.t_max is set
    /// at circuits/tiny.toml:35:9", or "... is its default".
    pub fn cite(&self, span: &Range<usize>) -> String {
        let key = shorten(&self.ctx.key_at(span)).into_owned();
        match self.ctx.sources.origin(span) {
            Origin::Default { .. } => format!("{key} is its default"),
            _ => format!("{key} is set at {}", self.ctx.sources.locate(span)),
        }
    }

    /// A value as the user would write it: quantities with their unit.
    pub fn show(&self, x: f64, span: &Range<usize>) -> String {
        let key = self.ctx.key_at(span);
        let key = key.split('[').next().unwrap_or_default();
        let dim = key
            .split_once('.')
            .and_then(|(section, name)| schema::lookup(section, name))
            .and_then(|(k, _)| k.dimension());
        match dim {
            Some(d) => format_quantity(x, d),
            None => format_number(x),
        }
    }

    pub fn positive(&self, v: &Spanned<impl Copy + Into<f64>>, what: &str) -> Result<f64> {
        let x: f64 = (*v.get_ref()).into();
        self.ensure(x.is_finite() && x > 0.0, &v.span(), || {
            format!(
                "{what} must be finite and positive, found {}",
                self.show(x, &v.span())
            )
        })?;
        Ok(x)
    }

    pub fn non_negative(&self, v: &Spanned<impl Copy + Into<f64>>, what: &str) -> Result<f64> {
        let x: f64 = (*v.get_ref()).into();
        self.ensure(x.is_finite() && x >= 0.0, &v.span(), || {
            format!(
                "{what} must be finite and not negative, found {}",
                self.show(x, &v.span())
            )
        })?;
        Ok(x)
    }

    pub fn fraction(&self, v: &Spanned<Real>, what: &str) -> Result<f64> {
        let x = v.get_ref().0;
        self.ensure((0.0..=1.0).contains(&x), &v.span(), || {
            format!("{what} is a fraction in [0, 1], found {}", format_number(x))
        })?;
        Ok(x)
    }

    pub fn at_least(&self, v: &Spanned<Count>, min: u64, what: &str) -> Result<u64> {
        let x = v.get_ref().0;
        self.ensure(x >= min, &v.span(), || {
            format!("{what} must be at least {min}, found {x}")
        })?;
        Ok(x)
    }

    /// A user-written value that the selected mode ignores is an error, not a silent no-op —
    /// unless it is the key's default, which changes nothing in any mode.
    pub fn unused_unless(
        &self,
        span: &Range<usize>,
        value: &[f64],
        active: bool,
        why: &str,
    ) -> Result<()> {
        let key = self.ctx.key_at(span);
        let at_default = key
            .split_once('.')
            .and_then(|(section, name)| schema::lookup(section, name))
            .and_then(|(k, _)| k.default_numbers())
            .is_some_and(|d| d == value);
        self.ensure(
            active || at_default || !self.ctx.user_given(span),
            span,
            || format!("has no effect unless {why}"),
        )
    }
}

impl From<Si> for f64 {
    fn from(s: Si) -> f64 {
        s.0
    }
}

impl From<Real> for f64 {
    fn from(r: Real) -> f64 {
        r.0
    }
}

pub(super) fn usize_of(x: u64) -> usize {
    usize::try_from(x).unwrap_or(usize::MAX)
}

/// A number for the resolved configuration; infinities as the file format writes them.
pub(super) fn finite_json(x: f64) -> Value {
    if x.is_finite() {
        json!(x)
    } else {
        // JSON has no infinity; the file format writes it `inf`.
        json!(if x > 0.0 { "inf" } else { "-inf" })
    }
}

/// The span of a value, for an [`Entry`].
pub(super) fn sp<T>(v: &Spanned<T>) -> Option<Range<usize>> {
    Some(v.span())
}

/// The span of an optional value, for an [`Entry`] (`None`: derived).
pub(super) fn opt_sp<T>(v: &Option<Spanned<T>>) -> Option<Range<usize>> {
    v.as_ref().map(Spanned::span)
}
