//! The periphery table: per technology node, what a converter costs (energy per conversion,
//! area), the supply the periphery runs from, and how an amplifier's bias power follows from the
//! bandwidth and noise it must reach; with the cell area of each kind of crossbar cell. Every
//! number is cited where it is defined (docs/circuit-model.md, "Supply-side energy" and "Area").
//!
//! # Sources
//! - ADCs: B. Murmann, "ADC Performance Survey 1997-2025", github.com/bmurmann/ADC-survey
//!   (ISSCC and VLSI sheets). For each node one SAR converter of 7-10 effective bits, whose
//!   high-frequency Walden figure of merit FOM_W = P / (2^ENOB f_s), area and supply are copied
//!   from its survey row. The energy of one conversion of b bits is FOM_W 2^b (the nominal bits
//!   stand in for the ENOB, which errs on the expensive side).
//!   The time of one conversion is one period of the survey converter's sample rate.
//! - DACs: ISAAC (Shafiee et al., ISCA 2016, Table 6): 8 x 128 one-bit DACs draw 4 mW at
//!   1.28 GS/s and take 0.00017 mm^2 at 32 nm, i.e. 3.05 fJ and 0.166 um^2 per one-bit
//!   conversion. A b-bit capacitive DAC switches 2^(b-1) times the unit (Saberi et al., IEEE TCAS-I
//!   58 (2011), the switching energy of a binary-weighted array); energy scales with the feature
//!   size F (capacitance per unit ~ F) and area with F^2 from ISAAC's 32 nm. A conversion takes
//!   one period of ISAAC's 1.28 GS/s, whatever the node.
//! - Amplifiers (gm/I_D design, Jespers and Murmann, "Systematic Design of Analog CMOS Circuits",
//!   Cambridge University Press 2017, ch. 2-3): an amplifier of transconductance g_m biased in
//!   moderate inversion at g_m / I_D = 15 S/A draws 2 I_D through its differential input pair,
//!   P = V_dd 2 g_m / (g_m/I_D). The g_m it needs: the integrator's tau_z = C_z / g_m; any other
//!   amplifier of bandwidth f_c into a load C_z, g_m = 2 pi f_c C_z; an input noise density e_n,
//!   g_m >= 4 k T gamma / e_n^2 (gamma = 1 for short channels).
//! - Integrating ADCs (a design's `periphery.adc_power`): a converter that integrates its
//!   column's current while the inputs are applied, as HERMES's current-controlled oscillators
//!   do ("the CCO-based ADCs are activated and continuously integrate the time-varying current
//!   while the modulator is active", Khaddam-Aljameh et al., IEEE JSSC 57(4), 2022, Sec. IV-A),
//!   draws its power (read regulator, oscillator and counter) over that window: one conversion
//!   costs P t_window, with t_window the input pulse window (`dac_time`).
//! - Cells: NeuroSim (Chen et al., IEEE TCAD 37 (2018); DNN+NeuroSim V1.3 Param.cpp): a 1T1R
//!   cell is 4 F x 12 F = 48 F^2, a selector-less cross-point cell 2 F x 2 F = 4 F^2.

use std::f64::consts::PI;

/// Boltzmann's constant (J/K), exact in the 2019 SI.
const BOLTZMANN: f64 = 1.380_649e-23;

/// A converter as a published design measured it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SurveyAdc {
    /// Walden figure of merit at high input frequency, joules per conversion step.
    pub walden_fom_joules: f64,
    pub area_square_meters: f64,
    /// Sample rate at which the survey measured it (one conversion per period).
    pub sample_rate_hertz: f64,
    /// Where the figures come from: the survey sheet, year, paper and first author.
    pub source: &'static str,
}

/// One technology node of the periphery table.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TechnologyNode {
    pub name: &'static str,
    /// Feature size F (meters).
    pub feature_meters: f64,
    /// Supply of the periphery: the survey converter's (volts).
    pub supply_volts: f64,
    pub adc: SurveyAdc,
}

