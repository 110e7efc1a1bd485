//! A circuit file as a spanned TOML document, and its canonical form.
//!
//! Every piece of text that contributes a value — the design file, each `--set` override, the
//! device preset, each schema default — is registered in one `Sources` map (see
//! `config::source`). Canonicalisation then checks keys against the schema (suggesting the
//! nearest), resolves the two spellings of quantities (`g_max = "25uS"` or
//! `g_max_siemens = 2.5e-5`) into SI values, merges the preset under the design, fills literal
//! defaults, and deserialises the result with serde (`deny_unknown_fields`).

use super::echo::{shorten, shorten_path};
use super::error::{ConfigError, ErrorKind, Origin};
use super::options::LoadOptions;
use super::presets;
use super::raw::RawDesign;
use super::schema::{self, Key, Kind, Spelling};
use super::source::{read_text, resolve_path, Context, Sources};
use super::units::{likely_meaning, parse_expecting};
use serde::Deserialize;
use std::borrow::Cow;
use std::ops::Range;
use std::path::PathBuf;
use toml::de::{DeArray, DeTable, DeValue};
use toml::Spanned;

/// A parsed circuit file, with any `--set` overrides applied, not yet resolved.
pub struct Document<'a> {
    ctx: Context<'a>,
    root: DeTable<'a>,
    root_span: Range<usize>,
}

impl<'a> Document<'a> {
    /// Parses the TOML text of a design; `file` names it in errors.
    pub fn parse(file: &str, text: &'a str) -> Result<Self, ConfigError> {
        let sources = Sources::new(file, text);
        let parsed = DeTable::parse(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            ConfigError {
                location: sources.locate(&span),
                key: syntax_key(text, span.start),
                kind: Box::new(ErrorKind::Syntax {
                    message: e.message().trim().to_string(),
                }),
            }
        })?;
        let root_span = parsed.span();
        let mut root = parsed.into_inner();
        // `device = "name"` is short for `[device] preset = "name"`.
        if let Some((k, v)) = root.remove_entry("device") {
            let v = match v.get_ref() {
                DeValue::String(_) => {
                    let span = v.span();
                    let mut t = DeTable::new();
                    t.insert(Spanned::new(k.span(), Cow::Borrowed("preset")), v);
                    Spanned::new(span, DeValue::Table(t))
                }
                _ => v,
            };
            root.insert(k, v);
        }
        Ok(Document {
            ctx: Context::new(sources),
            root,
            root_span,
        })
    }

    /// Where relative paths of the design (preset files, data files) are resolved from.
    pub fn set_base_dir(&mut self, dir: Option<PathBuf>) {
        self.ctx.base_dir = dir;
    }

    /// Applies one `--set section.key=value` override (see [`apply_override`]).
    pub fn apply_override(&mut self, spec: &'a str) -> Result<(), ConfigError> {
        let base = self
            .ctx
            .sources
            .add(Origin::Override(spec.to_string()), Cow::Borrowed(spec));
        let at = |r: &Range<usize>| r.start + base..r.end + base;
        let located = |(span, key, kind): OverrideError| ConfigError {
            location: self.ctx.sources.locate(&at(&span)),
            key,
            kind,
        };
        let o = parse_override(spec).map_err(located)?;
        let value = override_value(spec, &o, base).map_err(located)?;
        let section_span = at(&o.path);
        let entry = self
            .root
            .entry(Spanned::new(section_span.clone(), Cow::Borrowed(o.section)))
            .or_insert_with(|| Spanned::new(section_span, DeValue::Table(DeTable::new())));
        let entry_span = entry.span();
        let DeValue::Table(table) = entry.get_mut() else {
            return Err(ConfigError {
                location: self.ctx.sources.locate(&entry_span),
                key: o.section.to_string(),
                kind: Box::new(ErrorKind::NotATable {
                    section: o.section.to_string(),
                    found: "a value".to_string(),
                }),
            });
        };
        // An override replaces the key in whichever spelling the file used.
        table.remove(o.key.name);
        if let Some(si) = o.key.si_name() {
            table.remove(si.as_str());
        }
        table.insert(
            Spanned::new(at(&o.key_span), Cow::Borrowed(o.written)),
            value,
        );
        Ok(())
    }

    /// The name of the design file, for the resolved circuit.
    pub fn file_name(&self) -> String {
        self.ctx.sources.file_name()
    }

    /// Checks, merges and deserialises the document: the design's sections checked against
    /// the schema, the device preset under them, literal defaults under both. Returns the
    /// typed image and the context that locates its spans.
    pub(crate) fn canonicalise(
        self,
        opts: &LoadOptions,
    ) -> Result<(RawDesign, Context<'a>), ConfigError> {
        let Document {
            mut ctx,
            root,
            root_span,
        } = self;
        let sections = design_sections(&mut ctx, root)?;
        let (origin, text) = preset_source(&ctx, &sections, opts)?;
        let preset = preset_table(&mut ctx, origin, &text)?;
        let root = assemble(&mut ctx, sections, &preset)?;
        let de = toml::de::Deserializer::from(Spanned::new(root_span, root));
        let raw = RawDesign::deserialize(de).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            ctx.error(
                &span,
                ErrorKind::Type {
                    message: e.message().trim().to_string(),
                },
            )
        })?;
        Ok((raw, ctx))
    }
}

