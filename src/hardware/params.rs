//! Hardware parameters in SI units, as the circuit description resolves them: what a device
//! preset, a crossbar tile and the periphery are. The config stage fills these; the mapping and
//! the dynamics read them. Every field is in the unit its name says.

/// How far a programmed conductance lands from its target (device-to-device, fixed per device).
#[derive(Clone, Debug, PartialEq)]
pub enum ProgrammingError {
    /// No programming error.
    None,
    /// sigma = fraction x g_max.
    Constant { fraction_of_g_max: f64 },
    /// sigma = c0 + c1 g + c2 g^2 (in siemens), with g = G / g_ref (aihwkit's PCM fit uses
    /// c = (0.26348, 1.9650, -1.1731) uS and g_ref = 25 uS).
    Polynomial {
        coefficients_siemens: [f64; 3],
        g_ref_siemens: f64,
    },
}

/// Conductance drift G(t) = G (t / t0)^-nu, nu ~ N(nu_mean, nu_std) per device.
#[derive(Clone, Debug, PartialEq)]
pub struct Drift {
    pub nu_mean: f64,
    pub nu_std: f64,
    pub t0_seconds: f64,
    /// The time after programming at which the array is read.
    pub t_read_seconds: f64,
}

/// Read noise in time (used by the dynamics): thermal 4kTG per device and a relative term.
#[derive(Clone, Debug, PartialEq)]
pub struct ReadNoise {
    /// Include the thermal current noise sqrt(4 k T G df).
    pub thermal: bool,
    /// Relative current-noise amplitude per device (fraction of the device current).
    pub relative: f64,
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
    /// Energy of one digital multiply-accumulate, for the digital reference.
    pub digital_mac_energy_joules: f64,
    pub dac: Converter,
    pub adc: Converter,
}