/// The nodes of the table, by name (`periphery.technology`).
pub const NODES: [TechnologyNode; 4] = [
    TechnologyNode {
        name: "14nm",
        feature_meters: 14e-9,
        // Survey, VLSI 2017 paper 21.1 (D. Luu, L. Kull et al., IBM): 14 nm SAR, 0.85 V,
        // SNDR 60.45 dB at 300 MS/s, FOM_W,hf 12.78 fJ/conv-step, 0.006 mm^2.
        supply_volts: 0.85,
        adc: SurveyAdc {
            walden_fom_joules: 12.78e-15,
            area_square_meters: 0.006e-6,
            sample_rate_hertz: 300e6,
            source: "Murmann ADC survey, VLSI 2017 21.1 (Luu et al., 14 nm SAR)",
        },
    },
    TechnologyNode {
        name: "28nm",
        feature_meters: 28e-9,
        // Survey, VLSI 2020 paper CD1.3 (D.-R. Oh et al.): 28 nm SAR-flash, 1.1 V, SNDR 45.47 dB
        // at 1 GS/s, FOM_W,hf 16.64 fJ/conv-step, 0.002 mm^2.
        supply_volts: 1.1,
        adc: SurveyAdc {
            walden_fom_joules: 16.64e-15,
            area_square_meters: 0.002e-6,
            sample_rate_hertz: 1e9,
            source: "Murmann ADC survey, VLSI 2020 CD1.3 (Oh et al., 28 nm SAR)",
        },
    },
    TechnologyNode {
        name: "40nm",
        feature_meters: 40e-9,
        // Survey, VLSI 2013 paper 21.4 (K. Yoshioka, A. Shikata et al.): 40 nm SAR, 0.7 V,
        // SNDR 44.2 dB at 24.6 MS/s, FOM_W,hf 16.77 fJ/conv-step, 0.0058 mm^2.
        supply_volts: 0.7,
        adc: SurveyAdc {
            walden_fom_joules: 16.77e-15,
            area_square_meters: 0.0058e-6,
            sample_rate_hertz: 24.6e6,
            source: "Murmann ADC survey, VLSI 2013 21.4 (Yoshioka et al., 40 nm SAR)",
        },
    },
    TechnologyNode {
        name: "65nm",
        feature_meters: 65e-9,
        // Survey, VLSI 2012 paper 11.2 (C.-H. Chan et al.): 65 nm SAR, 1.0 V, SNDR 42.75 dB at
        // 1 GS/s, FOM_W,hf 33.89 fJ/conv-step, 0.013 mm^2.
        supply_volts: 1.0,
        adc: SurveyAdc {
            walden_fom_joules: 33.89e-15,
            area_square_meters: 0.013e-6,
            sample_rate_hertz: 1e9,
            source: "Murmann ADC survey, VLSI 2012 11.2 (Chan et al., 65 nm SAR)",
        },
    },
];

/// The node names, for the schema.
pub const NODE_NAMES: &[&str] = &["14nm", "28nm", "40nm", "65nm"];

/// ISAAC's one-bit DAC at 32 nm: 4 mW / (8 x 128 DACs x 1.28 GS/s) per conversion.
const ISAAC_DAC_JOULES: f64 = 4e-3 / (8.0 * 128.0 * 1.28e9);
/// ISAAC's one-bit DAC area at 32 nm: 0.00017 mm^2 / (8 x 128).
const ISAAC_DAC_SQUARE_METERS: f64 = 0.00017e-6 / (8.0 * 128.0);
const ISAAC_FEATURE_METERS: f64 = 32e-9;
/// ISAAC's DAC rate (Table 6: 1.28 GS/s).
const ISAAC_DAC_HERTZ: f64 = 1.28e9;
/// Bits of a converter treated as ideal (no quantisation) when it is priced.
pub const NOMINAL_BITS: u32 = 8;
/// Moderate inversion (Jespers and Murmann 2017, ch. 2).
pub const GM_OVER_ID: f64 = 15.0;
/// Excess noise factor of a short-channel transistor.
const GAMMA: f64 = 1.0;

