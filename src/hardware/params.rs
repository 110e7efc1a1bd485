//! Hardware parameters in SI units, as the circuit description resolves them: what a device
//! preset, a crossbar tile and the periphery are. The config stage fills these; the mapping and
//! the dynamics read them. Every field is in the unit its name says.

/// Boltzmann's constant (J/K), exact since the 2019 SI redefinition.
pub const BOLTZMANN: f64 = 1.380_649e-23;

/// Whether and how the periphery compensates drift.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DriftCompensation {
    /// The arrays are read as they are.
    #[default]
    None,
    /// One gain per array, calibrated at read time against a reference read after programming.
    Global,
}

impl DriftCompensation {
    /// The names a design file and `--drift-compensation` take, in the order of the variants.
    pub const NAMES: &'static [&'static str] = &["none", "global"];

    pub fn name(self) -> &'static str {
        match self {
            DriftCompensation::None => "none",
            DriftCompensation::Global => "global",
        }
    }

    pub fn from_name(s: &str) -> Option<Self> {
        [DriftCompensation::None, DriftCompensation::Global]
            .into_iter()
            .find(|c| c.name() == s)
    }
}

/// How far a programmed conductance lands from its target (device-to-device, fixed per device).
#[derive(Clone, Debug, PartialEq)]
pub enum ProgrammingError {
    /// No programming error.
    None,
    /// sigma = fraction x g_max.
    Constant { fraction_of_g_max: f64 },
    /// sigma = sum_k c_k g^k (in siemens), with g = G / g_ref, of any order (aihwkit's PCM fit
    /// is the quadratic c = (0.26348, 1.9650, -1.1731) uS with g_ref = 25 uS, its ReRAM fit a
    /// quartic).
    Polynomial {
        coefficients_siemens: Vec<f64>,
        g_ref_siemens: f64,
    },
}

/// How the drift exponent of a device is drawn: nu = |N(mean(g), std(g))| (folded at zero, as
/// aihwkit does), g = G_target / g_max.
#[derive(Clone, Debug, PartialEq)]
pub enum NuFit {
    /// The same mean and spread at every conductance.
    Constant { mean: f64, std: f64 },
    /// IBM aihwkit's `PCMLikeNoiseModel` fit (Nandakumar et al., ICECS 2019).
    AihwkitPcm,
    /// IBM aihwkit's `HermesNoiseModel` fit for one device per cell (Le Gallo et al., Nature
    /// Electronics 2023).
    AihwkitHermes,
}

/// Conductance drift G(t) = G ((t + t0) / t0)^-nu with t the time since programming (aihwkit's
/// clock: its `t_inference` counts from the end of programming, the drift law from t0 before).
#[derive(Clone, Debug, PartialEq)]
pub struct Drift {
    pub nu: NuFit,
    pub t0_seconds: f64,
    /// The time after programming at which the array is read.
    pub t_read_seconds: f64,
}

/// The 1/f noise a device accumulates from programming to a read, as a fixed relative error per
/// read: sigma = Q_s(g) sqrt(ln((t + t_r) / (2 t_r))), t on the drift clock (IBM aihwkit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flicker {
    None,
    /// `PCMLikeNoiseModel`: Q_s = min(0.0088 / max(g^0.65, 1e-3), 0.2), t_r = 250 ns.
    AihwkitPcm,
    /// `HermesNoiseModel`, one device: a log branch below g = 0.1591, a cubic above; t_r = 512 ns.
    AihwkitHermes,
}

/// Read noise of a device, as densities of the device itself (independent of the periphery).
#[derive(Clone, Debug, PartialEq)]
pub struct ReadNoise {
    /// Include the thermal current noise sqrt(4 k T G df).
    pub thermal: bool,
    /// Relative white current-noise density w (1/sqrt(Hz)): S_I = w^2 I^2.
    pub white_per_root_hertz: f64,
    /// The 1/f noise accumulated since programming (needs a drift clock).
    pub flicker: Flicker,
    pub temperature_kelvin: f64,
}

/// One kind of resistive device.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceParams {
    pub name: String,
    pub g_min_siemens: f64,
    pub g_max_siemens: f64,
    /// Number of programmable states between g_min and g_max; `None`: continuous.
    pub levels: Option<u32>,
    pub programming: ProgrammingError,
    /// Relative device-to-device spread of the programming step (open-loop devices): a device
    /// lands at g_min + (G - g_min)(1 + s z), z ~ N(0, 1) fixed per device.
    pub step_dtod: f64,
    /// Devices in parallel per conductance, each programmed to G / n with its own errors.
    pub devices_per_weight: u32,
    pub stuck_off_fraction: f64,
    pub stuck_on_fraction: f64,
    pub drift: Option<Drift>,
    pub read_noise: ReadNoise,
}

