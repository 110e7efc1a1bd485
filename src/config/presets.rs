//! Device presets shipped inside the binary (`circuits/devices/*.toml`, embedded with
//! `include_str!` so that a fresh install has them). A preset file holds `[device]` keys at its
//! top level; every number in it cites its source in a comment.

/// One shipped preset.
#[derive(Clone, Copy, Debug)]
pub struct Preset {
    pub name: &'static str,
    /// Where the file lives in the repository (used in error locations).
    pub path: &'static str,
    pub text: &'static str,
}

macro_rules! preset {
    ($name:literal) => {
        Preset {
            name: $name,
            path: concat!("circuits/devices/", $name, ".toml"),
            text: include_str!(concat!("../../circuits/devices/", $name, ".toml")),
        }
    };
}

/// Every shipped preset, the ideal device first.
pub static PRESETS: &[Preset] = &[
    preset!("ideal"),
    preset!("rram_hfo2"),
    preset!("pcm"),
    preset!("pcm_hermes"),
    preset!("ecram"),
];

/// The shipped preset called `name`.
pub fn find(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

/// The names of the shipped presets.
pub fn names() -> Vec<&'static str> {
    PRESETS.iter().map(|p| p.name).collect()
}

/// Whether a `preset` value names a file rather than a shipped preset.
pub fn is_path(name: &str) -> bool {
    name.ends_with(".toml") || name.contains('/') || name.contains('\\')
}