/// One section of the design as written: its name, the span of its header, its checked keys.
type Section<'a> = (String, Range<usize>, DeTable<'a>);

/// The design's own sections, checked and converted, in file order so that the first error
/// reported is the first in the file.
fn design_sections<'a>(
    ctx: &mut Context<'_>,
    root: DeTable<'a>,
) -> Result<Vec<Section<'a>>, ConfigError> {
    let mut entries: Vec<_> = root.into_iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    let mut sections = Vec::new();
    for (k, v) in entries {
        let name = k.get_ref().to_string();
        let kspan = k.span();
        if !schema::is_section(&name) {
            // A misspelt section, or a key written at the top level.
            let kind = match schema::nearest(&name, schema::SECTIONS.iter().map(|s| s.0)) {
                Some(s) => ErrorKind::UnknownSection {
                    name: name.clone(),
                    suggestion: Some(s.to_string()),
                },
                None => ErrorKind::UnknownKey {
                    suggestion: other_section_of(&name),
                    name: name.clone(),
                    section: String::new(),
                },
            };
            return Err(ConfigError {
                location: ctx.sources.locate(&kspan),
                key: name,
                kind: Box::new(kind),
            });
        }
        let vspan = v.span();
        ctx.note(kspan.clone(), name.clone());
        ctx.note(vspan.clone(), name.clone());
        let table = match v.into_inner() {
            DeValue::Table(t) => t,
            other => {
                return Err(ConfigError {
                    location: ctx.sources.locate(&vspan),
                    key: name.clone(),
                    kind: Box::new(ErrorKind::NotATable {
                        section: name,
                        found: describe(&other).to_string(),
                    }),
                })
            }
        };
        let table = normalise_table(ctx, &name, table, TableKind::Design)?;
        sections.push((name, kspan, table));
    }
    Ok(sections)
}