/// Kinds of amplifier, in the order of [`AmplifierBias::watts`].
pub const AMPLIFIER_KINDS: [&str; 4] = ["tia", "error_amplifier", "integrator", "activation"];

impl TechnologyNode {
    /// The node called `name`.
    pub fn named(name: &str) -> Option<TechnologyNode> {
        NODES.iter().find(|n| n.name == name).copied()
    }

    /// Energy of one conversion of a `bits`-bit ADC: FOM_W 2^bits.
    pub fn adc_energy_joules(&self, bits: Option<u32>) -> f64 {
        self.adc.walden_fom_joules * 2f64.powi(bits.unwrap_or(NOMINAL_BITS) as i32)
    }

    /// Area of one ADC (the survey converter's; a converter of other bits is not rescaled).
    pub fn adc_area_square_meters(&self) -> f64 {
        self.adc.area_square_meters
    }

    /// Time of one ADC conversion: one period of the survey converter's sample rate.
    pub fn adc_time_seconds(&self) -> f64 {
        1.0 / self.adc.sample_rate_hertz
    }

    /// Time of one DAC conversion: one period of ISAAC's 1.28 GS/s.
    pub fn dac_time_seconds(&self) -> f64 {
        1.0 / ISAAC_DAC_HERTZ
    }

    /// Energy of one conversion of a `bits`-bit DAC: ISAAC's unit x 2^(bits-1), x F / 32 nm.
    pub fn dac_energy_joules(&self, bits: Option<u32>) -> f64 {
        let b = bits.unwrap_or(NOMINAL_BITS) as i32;
        ISAAC_DAC_JOULES * 2f64.powi(b - 1) * self.feature_meters / ISAAC_FEATURE_METERS
    }

    /// Area of one `bits`-bit DAC: ISAAC's unit x 2^(bits-1), x (F / 32 nm)^2.
    pub fn dac_area_square_meters(&self, bits: Option<u32>) -> f64 {
        let b = bits.unwrap_or(NOMINAL_BITS) as i32;
        let s = self.feature_meters / ISAAC_FEATURE_METERS;
        ISAAC_DAC_SQUARE_METERS * 2f64.powi(b - 1) * s * s
    }
}

/// Energy of one conversion of an ADC that draws `power_watts` while it integrates over a
/// window of `window_seconds` (the input pulse window): P t_window.
pub fn integrating_adc_joules(power_watts: f64, window_seconds: f64) -> f64 {
    power_watts * window_seconds
}

/// What sets each amplifier's transconductance.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AmplifierNeeds {
    pub supply_volts: f64,
    /// The load every amplifier drives (the node capacitance C_z).
    pub load_farads: f64,
    /// Bandwidth of the TIAs, error amplifiers and activation circuits.
    pub bandwidth_hertz: f64,
    pub tau_z_seconds: f64,
    /// Input noise density e_n (0: no noise requirement).
    pub noise_volts_per_root_hertz: f64,
    pub temperature_kelvin: f64,
}

/// Bias power of one amplifier of each kind (watts), in the order of [`AMPLIFIER_KINDS`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AmplifierBias {
    pub watts: [f64; 4],
}

impl AmplifierBias {
    /// The same power for every kind (a design that states it).
    pub fn uniform(watts: f64) -> Self {
        AmplifierBias { watts: [watts; 4] }
    }

    /// P = V_dd 2 g_m / (g_m / I_D), g_m the largest of what bandwidth and noise ask.
    pub fn from_needs(n: &AmplifierNeeds) -> Self {
        let g_noise = if n.noise_volts_per_root_hertz > 0.0 {
            4.0 * BOLTZMANN * n.temperature_kelvin * GAMMA / n.noise_volts_per_root_hertz.powi(2)
        } else {
            0.0
        };
        let g_band = 2.0 * PI * n.bandwidth_hertz * n.load_farads;
        let g_int = n.load_farads / n.tau_z_seconds;
        let power = |g: f64| n.supply_volts * 2.0 * g.max(g_noise) / GM_OVER_ID;
        AmplifierBias {
            watts: [power(g_band), power(g_band), power(g_int), power(g_band)],
        }
    }
}