/// Whether the backward product W^T e uses the forward devices or an array of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backward {
    /// The same devices, read in the transposed direction (bidirectional periphery).
    Shared,
    /// A second array programmed with W^T, with its own device errors.
    Separate,
}

/// Crossbar tiles.
#[derive(Clone, Debug, PartialEq)]
pub struct CrossbarParams {
    pub rows: usize,
    pub cols: usize,
    pub v_read_volts: f64,
    /// Resistance of one wire segment between adjacent cells, on rows and columns.
    pub wire_resistance_ohms: f64,
    /// Capacitance to ground of one wire segment (one cell's length of line), rows and
    /// columns: the lines' RC delay.
    pub wire_capacitance_farads: f64,
    pub backward: Backward,
    /// The kind of cell, for the area.
    pub cell: super::technology::CellKind,
}

/// A converter: bits and full-scale range (symmetric, +-range).
#[derive(Clone, Debug, PartialEq)]
pub struct Converter {
    /// `None`: ideal (no quantisation).
    pub bits: Option<u32>,
    pub range: f64,
    pub energy_joules: f64,
}

/// Amplifiers, converters and their imperfections.
#[derive(Clone, Debug, PartialEq)]
pub struct PeripheryParams {
    /// The technology node of the periphery table.
    pub technology: super::technology::TechnologyNode,
    /// Bias power of every amplifier when the design states it; `None`: from the node's
    /// gm/I_D model ([`super::technology::AmplifierBias::from_needs`]).
    pub amplifier_power_watts: Option<f64>,
    pub error_amp_bandwidth_hertz: f64,
    /// Standard deviation of the fixed input offset of each amplifier.
    pub offset_sigma_volts: f64,
    /// Output rails: node voltages are clipped to +-rail.
    pub rail_volts: Option<f64>,
    /// Open-loop gain; `None`: ideal.
    pub finite_gain: Option<f64>,
    /// Capacitance C_z of a value node (the integrator): kT/C noise and charging energy.
    pub node_capacitance_farads: f64,
    /// Supply voltage V_dd, for the charge drawn by the node capacitors.
    pub supply_volts: f64,
    /// Whether the integrators add their kT/C noise to the value nodes.
    pub ktc_noise: bool,
    /// White input voltage noise density of every amplifier.
    pub amplifier_noise_volts_per_root_hertz: f64,
    /// The amplifiers' 1/f corner: their input noise density is e_n^2 (1 + f_c / f);
    /// `None`: white only.
    pub amplifier_noise_corner_hertz: Option<f64>,
    /// Whether every TIA adds the thermal noise 4 k T / R_f of its feedback resistor.
    pub feedback_noise: bool,
    /// Gain-bandwidth product of every amplifier (hertz): each is a single-pole op-amp;
    /// `None`: the amplifiers respond instantly.
    pub gain_bandwidth_hertz: Option<f64>,
    /// Energy of one digital multiply-accumulate, for the digital reference.
    pub digital_mac_energy_joules: f64,
    /// Whether each array's gain is calibrated against drift at read time.
    pub drift_compensation: DriftCompensation,
    pub dac: Converter,
    pub adc: Converter,
    /// Power of an ADC that integrates over the input window, when the design states one: its
    /// conversion costs this power over `dac_time_seconds` (already in `adc.energy_joules`)
    /// and holds its counter ([`super::technology::integrating_adc_joules`]).
    pub adc_power_watts: Option<f64>,
    /// Time of one DAC conversion, and of one ADC conversion with its readout (seconds).
    pub dac_time_seconds: f64,
    pub adc_time_seconds: f64,
    /// Clock of the converters' registers ([`super::digital`]).
    pub clock_hertz: f64,
    /// Energy of a register bit clocked once when the design states it; `None`: the node's
    /// ([`super::digital::register_bit_joules`]).
    pub register_energy_joules: Option<f64>,
    /// Whether each layer's error ADCs get a full scale of their own (a programmable gain).
    pub error_ranging: bool,
    /// The settling band at the readout, in LSBs of the converter.
    pub readout_band_lsb: f64,
}