/// The text of the device preset the design names (`ideal` when it names none), and where it
/// comes from.
fn preset_source(
    ctx: &Context<'_>,
    sections: &[Section<'_>],
    opts: &LoadOptions,
) -> Result<(String, Cow<'static, str>), ConfigError> {
    let preset_value = sections
        .iter()
        .find(|(n, _, _)| n == "device")
        .and_then(|(_, _, t)| t.get("preset"))
        .map(|v| (v.span(), v.get_ref().as_str().map(str::to_string)));
    let (preset_name, preset_span) = match preset_value {
        None => ("ideal".to_string(), None),
        Some((span, Some(name))) => (name, Some(span)),
        Some((span, None)) => {
            return Err(ctx.error(
                &span,
                ErrorKind::WrongType {
                    expected: "a preset name (a string)".to_string(),
                    found: "another type",
                },
            ))
        }
    };
    load_preset(ctx, &preset_name, preset_span.as_ref(), opts)
}

/// A preset's tables, by section: its top-level [device] keys and its [update] table.
type PresetTables<'p> = Vec<(&'static str, DeTable<'p>)>;

/// The preset's keys, parsed from `text` (registered as coming from `origin`), checked and
/// converted as [device] keys, and its [update] table, if any, as [update] keys.
fn preset_table<'p>(
    ctx: &mut Context<'_>,
    origin: String,
    text: &'p str,
) -> Result<PresetTables<'p>, ConfigError> {
    let base = ctx
        .sources
        .add(Origin::Preset(origin), Cow::Owned(text.to_string()));
    let table = DeTable::parse(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        ConfigError {
            location: ctx.sources.locate(&(span.start + base..span.end + base)),
            key: syntax_key(text, span.start),
            kind: Box::new(ErrorKind::Syntax {
                message: e.message().trim().to_string(),
            }),
        }
    })?;
    let mut table = match shift(table.map_table(), base).into_inner() {
        DeValue::Table(t) => t,
        _ => DeTable::new(),
    };
    let update = match table.remove("update").map(Spanned::into_inner) {
        Some(DeValue::Table(t)) => normalise_table(ctx, "update", t, TableKind::Preset)?,
        _ => DeTable::new(),
    };
    let device = normalise_table(ctx, "device", table, TableKind::Preset)?;
    Ok(vec![("device", device), ("update", update)])
}

/// Every section of the schema present: the design's keys over the preset's (in [device] and
/// [update]) over the literal defaults.
fn assemble<'a>(
    ctx: &mut Context<'_>,
    mut sections: Vec<Section<'a>>,
    preset: &PresetTables<'a>,
) -> Result<DeTable<'a>, ConfigError> {
    let mut root: DeTable<'_> = DeTable::new();
    for (section, _) in schema::SECTIONS {
        let (span, mut table) = match sections.iter().position(|(n, _, _)| n == section) {
            Some(i) => {
                let (_, span, t) = sections.swap_remove(i);
                (span, t)
            }
            None => (0..0, DeTable::new()),
        };
        for (_, keys) in preset.iter().filter(|(s, _)| *s == section) {
            for (k, v) in keys.clone() {
                if !table.contains_key(k.get_ref().as_ref()) {
                    table.insert(k, v);
                }
            }
        }
        fill_defaults(ctx, section, &mut table)?;
        root.insert(
            Spanned::new(span.clone(), Cow::Borrowed(section)),
            Spanned::new(span, DeValue::Table(table)),
        );
    }
    Ok(root)
}

/// Adds the literal default of every key of `section` that `table` lacks, each registered as a
/// source of its own so that errors about it say "default".
fn fill_defaults(
    ctx: &mut Context<'_>,
    section: &str,
    table: &mut DeTable<'_>,
) -> Result<(), ConfigError> {
    let file = ctx.sources.file_name();
    for key in schema::section_keys(section) {
        let schema::DefaultValue::Value(literal) = key.default else {
            continue;
        };
        if table.contains_key(key.name) {
            continue;
        }
        let base = ctx.sources.add(
            Origin::Default { file: file.clone() },
            Cow::Borrowed(literal),
        );
        let value = DeValue::parse(literal).map_err(|e| {
            // A bad literal in the schema table is a bug; tests parse every one.
            ctx.invalid(&(base..base), format!("bad default {literal}: {e}"))
        })?;
        let value = shift(value, base);
        let vspan = value.span();
        ctx.note(vspan.clone(), key.path());
        let value = convert(ctx, key, Spelling::Plain, key.name, value)?;
        table.insert(Spanned::new(vspan, Cow::Borrowed(key.name)), value);
    }
    Ok(())
}