/// A kind of crossbar cell.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CellKind {
    pub name: &'static str,
    /// Cell area in units of F^2.
    pub area_f2: f64,
}

/// The cells of the table (`crossbar.cell`): NeuroSim's 1T1R (4 F x 12 F) and cross-point
/// (2 F x 2 F) cells.
pub const CELLS: [CellKind; 2] = [
    CellKind {
        name: "1t1r",
        area_f2: 48.0,
    },
    CellKind {
        name: "crosspoint",
        area_f2: 4.0,
    },
];

/// The cell names, for the schema.
pub const CELL_NAMES: &[&str] = &["1t1r", "crosspoint"];

impl CellKind {
    pub fn named(name: &str) -> Option<CellKind> {
        CELLS.iter().find(|c| c.name == name).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table reads back the survey rows: energy per conversion FOM_W 2^bits.
    #[test]
    fn survey_figures_read_back() {
        let n = TechnologyNode::named("14nm").unwrap();
        assert_eq!(n.adc.walden_fom_joules, 12.78e-15);
        assert!((n.adc_energy_joules(Some(8)) - 12.78e-15 * 256.0).abs() < 1e-27);
        assert_eq!(n.adc_energy_joules(None), n.adc_energy_joules(Some(8)));
        let n = TechnologyNode::named("40nm").unwrap();
        assert_eq!((n.supply_volts, n.adc.area_square_meters), (0.7, 0.0058e-6));
        assert!(TechnologyNode::named("7nm").is_none());
        for (node, name) in NODES.iter().zip(NODE_NAMES) {
            assert_eq!(node.name, *name);
        }
        for (cell, name) in CELLS.iter().zip(CELL_NAMES) {
            assert_eq!(cell.name, *name);
        }
    }

    /// ISAAC's DAC: 4 mW over 1024 DACs at 1.28 GS/s is 3.05 fJ per one-bit conversion, and
    /// 0.166 um^2 each, at 32 nm; an 8-bit DAC at 32 nm is 128 of them.
    #[test]
    fn dac_is_isaac_scaled() {
        let at32 = TechnologyNode {
            feature_meters: 32e-9,
            ..NODES[0]
        };
        assert!((at32.dac_energy_joules(Some(1)) - 3.0518e-15).abs() < 1e-19);
        assert!((at32.dac_area_square_meters(Some(1)) - 0.16602e-12).abs() < 1e-17);
        let r = at32.dac_energy_joules(Some(8)) / at32.dac_energy_joules(Some(1));
        assert!((r - 128.0).abs() < 1e-9);
    }

    /// The integrator's g_m is C_z / tau_z: 100 fF / 100 ns = 1 uS, I = 2 g_m / 15 = 133 nA,
    /// P = 1 V x 133 nA; a 50 MHz amplifier into 100 fF needs 2 pi 50 MHz 100 fF = 31.4 uS.
    #[test]
    fn amplifier_power_follows_gm_over_id() {
        let needs = AmplifierNeeds {
            supply_volts: 1.0,
            load_farads: 100e-15,
            bandwidth_hertz: 50e6,
            tau_z_seconds: 100e-9,
            noise_volts_per_root_hertz: 0.0,
            temperature_kelvin: 300.0,
        };
        let p = AmplifierBias::from_needs(&needs).watts;
        assert!((p[2] - 2.0 * 1e-6 / 15.0).abs() < 1e-18);
        let g = 2.0 * PI * 50e6 * 100e-15;
        assert!((p[1] - 2.0 * g / 15.0).abs() < 1e-18);
        // A noise floor of 10 nV/rtHz asks 4 kT / e_n^2 = 166 uS at 300 K.
        let quiet = AmplifierBias::from_needs(&AmplifierNeeds {
            noise_volts_per_root_hertz: 10e-9,
            ..needs
        });
        let g_n = 4.0 * BOLTZMANN * 300.0 / 1e-16;
        assert!((quiet.watts[2] - 2.0 * g_n / 15.0).abs() < 1e-15);
    }
}
