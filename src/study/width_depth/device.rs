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

impl DeviceSetup {
    /// Resolves `spec` ([`config::load_device`]: a preset name, a preset file or a design file)
    /// and takes its `[device]`, `[crossbar]` and `[periphery]` (DAC and ADC); a design's
    /// network is ignored.
    pub fn load(spec: &str) -> Result<Self, ConfigError> {
        let circuit = config::load_device(spec, &LoadOptions::default())?;
        Ok(DeviceSetup {
            name: spec.to_string(),
            device: circuit.device,
            crossbar: circuit.crossbar,
            dac: circuit.periphery.dac,
            adc: circuit.periphery.adc,
        })
    }
}