/// Applies one `--set section.key=value` override to a parsed document, before anything is
/// resolved: the key must exist (the nearest one is suggested otherwise), the value is TOML or
/// a bare string (`device.preset=pcm`, `dynamics.tau_z=100ns`), and it replaces the key in
/// either spelling. The value is then checked exactly as if the file held it, and errors name
/// the override: `<--set device.levels=1>:1:15: device.levels: ...`.
pub fn apply_override<'a>(doc: &mut Document<'a>, spec: &'a str) -> Result<(), ConfigError> {
    doc.apply_override(spec)
}

/// A `--set` override taken apart; spans are offsets in its text.
struct Override<'s> {
    section: &'s str,
    key: &'static Key,
    /// The key as it goes into the section (`preset` for `device=NAME`).
    written: &'s str,
    /// `section.key`, as written, and where.
    key_path: String,
    path: Range<usize>,
    key_span: Range<usize>,
}

/// What is wrong with an override: where in its text, the key it names, what.
type OverrideError = (Range<usize>, String, Box<ErrorKind>);

/// Splits `section.key=value` and finds the key in the schema.
fn parse_override(spec: &str) -> Result<Override<'_>, OverrideError> {
    let Some(eq) = spec.find('=') else {
        return Err((
            0..0,
            String::new(),
            Box::new(ErrorKind::Override {
                message: "expected section.key=value".to_string(),
            }),
        ));
    };
    let path_text = &spec[..eq];
    let path_start = path_text.len() - path_text.trim_start().len();
    let path = path_text.trim();
    let parts: Vec<&str> = path.split('.').map(str::trim).collect();
    let (section, key_name) = match parts.as_slice() {
        ["device"] => ("device", "preset"),
        [s, k] if !s.is_empty() && !k.is_empty() => (*s, *k),
        _ => {
            return Err((
                path_start..eq,
                path.to_string(),
                Box::new(ErrorKind::Override {
                    message: format!(
                        "expected section.key=value, found key path `{}`",
                        shorten(path)
                    ),
                }),
            ))
        }
    };
    let key_path = format!("{section}.{key_name}");
    if !schema::is_section(section) {
        return Err((
            path_start..eq,
            key_path,
            Box::new(ErrorKind::UnknownSection {
                name: section.to_string(),
                suggestion: schema::nearest(section, schema::SECTIONS.iter().map(|s| s.0))
                    .map(str::to_string),
            }),
        ));
    }
    let key_start = path_start + path.rfind('.').map_or(0, |i| i + 1);
    let Some((key, _)) = schema::lookup(section, key_name) else {
        let spellings = schema::spellings(section);
        return Err((
            key_start..eq,
            key_path,
            Box::new(ErrorKind::UnknownKey {
                name: key_name.to_string(),
                section: section.to_string(),
                suggestion: suggest_key(section, key_name, &spellings),
            }),
        ));
    };
    Ok(Override {
        section,
        key,
        key_path,
        written: if parts.len() == 1 { "preset" } else { key_name },
        path: path_start..eq,
        key_span: key_start..eq,
    })
}

/// The value of an override, its spans shifted by `base`: TOML when it parses as TOML, else a
/// bare string (`device.preset=pcm` and `dynamics.tau_z=100ns` need no quotes).
fn override_value<'s>(
    spec: &'s str,
    o: &Override<'_>,
    base: usize,
) -> Result<Spanned<DeValue<'s>>, OverrideError> {
    let eq = o.path.end;
    let key_path = o.key_path.clone();
    let raw = &spec[eq + 1..];
    let value_start = eq + 1 + (raw.len() - raw.trim_start().len());
    let value_text = raw.trim();
    let value_span = value_start..value_start + value_text.len();
    if value_text.is_empty() {
        return Err((
            value_span,
            key_path,
            Box::new(ErrorKind::Override {
                message: "missing value after `=`".to_string(),
            }),
        ));
    }
    match DeValue::parse(value_text) {
        Ok(v) => Ok(shift(v, base + value_start)),
        Err(e) if value_text.starts_with(['"', '\'', '[', '{']) => {
            let span = e.span().unwrap_or(0..0);
            Err((
                value_start + span.start..value_start + span.end,
                key_path,
                Box::new(ErrorKind::Syntax {
                    message: e.message().trim().to_string(),
                }),
            ))
        }
        Err(_) => Ok(Spanned::new(
            value_span.start + base..value_span.end + base,
            DeValue::String(Cow::Borrowed(value_text)),
        )),
    }
}

