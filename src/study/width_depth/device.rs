//! The device a study maps its networks onto (`--device`).

use super::*;

/// The device a study maps its networks onto, with the converters around it.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceSetup {
    /// What `--device` named (a preset, a preset file or a design file).
    pub name: String,
    pub device: DeviceParams,
    pub crossbar: CrossbarParams,
    /// Converts the inputs.
    pub dac: Converter,
    /// Reads every value the update is formed from.
    pub adc: Converter,
}

/// Top-level tables that make a TOML file a whole design rather than a device preset.
pub(super) const DESIGN_SECTIONS: [&str; 7] = [
    "network",
    "device",
    "crossbar",
    "periphery",
    "dynamics",
    "data",
    "run",
];

impl DeviceSetup {
    /// Resolves `spec`: a shipped preset name (`rram_hfo2`), a preset file (device keys at the
    /// top level), or a whole design file, whose `[device]`, `[crossbar]` and `[periphery]`
    /// (DAC and ADC) are taken and whose network is ignored. A preset alone gets the default
    /// tiles and ideal converters. Errors are the config loader's, with file, line and key.
    pub fn load(spec: &str) -> Result<Self, ConfigError> {
        let opts = LoadOptions::default();
        let path = Path::new(spec);
        let is_design = presets::find(spec).is_none()
            && path.is_file()
            && std::fs::read_to_string(path)
                .ok()
                .and_then(|t| t.parse::<toml::Table>().ok())
                .is_some_and(|t| {
                    DESIGN_SECTIONS
                        .iter()
                        .any(|s| t.get(*s).is_some_and(toml::Value::is_table))
                });
        let circuit = if is_design {
            config::load(path, &[] as &[&str], &opts)?
        } else {
            let text = format!("device = {}\n", toml::Value::String(spec.to_string()));
            config::load_str("--device", &text, &[] as &[&str], &opts)?
        };
        Ok(DeviceSetup {
            name: spec.to_string(),
            device: circuit.device,
            crossbar: circuit.crossbar,
            dac: circuit.periphery.dac,
            adc: circuit.periphery.adc,
        })
    }
}
