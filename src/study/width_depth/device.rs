//! The device a study maps its networks onto (`--device`).

use super::*;
use crate::design::build::compensation;
use crate::hardware::drift_compensation::{Compensation, DriftCompensation};

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
    /// The drift compensation after every mapping (`--drift-compensation`, else the design's).
    pub compensation: Compensation,
}

impl DeviceSetup {
    /// Resolves `spec` ([`config::load_device`]: a preset name, a preset file or a design file)
    /// and takes its `[device]`, `[crossbar]` and `[periphery]` (DAC, ADC and drift
    /// compensation, its calibration reads noisy as the design's noise says); a design's
    /// network is ignored.
    pub fn load(spec: &str) -> Result<Self, ConfigError> {
        let circuit = config::load_device(spec, &LoadOptions::default())?;
        let compensation = compensation(&circuit);
        Ok(DeviceSetup {
            name: spec.to_string(),
            device: circuit.device,
            crossbar: circuit.crossbar,
            compensation,
            dac: circuit.periphery.dac,
            adc: circuit.periphery.adc,
        })
    }

    /// What the study's reports call this device: its name, and the drift compensation when
    /// there is one.
    pub fn label(&self) -> String {
        match self.compensation.mode {
            DriftCompensation::None => self.name.clone(),
            mode => format!("{} with {} drift compensation", self.name, mode.name()),
        }
    }
}