/// Helper: `Spanned<DeTable>` as a `Spanned<DeValue>`.
trait MapTable<'i> {
    fn map_table(self) -> Spanned<DeValue<'i>>;
}

impl<'i> MapTable<'i> for Spanned<DeTable<'i>> {
    fn map_table(self) -> Spanned<DeValue<'i>> {
        let span = self.span();
        Spanned::new(span, DeValue::Table(self.into_inner()))
    }
}

/// Moves every span of a value parsed from a separate text to that text's offset range.
fn shift(v: Spanned<DeValue<'_>>, by: usize) -> Spanned<DeValue<'_>> {
    let span = v.span();
    let value = match v.into_inner() {
        DeValue::Array(a) => DeValue::Array(a.into_iter().map(|e| shift(e, by)).collect()),
        DeValue::Table(t) => DeValue::Table(
            t.into_iter()
                .map(|(k, v)| {
                    let ks = k.span();
                    (
                        Spanned::new(ks.start + by..ks.end + by, k.into_inner()),
                        shift(v, by),
                    )
                })
                .collect(),
        ),
        other => other,
    };
    Spanned::new(span.start + by..span.end + by, value)
}

fn describe(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// The key a syntax error is in, from the text alone: the nearest `[section]` above the error
/// and the key on its line.
fn syntax_key(text: &str, offset: usize) -> String {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let line = text[line_start..line_end].trim();
    let header = |l: &str| {
        let l = l.trim();
        l.strip_prefix('[')
            .and_then(|r| r.split(']').next())
            .map(|s| s.trim_matches(['[', ' ']).trim().to_string())
    };
    if line.starts_with('[') {
        return header(line).unwrap_or_default();
    }
    let section = text[..line_start]
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('['))
        .and_then(header);
    let key = line
        .split_once('=')
        .map(|(k, _)| k.trim().trim_matches(['"', '\'']).to_string())
        .filter(|k| !k.is_empty() && !k.starts_with('#'));
    match (section, key) {
        (Some(s), Some(k)) if !s.is_empty() => format!("{s}.{k}"),
        (_, Some(k)) => k,
        (Some(s), None) => s,
        (None, None) => String::new(),
    }
}

/// "did you mean" for a key of `section`: the nearest spelling in the section, else the same
/// key in another section (`tau_z` written in [device] suggests `dynamics.tau_z`).
fn suggest_key(section: &str, written: &str, spellings: &[String]) -> Option<String> {
    schema::nearest(written, spellings.iter().map(String::as_str))
        .map(str::to_string)
        .or_else(|| {
            schema::KEYS
                .iter()
                .filter(|k| k.section != section)
                .find(|k| k.name == written || k.si_name().as_deref() == Some(written))
                .map(|k| format!("{}.{written}", k.section))
        })
}

/// For a key written at the top level: the section it belongs to (`levels` -> `device.levels`).
fn other_section_of(written: &str) -> Option<String> {
    schema::KEYS
        .iter()
        .find(|k| k.name == written || k.si_name().as_deref() == Some(written))
        .map(|k| format!("{}.{written}", k.section))
        .or_else(|| {
            let all: Vec<String> = schema::KEYS.iter().map(|k| k.path()).collect();
            schema::nearest(written, all.iter().map(String::as_str)).map(str::to_string)
        })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum TableKind {
    Design,
    Preset,
}

/// Checks every key of one section against the schema and converts quantities to SI values.
fn normalise_table<'i>(
    ctx: &mut Context<'_>,
    section: &str,
    table: DeTable<'i>,
    kind: TableKind,
) -> Result<DeTable<'i>, ConfigError> {
    let mut entries: Vec<_> = table.into_iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    let spellings = schema::spellings(section);
    let mut out = DeTable::new();
    let mut written_as: Vec<(&'static str, String)> = Vec::new();
    for (k, v) in entries {
        let written = k.get_ref().to_string();
        let kspan = k.span();
        let path = format!("{section}.{written}");
        let Some((key, spelling)) = schema::lookup(section, &written) else {
            let kind = if schema::is_section(&written) {
                ErrorKind::Invalid {
                    message: format!(
                        "`{written}` is a section, not a key of [{section}]: write `{written} = \
                         ...` above the first [section] header, or a [{written}] table"
                    ),
                }
            } else if kind == TableKind::Preset && written == "device" {
                ErrorKind::Invalid {
                    message: "a preset file holds device keys at its top level, without a \
                              [device] header"
                        .to_string(),
                }
            } else {
                ErrorKind::UnknownKey {
                    name: written.clone(),
                    section: section.to_string(),
                    suggestion: suggest_key(section, &written, &spellings),
                }
            };
            return Err(ConfigError {
                location: ctx.sources.locate(&kspan),
                key: path,
                kind: Box::new(kind),
            });
        };
        if kind == TableKind::Preset && key.name == "preset" {
            return Err(ConfigError {
                location: ctx.sources.locate(&kspan),
                key: path,
                kind: Box::new(ErrorKind::Invalid {
                    message: "a preset cannot name another preset".to_string(),
                }),
            });
        }
        if let Some((_, first)) = written_as.iter().find(|(n, _)| *n == key.name) {
            return Err(ConfigError {
                location: ctx.sources.locate(&kspan),
                key: path,
                kind: Box::new(ErrorKind::BothSpellings {
                    first: first.clone(),
                    second: written.clone(),
                }),
            });
        }
        written_as.push((key.name, written.clone()));
        ctx.note(kspan.clone(), path.clone());
        ctx.note(v.span(), path.clone());
        let value = convert(ctx, key, spelling, &written, v)?;
        out.insert(Spanned::new(kspan, Cow::Borrowed(key.name)), value);
    }
    Ok(out)
}

/// Converts one value to its canonical form: quantities to SI decimal strings, choices checked.
fn convert<'i>(
    ctx: &mut Context<'_>,
    key: &'static Key,
    spelling: Spelling,
    written: &str,
    v: Spanned<DeValue<'i>>,
) -> Result<Spanned<DeValue<'i>>, ConfigError> {
    let span = v.span();
    let wrong_type = |ctx: &Context<'_>, expected: String, v: &DeValue<'_>| {
        ctx.error(
            &span,
            ErrorKind::WrongType {
                expected,
                found: describe(v),
            },
        )
    };
    match key.kind {
        Kind::Quantity(_) | Kind::QuantityOrInf(_) => {
            let si = quantity(ctx, key, spelling, written, &v)?;
            Ok(Spanned::new(span, si_value(si)))
        }
        Kind::QuantityList(_) => match v.into_inner() {
            DeValue::Array(items) => quantity_list(ctx, key, spelling, written, items)
                .map(|a| Spanned::new(span, DeValue::Array(a))),
            _ => Err(ctx.error(
                &span,
                ErrorKind::WrongType {
                    expected: format!("an array of {}", quantity_words(key, spelling)),
                    found: "another type",
                },
            )),
        },
        Kind::IntegerList => match v.get_ref() {
            DeValue::Array(items) => {
                integer_list(ctx, &format!("{}.{written}", key.section), items)?;
                Ok(v)
            }
            other => Err(wrong_type(ctx, key.kind.describe(), other)),
        },
        Kind::Integer | Kind::Float | Kind::Bool | Kind::Text | Kind::Levels => {
            let ok = matches!(
                (key.kind, v.get_ref()),
                (Kind::Integer, DeValue::Integer(_))
                    | (Kind::Float, DeValue::Integer(_) | DeValue::Float(_))
                    | (Kind::Bool, DeValue::Boolean(_))
                    | (Kind::Text, DeValue::String(_))
                    | (Kind::Levels, DeValue::Integer(_) | DeValue::String(_))
            );
            if ok {
                Ok(v)
            } else {
                Err(wrong_type(ctx, key.kind.describe(), v.get_ref()))
            }
        }
        Kind::Choice(choices) => match v.get_ref() {
            DeValue::String(s) if choices.contains(&s.as_ref()) => Ok(v),
            DeValue::String(s) => Err(ctx.error(
                &span,
                match schema::inapplicable_choice(key.section, key.name, s) {
                    Some(why) => ErrorKind::Invalid {
                        message: why.to_string(),
                    },
                    None => ErrorKind::UnknownChoice {
                        value: s.to_string(),
                        choices: choices.iter().map(|c| c.to_string()).collect(),
                        suggestion: schema::nearest(s, choices.iter().copied()).map(str::to_string),
                    },
                },
            )),
            other => Err(wrong_type(
                ctx,
                format!("one of {}", choices.join(", ")),
                other,
            )),
        },
    }
}

/// Each element of a quantity list in SI units, each noted as `section.key[i]`.
fn quantity_list<'i>(
    ctx: &mut Context<'_>,
    key: &'static Key,
    spelling: Spelling,
    written: &str,
    items: DeArray<'i>,
) -> Result<DeArray<'i>, ConfigError> {
    let path = format!("{}.{written}", key.section);
    let mut out = DeArray::new();
    for (i, item) in items.into_iter().enumerate() {
        ctx.note(item.span(), format!("{path}[{i}]"));
        let si = quantity(ctx, key, spelling, written, &item)?;
        out.push(Spanned::new(item.span(), si_value(si)));
    }
    Ok(out)
}

/// Every element of an integer list is an integer; each noted as `path[i]`.
fn integer_list(ctx: &mut Context<'_>, path: &str, items: &DeArray<'_>) -> Result<(), ConfigError> {
    for (i, item) in items.iter().enumerate() {
        ctx.note(item.span(), format!("{path}[{i}]"));
        if !matches!(item.get_ref(), DeValue::Integer(_)) {
            return Err(ctx.error(
                &item.span(),
                ErrorKind::WrongType {
                    expected: Kind::Integer.describe(),
                    found: describe(item.get_ref()),
                },
            ));
        }
    }
    Ok(())
}

fn quantity_words(key: &Key, spelling: Spelling) -> String {
    let dim = key.dimension().expect("quantity key");
    match spelling {
        Spelling::Plain => format!("{} such as \"{}\"", dim.noun(), dim.example()),
        Spelling::Si => format!("plain numbers in {}", dim.si_name()),
    }
}

/// A quantity value in SI units, from either spelling.
fn quantity(
    ctx: &Context<'_>,
    key: &'static Key,
    spelling: Spelling,
    written: &str,
    v: &Spanned<DeValue<'_>>,
) -> Result<f64, ConfigError> {
    let span = v.span();
    let dim = key.dimension().expect("quantity key");
    let infinite_ok = matches!(key.kind, Kind::QuantityOrInf(_));
    let si_name = key.si_name().unwrap_or_default();
    let number = match v.get_ref() {
        DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
            .ok()
            .map(|n| n as f64),
        DeValue::Float(f) => f.as_str().parse::<f64>().ok(),
        _ => None,
    };
    match (spelling, v.get_ref(), number) {
        (Spelling::Plain, DeValue::String(s), _) => {
            parse_expecting(s, dim).map_err(|e| ctx.error(&span, ErrorKind::Unit(e)))
        }
        (_, _, Some(x)) if x.is_nan() => Err(ctx.invalid(&span, "nan is not a value")),
        (_, _, Some(x)) if x.is_infinite() && !(infinite_ok && x > 0.0) => {
            Err(ctx.invalid(&span, format!("must be finite, found {x}")))
        }
        // 0 and inf need no unit; any other bare number under the plain key does.
        (Spelling::Plain, _, Some(x)) if x == 0.0 || x.is_infinite() => Ok(x),
        (Spelling::Plain, _, Some(x)) => Err(ctx.error(
            &span,
            ErrorKind::BareNumber {
                name: written.to_string(),
                si_name,
                si_unit: dim.si_name(),
                dimension: dim,
                meant: likely_meaning(x, key.typical().unwrap_or(1.0)),
            },
        )),
        (Spelling::Si, _, Some(x)) => Ok(x),
        (Spelling::Si, DeValue::String(_), None) => Err(ctx.error(
            &span,
            ErrorKind::NotAPlainNumber {
                name: key.name.to_string(),
                si_name: written.to_string(),
                si_unit: dim.si_name(),
                example: dim.example(),
            },
        )),
        (_, other, _) => Err(ctx.error(
            &span,
            ErrorKind::WrongType {
                expected: quantity_words(key, spelling),
                found: describe(other),
            },
        )),
    }
}

/// The canonical form of an SI value: its shortest round-trip decimal, as a TOML string.
fn si_value<'i>(x: f64) -> DeValue<'i> {
    DeValue::String(Cow::Owned(format!("{x:?}")))
}

/// The text of a device preset: a shipped one by name, or a file.
fn load_preset(
    ctx: &Context<'_>,
    name: &str,
    span: Option<&Range<usize>>,
    opts: &LoadOptions,
) -> Result<(String, Cow<'static, str>), ConfigError> {
    let span = span.cloned().unwrap_or(0..0);
    if !presets::is_path(name) {
        return match presets::find(name) {
            Some(p) => Ok((p.path.to_string(), Cow::Borrowed(p.text))),
            None => {
                let available = presets::names();
                Err(ctx.error(
                    &span,
                    ErrorKind::UnknownPreset {
                        name: name.to_string(),
                        suggestion: schema::nearest(name, available.iter().copied())
                            .map(str::to_string),
                        available: available.iter().map(|s| s.to_string()).collect(),
                    },
                ))
            }
        };
    }
    let path = resolve_path(ctx.base_dir.as_deref(), name);
    let text = read_text(&path, opts).map_err(|message| {
        ctx.error(
            &span,
            ErrorKind::Io {
                message: format!(
                    "preset file {}: {message}",
                    shorten_path(&path.display().to_string())
                ),
            },
        )
    })?;
    Ok((path.display().to_string(), Cow::Owned(text)))
}

/// Decodes a design file, locating invalid UTF-8 by line and column.
pub(crate) fn decode_design(file: &str, bytes: Vec<u8>) -> Result<String, ConfigError> {
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let prefix = String::from_utf8_lossy(&e.as_bytes()[..valid]).into_owned();
        let sources = Sources::new(file, &prefix);
        ConfigError {
            location: sources.locate(&(valid..valid)),
            key: syntax_key(&prefix, valid),
            kind: Box::new(ErrorKind::Syntax {
                message: "the file is not UTF-8 text".to_string(),
            }),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_keys_come_from_the_text() {
        let text = "[network]\ninput = 64\n[device]\nlevels = 3.\n";
        let at = text.find("3.").unwrap();
        assert_eq!(syntax_key(text, at), "device.levels");
        assert_eq!(syntax_key("[device\nlevels = 1\n", 7), "device");
        assert_eq!(syntax_key("x = \n", 4), "x");
        assert_eq!(syntax_key("", 10), "");
        assert_eq!(syntax_key("[a]\nµ = é\n", 9), "a.µ");
    }
}
