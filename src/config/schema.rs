//! The one table of every key of a circuit file: its section, kind, default, unit and meaning.
//!
//! Everything else reads this table: the loader takes defaults from it (parsing the same TOML
//! literal the documentation prints), checks keys and spellings against it and suggests the
//! nearest key from it, and `apcsim schema` renders it. Docs and code therefore cannot drift; a
//! test also checks that the table and the serde structures accept exactly the same keys.

use super::units::Dimension;
use crate::hardware::drift_compensation::DriftCompensation;

/// What a key holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A physical quantity: `key = "25uS"` or `key_<si unit> = 2.5e-5`. A bare `0` needs no unit.
    Quantity(Dimension),
    /// As `Quantity`, and `inf` (a bare TOML float) means "no limit".
    QuantityOrInf(Dimension),
    /// An array of quantities, in either spelling.
    QuantityList(Dimension),
    Integer,
    IntegerList,
    Float,
    Bool,
    /// A string checked by the resolver (preset names, data sources).
    Text,
    /// One of a fixed set of strings.
    Choice(&'static [&'static str]),
    /// An integer >= 2 or the string "continuous".
    Levels,
}

impl Kind {
    /// What a value of this kind looks like, for messages and the reference.
    pub fn describe(self) -> String {
        match self {
            Kind::Quantity(d) | Kind::QuantityOrInf(d) => {
                format!("{} such as \"{}\"", d.noun(), d.example())
            }
            Kind::QuantityList(d) => format!("an array of quantities such as \"{}\"", d.example()),
            Kind::Integer => "a non-negative integer".to_string(),
            Kind::IntegerList => {
                "an array of non-negative integers, such as [128, 128]".to_string()
            }
            Kind::Float => "a number".to_string(),
            Kind::Bool => "true or false".to_string(),
            Kind::Text => "a string".to_string(),
            Kind::Choice(c) => format!("one of {}", c.join(", ")),
            Kind::Levels => "an integer >= 2 or \"continuous\"".to_string(),
        }
    }
}

/// Where a key's value comes from when the file does not give it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultValue {
    /// A TOML literal, parsed exactly as if the file held it.
    Value(&'static str),
    /// Computed from other keys; the text says how.
    Derived(&'static str),
}

/// One key of the format.
#[derive(Clone, Copy, Debug)]
pub struct Key {
    pub section: &'static str,
    /// The key as written with a unit string (or the only spelling of a unit-less key).
    pub name: &'static str,
    pub kind: Kind,
    pub default: DefaultValue,
    pub doc: &'static str,
}

impl Key {
    /// The dimension of a quantity key.
    pub fn dimension(&self) -> Option<Dimension> {
        match self.kind {
            Kind::Quantity(d) | Kind::QuantityOrInf(d) | Kind::QuantityList(d) => Some(d),
            _ => None,
        }
    }

    /// The spelling that takes a plain SI number (`g_max_siemens`), for quantity keys.
    pub fn si_name(&self) -> Option<String> {
        self.dimension()
            .map(|d| format!("{}_{}", self.name, d.si_name()))
    }

    /// `section.name`.
    pub fn path(&self) -> String {
        format!("{}.{}", self.section, self.name)
    }

    /// The numbers of a literal default (SI values for quantities), or `None` for derived
    /// defaults and non-numeric ones.
    pub fn default_numbers(&self) -> Option<Vec<f64>> {
        let DefaultValue::Value(literal) = self.default else {
            return None;
        };
        let table: toml::Table = toml::from_str(&format!("v = {literal}")).ok()?;
        let number = |v: &toml::Value| match (v, self.dimension()) {
            (toml::Value::Integer(i), _) => Some(*i as f64),
            (toml::Value::Float(f), _) => Some(*f),
            (toml::Value::String(s), Some(d)) => super::units::parse_expecting(s, d).ok(),
            _ => None,
        };
        match table.get("v")? {
            toml::Value::Array(items) => items.iter().map(number).collect(),
            v => number(v).map(|x| vec![x]),
        }
    }

    /// A typical magnitude of a quantity key, in SI units: its default when that is a finite
    /// non-zero value, else its dimension's example.
    pub fn typical(&self) -> Option<f64> {
        let dim = self.dimension()?;
        self.default_numbers()
            .and_then(|v| v.first().copied())
            .filter(|x| x.is_finite() && *x != 0.0)
            .or_else(|| super::units::parse_expecting(dim.example(), dim).ok())
    }
}

/// The sections, in file order, with what each describes.
pub const SECTIONS: [(&str, &str); 9] = [
    (
        "network",
        "The PC network mapped onto the crossbars (docs/design.md §1).",
    ),
    (
        "device",
        "The resistive device. `preset` names a device of circuits/devices/ (or a .toml file); \
         every other key overrides the preset. `device = \"name\"` at the top level is short for \
         `[device] preset = \"name\"`. Defaults are the `ideal` device.",
    ),
    (
        "crossbar",
        "Crossbar tiles: size, read voltage, wires, backward read.",
    ),
    (
        "periphery",
        "Amplifiers, integrators and converters around the arrays.",
    ),
    (
        "dynamics",
        "The circuit's dynamics: time constants and how they are integrated.",
    ),
    ("data", "Where the input batch and targets come from."),
    ("run", "Batch size and the seed of every random draw."),
    (
        "update",
        "How a weight update is written into the devices by programming pulses: the pulsed \
         update family with IBM aihwkit's meanings, its spreads and noise, and the scheme \
         (docs/circuit-model.md, Weight updates). A preset may hold an [update] table; the \
         design's keys override it. Defaults are the exact (ideal) update.",
    ),
    (
        "train",
        "`apcsim train`: the optdigits split, mini-batches, epochs and learning rate of on-chip \
         PC learning, run beside digital PC, digital BP and BP on the same devices.",
    ),
];

const ACTIVATIONS: &[&str] = &["linear", "tanh", "sigmoid", "relu", "hard_tanh", "silu"];
const PARAMETERISATIONS: &[&str] = &["sp", "mupc", "ntp"];
const LR_SCALINGS: &[&str] = &["none", "mupc"];
const PROGRAMMING: &[&str] = &["none", "constant", "polynomial"];
const NU_FITS: &[&str] = &["constant", "aihwkit_pcm", "aihwkit_hermes"];
const FLICKER_FITS: &[&str] = &["none", "aihwkit_pcm", "aihwkit_hermes"];
const BACKWARD: &[&str] = &["shared", "separate"];
const PRECISIONS: &[&str] = &["f64", "f32"];
/// `run.mode`: the names of [`crate::config::RunMode`].
pub const MODES: &[&str] = &["pc", "feedforward"];
const ERROR_RANGING: &[&str] = &["none", "per_layer"];
/// `train.inference`: the names of [`crate::config::TrainInference`].
const TRAIN_INFERENCE: &[&str] = &["equilibrium", "transient"];
pub const SOLVERS: &[&str] = &["euler", "heun", "rk4", "dopri5", "dop853", "exponential"];

/// Values that name something real but cannot serve a key, with why: (section, key, value,
/// reason). The loader gives the reason instead of "unknown value".
const INAPPLICABLE_CHOICES: &[(&str, &str, &str, &str)] = &[(
    "dynamics",
    "solver",
    "newton",
    "newton finds the network's equilibrium, not the circuit's transient that dynamics.solver \
     integrates in time (settling, energy and noise need the path); choose one of euler, heun, \
     rk4, dopri5, dop853, exponential. Newton-Krylov serves `apcsim reference --solver \
     newton`, and `check --gradient` and `study width-depth` use it already",
)];

/// Why `value` cannot serve `section.name`, when it names something that exists elsewhere.
pub fn inapplicable_choice(section: &str, name: &str, value: &str) -> Option<&'static str> {
    INAPPLICABLE_CHOICES
        .iter()
        .find(|c| (c.0, c.1, c.2) == (section, name, value))
        .map(|c| c.3)
}

use DefaultValue::{Derived, Value};
use Dimension as D;

/// Every key of the format, section by section.
pub static KEYS: &[Key] = &[
    // ---------------------------------------------------------------- [network]
    Key {
        section: "network",
        name: "input",
        kind: Kind::Integer,
        default: Derived(
            "from [data]: 64 for optdigits, the input width of W0 for hdf5; required for \
             teacher and gaussian",
        ),
        doc: "Input width D (value nodes clamped to the input x).",
    },
    Key {
        section: "network",
        name: "hidden",
        kind: Kind::IntegerList,
        default: Derived("`width` repeated `depth` - 1 times"),
        doc: "Hidden widths n_1..n_{L-1}; the network has len(hidden) + 1 weight layers. Give \
              either `hidden` or `width`/`depth`.",
    },
    Key {
        section: "network",
        name: "width",
        kind: Kind::Integer,
        default: Value("128"),
        doc: "Width N of every hidden layer, when `hidden` is not given.",
    },
    Key {
        section: "network",
        name: "depth",
        kind: Kind::Integer,
        default: Value("4"),
        doc: "Number of weight layers L (depth - 1 hidden layers), when `hidden` is not given.",
    },
    Key {
        section: "network",
        name: "output",
        kind: Kind::Integer,
        default: Derived(
            "from [data]: 10 for optdigits, the output width of the last W for hdf5; required \
             for teacher and gaussian",
        ),
        doc: "Output width O (value nodes clamped to the target while learning).",
    },
    Key {
        section: "network",
        name: "activation",
        kind: Kind::Choice(ACTIVATIONS),
        default: Value("\"tanh\""),
        doc: "Activation phi of the hidden value nodes (never applied to the input).",
    },
    Key {
        section: "network",
        name: "parameterisation",
        kind: Kind::Choice(PARAMETERISATIONS),
        default: Value("\"mupc\""),
        doc: "Scalings a_l and initialisation: sp (standard), mupc (muPC), ntp (neural tangent).",
    },
    Key {
        section: "network",
        name: "skips",
        kind: Kind::Bool,
        default: Value("false"),
        doc: "Residual connections on layers 2..L-1 (JPC's make_skip_model); they need equal \
              hidden widths.",
    },
    Key {
        section: "network",
        name: "gamma0",
        kind: Kind::Float,
        default: Value("1.0"),
        doc: "Output scaling gamma0: divides a_L in every parameterisation.",
    },
    Key {
        section: "network",
        name: "output_precision",
        kind: Kind::Float,
        default: Value("1.0"),
        doc: "lambda, the precision weighing the output error in the energy and the BP loss.",
    },
    // ---------------------------------------------------------------- [device]
    Key {
        section: "device",
        name: "preset",
        kind: Kind::Text,
        default: Value("\"ideal\""),
        doc: "Device preset: a name of circuits/devices/ (shipped inside apcsim) or a path to a \
              .toml preset file, relative to the design file.",
    },
    Key {
        section: "device",
        name: "g_min",
        kind: Kind::Quantity(D::Conductance),
        default: Value("\"0uS\""),
        doc: "Lowest programmable conductance (the bottom of the window).",
    },
    Key {
        section: "device",
        name: "g_max",
        kind: Kind::Quantity(D::Conductance),
        default: Value("\"25uS\""),
        doc: "Highest programmable conductance; the largest |W| of a layer maps onto \
              g_max - g_min.",
    },
    Key {
        section: "device",
        name: "levels",
        kind: Kind::Levels,
        default: Value("\"continuous\""),
        doc: "Programmable states between g_min and g_max (an integer >= 2), or \"continuous\".",
    },
    Key {
        section: "device",
        name: "programming",
        kind: Kind::Choice(PROGRAMMING),
        default: Value("\"none\""),
        doc: "Programming error model: none; constant (sigma = programming_fraction x g_max); \
              polynomial (sigma = sum_k c_k g^k with g = G / programming_g_ref).",
    },
    Key {
        section: "device",
        name: "programming_fraction",
        kind: Kind::Float,
        default: Value("0.0"),
        doc: "Programming-error sigma as a fraction of g_max (programming = \"constant\").",
    },
    Key {
        section: "device",
        name: "programming_coefficients",
        kind: Kind::QuantityList(D::Conductance),
        default: Value("[\"0.26348uS\", \"1.9650uS\", \"-1.1731uS\"]"),
        doc: "Coefficients c0, c1, ... of the sigma polynomial, any order (programming = \
              \"polynomial\"); the default is aihwkit's PCM fit.",
    },
    Key {
        section: "device",
        name: "programming_g_ref",
        kind: Kind::Quantity(D::Conductance),
        default: Value("\"25uS\""),
        doc: "Reference conductance of the sigma polynomial: g = G / programming_g_ref.",
    },
    Key {
        section: "device",
        name: "programming_step_dtod",
        kind: Kind::Float,
        default: Value("0.0"),
        doc: "Device-to-device spread of the programming step of an open-loop device: it lands at \
              g_min + (G - g_min)(1 + s z), z ~ N(0, 1) per device.",
    },
    Key {
        section: "device",
        name: "devices_per_weight",
        kind: Kind::Integer,
        default: Value("1"),
        doc: "Devices in parallel per conductance, each programmed to G / n with its own \
              errors, drift and noise; a read sums them.",
    },
    Key {
        section: "device",
        name: "stuck_off_fraction",
        kind: Kind::Float,
        default: Value("0.0"),
        doc: "Fraction of devices stuck at g_min.",
    },
    Key {
        section: "device",
        name: "stuck_on_fraction",
        kind: Kind::Float,
        default: Value("0.0"),
        doc: "Fraction of devices stuck at g_max.",
    },
    Key {
        section: "device",
        name: "drift",
        kind: Kind::Bool,
        default: Value("false"),
        doc: "Conductance drift G ((t + t0) / t0)^-nu, t the time since programming and \
              nu = |N(mean, std)| per device (drift_nu_fit), read at t = drift_t_read.",
    },
    Key {
        section: "device",
        name: "drift_nu_fit",
        kind: Kind::Choice(NU_FITS),
        default: Value("\"constant\""),
        doc: "Mean and spread of nu: constant (drift_nu_mean, drift_nu_std), or aihwkit's \
              conductance-dependent fits of PCMLikeNoiseModel or HermesNoiseModel (drift = true).",
    },
    Key {
        section: "device",
        name: "drift_nu_mean",
        kind: Kind::Float,
        default: Value("0.0"),
        doc: "Mean drift exponent nu (drift_nu_fit = \"constant\").",
    },
    Key {
        section: "device",
        name: "drift_nu_std",
        kind: Kind::Float,
        default: Value("0.0"),
        doc: "Device-to-device standard deviation of nu (drift_nu_fit = \"constant\").",
    },
    Key {
        section: "device",
        name: "drift_t0",
        kind: Kind::Quantity(D::Time),
        default: Value("\"20s\""),
        doc: "Reference time t0 of the drift law (drift = true).",
    },
    Key {
        section: "device",
        name: "drift_t_read",
        kind: Kind::Quantity(D::Time),
        default: Value("\"20s\""),
        doc: "Time after programming at which the array is read (drift = true); 0 reads \
              right after programming.",
    },
    Key {
        section: "device",
        name: "read_noise_thermal",
        kind: Kind::Bool,
        default: Value("false"),
        doc: "Thermal current noise sqrt(4 k T G df) of every device.",
    },
    Key {
        section: "device",
        name: "read_noise_white",
        kind: Kind::Float,
        default: Value("0.0"),
        doc: "Relative white current-noise density w of every device, in 1/sqrt(Hz): \
              S_I = w^2 I^2, whatever the amplifiers' bandwidth.",
    },
    Key {
        section: "device",
        name: "read_noise_flicker",
        kind: Kind::Choice(FLICKER_FITS),
        default: Value("\"none\""),
        doc: "The 1/f noise accumulated since programming, a fixed relative error per read \
              Q_s(g) sqrt(ln((t + t0 + t_r) / (2 t_r))): none, or aihwkit's fit of \
              PCMLikeNoiseModel or HermesNoiseModel (needs drift = true, its clock).",
    },
    Key {
        section: "device",
        name: "temperature",
        kind: Kind::Quantity(D::Temperature),
        default: Value("\"300K\""),
        doc: "Temperature of the thermal (4kTG) and integrator (kT/C) noise.",
    },
    // ---------------------------------------------------------------- [crossbar]
    Key {
        section: "crossbar",
        name: "rows",
        kind: Kind::Integer,
        default: Value("256"),
        doc: "Rows (inputs) of one tile; a larger layer is split over tiles.",
    },
    Key {
        section: "crossbar",
        name: "cols",
        kind: Kind::Integer,
        default: Value("256"),
        doc: "Columns (outputs) of one tile.",
    },
    Key {
        section: "crossbar",
        name: "v_read",
        kind: Kind::Quantity(D::Voltage),
        default: Value("\"0.2V\""),
        doc: "Row voltage for a node value of 1 (v_unit): rows are driven at v_read phi(z).",
    },
    Key {
        section: "crossbar",
        name: "wire_resistance",
        kind: Kind::Quantity(D::Resistance),
        default: Value("\"0ohm\""),
        doc: "Resistance of one wire segment between adjacent cells, rows and columns (IR drop); \
              0 = ideal wires.",
    },
    Key {
        section: "crossbar",
        name: "wire_capacitance",
        kind: Kind::Quantity(D::Capacitance),
        default: Value("\"0F\""),
        doc: "Capacitance to ground of one wire segment (a cell's length of line), rows and \
              columns: the driven lines' Elmore delay and the sensed lines' capacitance at the \
              TIAs' inputs, in each TIA's poles (with periphery.gain_bandwidth, a critically \
              damped pair and its feedback capacitor; docs/circuit-model.md, Line RC); \
              0 = none.",
    },
    Key {
        section: "crossbar",
        name: "backward",
        kind: Kind::Choice(BACKWARD),
        default: Value("\"shared\""),
        doc: "The W^T e read: shared (the same devices, read transposed) or separate (a second \
              array holding W^T, with its own device errors).",
    },
    Key {
        section: "crossbar",
        name: "cell",
        kind: Kind::Choice(crate::hardware::technology::CELL_NAMES),
        default: Value("\"1t1r\""),
        doc: "The kind of cell, for the area: 1t1r (48 F^2) or crosspoint (4 F^2), NeuroSim's \
              cells (Chen et al., IEEE TCAD 2018).",
    },
    // ---------------------------------------------------------------- [periphery]
    Key {
        section: "periphery",
        name: "technology",
        kind: Kind::Choice(crate::hardware::technology::NODE_NAMES),
        default: Value("\"28nm\""),
        doc: "Technology node of the periphery table (src/hardware/technology.rs): ADC and DAC \
              energy and area, the supply; each node's figures name their source.",
    },
    Key {
        section: "periphery",
        name: "amplifier_power",
        kind: Kind::Quantity(D::Power),
        default: Derived(
            "V_dd 2 g_m / (g_m/I_D), g_m/I_D = 15 S/A, g_m = C_z / tau_z (integrators), \
             2 pi f_c C_z (the others), at least 4 kT / e_n^2",
        ),
        doc: "Bias power of one amplifier (TIA, error amplifier, integrator, activation); when \
              given, every amplifier draws it.",
    },
    Key {
        section: "periphery",
        name: "error_amp_bandwidth",
        kind: Kind::Quantity(D::Frequency),
        default: Value("\"50MHz\""),
        doc: "Bandwidth f_c of the error amplifiers; sets tau_e = 1 / (2 pi f_c) unless \
              dynamics.tau_e is given.",
    },
    Key {
        section: "periphery",
        name: "offset_sigma",
        kind: Kind::Quantity(D::Voltage),
        default: Value("\"0V\""),
        doc: "Standard deviation of the fixed input offset of each amplifier.",
    },
    Key {
        section: "periphery",
        name: "rail",
        kind: Kind::QuantityOrInf(D::Voltage),
        default: Value("inf"),
        doc: "Output rails: node voltages are clipped to +-rail; inf = no clipping.",
    },
    Key {
        section: "periphery",
        name: "open_loop_gain",
        kind: Kind::Float,
        default: Value("inf"),
        doc: "Open-loop gain of the amplifiers; inf = ideal.",
    },
    Key {
        section: "periphery",
        name: "amplifier_noise",
        kind: Kind::Quantity(D::NoiseDensity),
        default: Value("\"0V/rtHz\""),
        doc: "White input voltage noise density e_n of every amplifier (TIA, error amplifier, \
              integrator), referred to its output by its noise gain (docs/circuit-model.md).",
    },
    Key {
        section: "periphery",
        name: "amplifier_noise_corner",
        kind: Kind::Quantity(D::Frequency),
        default: Derived("none: the amplifier noise is white"),
        doc: "1/f corner frequency f_c of every amplifier's input noise: density \
              e_n^2 (1 + f_c / f), the 1/f part a sum of Ornstein-Uhlenbeck sources over the \
              run's band (docs/circuit-model.md; the op-amp noise model of Analog Devices \
              tutorial MT-048). Must be positive.",
    },
    Key {
        section: "periphery",
        name: "feedback_noise",
        kind: Kind::Bool,
        default: Value("false"),
        doc: "Add the thermal noise of every TIA's feedback resistor, current density \
              4 k T / R_f (Johnson-Nyquist), at the device temperature.",
    },
    Key {
        section: "periphery",
        name: "gain_bandwidth",
        kind: Kind::Quantity(D::Frequency),
        default: Derived("none: the amplifiers respond instantly"),
        doc: "Gain-bandwidth product of every amplifier (TIA, error amplifier, integrator): each \
              is a single-pole op-amp A(s) = A / (1 + s A / (2 pi GBW)), whose output lags its \
              ideal value (docs/circuit-model.md, \"Amplifier poles\"). Must be positive.",
    },
    Key {
        section: "periphery",
        name: "node_capacitance",
        kind: Kind::Quantity(D::Capacitance),
        default: Value("\"100fF\""),
        doc: "Capacitance C_z of a value node (integrator): kT/C noise and charging energy; \
              tau_z = C_z / g_m.",
    },
    Key {
        section: "periphery",
        name: "supply",
        kind: Kind::Quantity(D::Voltage),
        default: Derived("the technology node's supply"),
        doc: "Supply voltage V_dd of the drivers, amplifiers and node capacitors.",
    },
    Key {
        section: "periphery",
        name: "ktc_noise",
        kind: Kind::Bool,
        default: Value("false"),
        doc: "Add the integrators' kT/C noise to the value nodes.",
    },
    Key {
        section: "periphery",
        name: "digital_mac_energy",
        kind: Kind::Quantity(D::Energy),
        default: Value("\"4.6pJ\""),
        doc: "Energy of one multiply-accumulate of a digital reference (fp32 at 45 nm: 3.7 pJ \
              multiply + 0.9 pJ add, Horowitz, ISSCC 2014), priced for one BP step to compare \
              the circuit's energy against.",
    },
    Key {
        section: "periphery",
        name: "drift_compensation",
        kind: Kind::Choice(DriftCompensation::NAMES),
        default: Value("\"none\""),
        doc: "Drift compensation: none, or global (each layer's array read after programming \
              and again at the read time with one row at a time driven; its TIAs' gain is \
              multiplied by the ratio of the summed absolute read-outs, as aihwkit's \
              GlobalDriftCompensation; docs/circuit-model.md).",
    },
    Key {
        section: "periphery",
        name: "dac_bits",
        kind: Kind::Integer,
        default: Value("0"),
        doc: "Resolution of the input DACs; 0 = ideal (no quantisation).",
    },
    Key {
        section: "periphery",
        name: "dac_range",
        kind: Kind::Float,
        default: Value("1.0"),
        doc: "Full-scale range of the DACs, +-range in node units (1 = v_read).",
    },
    Key {
        section: "periphery",
        name: "dac_energy",
        kind: Kind::Quantity(D::Energy),
        default: Derived("ISAAC's DAC, 2^(bits-1) x 3.05 fJ x F / 32 nm (8 bits when ideal)"),
        doc: "Energy of one DAC conversion.",
    },
    Key {
        section: "periphery",
        name: "dac_time",
        kind: Kind::Quantity(D::Time),
        default: Derived("ISAAC's DAC, one conversion at 1.28 GS/s (781 ps)"),
        doc: "Time of one DAC conversion (all inputs convert in parallel); a pulse-width DAC's \
              longest pulse.",
    },
    Key {
        section: "periphery",
        name: "adc_bits",
        kind: Kind::Integer,
        default: Value("0"),
        doc: "Resolution of the ADCs reading values out for the weight update; 0 = ideal.",
    },
    Key {
        section: "periphery",
        name: "adc_range",
        kind: Kind::Float,
        default: Value("1.0"),
        doc: "Full-scale range of the ADCs, +-range in node units.",
    },
    Key {
        section: "periphery",
        name: "adc_energy",
        kind: Kind::Quantity(D::Energy),
        default: Derived("FOM_W 2^bits of the node's survey ADC (8 bits when ideal)"),
        doc: "Energy of one ADC conversion.",
    },
    Key {
        section: "periphery",
        name: "adc_power",
        kind: Kind::Quantity(D::Power),
        default: Derived("none: an ADC conversion costs adc_energy"),
        doc: "Power of one ADC that integrates its column's current while the inputs are \
              applied (a current-controlled oscillator with its read regulator and counter, as \
              HERMES's): a conversion then costs adc_power x dac_time, in place of adc_energy, \
              and covers the ADC's register and the read amplifier it holds.",
    },
    Key {
        section: "periphery",
        name: "adc_time",
        kind: Kind::Quantity(D::Time),
        default: Derived("one sample period of the node's survey ADC"),
        doc: "Time of one ADC conversion and its readout (one converter per value read out, all \
              in parallel).",
    },
    Key {
        section: "periphery",
        name: "clock",
        kind: Kind::Quantity(D::Frequency),
        default: Value("\"1.28GHz\""),
        doc: "Clock of the converters' registers, which draw power for as long as they convert \
              (src/hardware/digital.rs); the default is the rate of ISAAC's DACs (Shafiee et al., \
              ISCA 2016: 1.28 GS/s), the default DAC's.",
    },
    Key {
        section: "periphery",
        name: "register_energy",
        kind: Kind::Quantity(D::Energy),
        default: Derived(
            "one bit of Horowitz's 8-bit add (ISSCC 2014: 0.03 pJ / 8 at 45 nm, 0.9 V) x \
             (F / 45 nm) (V_dd / 0.9 V)^2",
        ),
        doc: "Energy of one register bit of a converter clocked once; a DAC holds a register of \
              its bits, an ADC one of its bits, each clocked while it converts.",
    },
    Key {
        section: "periphery",
        name: "error_ranging",
        kind: Kind::Choice(ERROR_RANGING),
        default: Value("\"none\""),
        doc: "Full scale of the ADCs reading the errors: none (adc_range for every layer), or \
              per_layer (a programmable gain of 2^k ahead of each layer's ADCs, the smallest \
              full scale adc_range / 2^k that holds the layer's largest error at the ideal \
              network's equilibrium; the digital side shifts the code back).",
    },
    Key {
        section: "periphery",
        name: "readout_band",
        kind: Kind::Float,
        default: Value("0.5"),
        doc: "Settling referred to the readout: a sample has settled when every phi(z) and \
              error read out for the update stays within this many LSBs of its converter \
              (an ideal ADC counted at 8 bits) of its final value. In (0, 2^(adc_bits-1)]: a \
              wider band is wider than the converter's full scale.",
    },
    // ---------------------------------------------------------------- [dynamics]
    Key {
        section: "dynamics",
        name: "tau_z",
        kind: Kind::Quantity(D::Time),
        default: Value("\"100ns\""),
        doc: "Time constant of the value nodes, tau_z = C_z / g_m of the integrator.",
    },
    Key {
        section: "dynamics",
        name: "tau_e",
        kind: Kind::Quantity(D::Time),
        default: Derived("1 / (2 pi periphery.error_amp_bandwidth)"),
        doc: "Time constant of the error nodes; 0 = algebraic error nodes (exact gradient flow).",
    },
    Key {
        section: "dynamics",
        name: "solver",
        kind: Kind::Choice(SOLVERS),
        default: Value("\"exponential\""),
        doc: "Integrator: exponential (error nodes exact over a step, value nodes second \
              order; exponential Euler-Maruyama with noise; error-controlled steps when \
              noise-free), euler (Euler-Maruyama with noise), heun (stochastic Heun with \
              noise), rk4, dopri5, dop853 (adaptive; deterministic only).",
    },
    Key {
        section: "dynamics",
        name: "dt",
        kind: Kind::Quantity(D::Time),
        default: Derived(
            "exponential: tau_z / 20; else min(tau_e / 4, tau_z / 100), tau_z / 100 when tau_e = 0",
        ),
        doc: "Step of the fixed-step solvers (euler, heun, rk4, exponential with noise) and the \
              first and longest step of the error-controlled exponential one. At most 2 tau_z, and 2 tau_e \
              except for exponential (which advances the error nodes exactly): a longer \
              explicit step is unstable, and the design is refused.",
    },
    Key {
        section: "dynamics",
        name: "t_max",
        kind: Kind::Quantity(D::Time),
        default: Value("\"20us\""),
        doc: "Longest simulated time of one inference.",
    },
    Key {
        section: "dynamics",
        name: "settle_tol",
        kind: Kind::Float,
        default: Value("1e-3"),
        doc: "Settled when every free node stays within settle_tol (relative to its range) of \
              its final value.",
    },
    Key {
        section: "dynamics",
        name: "steady_tol",
        kind: Kind::Float,
        default: Derived("settle_tol / 100"),
        doc: "A deterministic run stops once max|dz/dt| tau_z falls below steady_tol on every \
              sample (the nodes then move less than steady_tol per tau_z).",
    },
    Key {
        section: "dynamics",
        name: "step_tol",
        kind: Kind::Float,
        default: Derived("settle_tol / 100"),
        doc: "Local error tolerance (relative, and absolute in node units) of the value nodes \
              over each error-controlled step of the exponential solver (noise-free runs).",
    },
    Key {
        section: "dynamics",
        name: "settle_window",
        kind: Kind::Quantity(D::Time),
        default: Derived("10 tau_z"),
        doc: "Trailing window of a noisy run: its mean is the final state, and a noisy run \
              stops once two consecutive windows' means agree within settle_tol. Shorter than \
              t_max.",
    },
    Key {
        section: "dynamics",
        name: "rtol",
        kind: Kind::Float,
        default: Value("1e-8"),
        doc: "Relative error tolerance of the adaptive solvers.",
    },
    Key {
        section: "dynamics",
        name: "atol",
        kind: Kind::Float,
        default: Value("1e-10"),
        doc: "Absolute error tolerance of the adaptive solvers.",
    },
    Key {
        section: "dynamics",
        name: "noise",
        kind: Kind::Bool,
        default: Value("true"),
        doc: "Integrate the noise the device and periphery have (read noise, kT/C) as an SDE; \
              false = deterministic ODE whatever the device.",
    },
    // ---------------------------------------------------------------- [data]
    Key {
        section: "data",
        name: "source",
        kind: Kind::Text,
        default: Value("\"optdigits\""),
        doc: "optdigits (the embedded UCI digits, 64 inputs, 10 one-hot outputs), teacher \
              (targets of a random teacher network of the same architecture), gaussian \
              (Gaussian inputs and targets), \"hdf5:PATH\" (weights and a batch in the \
              reference layout), or \"dataset:PATH\" (a data set: x, samples x features; y, \
              labels or targets; optionally train/ and test/ groups holding each; README, \
              Your own data); PATH relative to the design file.",
    },
    Key {
        section: "data",
        name: "samples",
        kind: Kind::Integer,
        default: Derived("run.batch (hdf5: the file's batch)"),
        doc: "Number of samples taken from the source; run in batches of run.batch.",
    },
    Key {
        section: "data",
        name: "offset",
        kind: Kind::Integer,
        default: Value("0"),
        doc: "Index of the first optdigits sample used.",
    },
    Key {
        section: "data",
        name: "seed",
        kind: Kind::Integer,
        default: Derived("run.seed"),
        doc: "Seed of the teacher weights and of the synthetic inputs and targets.",
    },
    Key {
        section: "data",
        name: "input_std",
        kind: Kind::Float,
        default: Value("1.0"),
        doc: "Standard deviation of synthetic inputs (teacher, gaussian).",
    },
    Key {
        section: "data",
        name: "target_std",
        kind: Kind::Float,
        default: Value("1.0"),
        doc: "Standard deviation of gaussian targets.",
    },
    Key {
        section: "data",
        name: "target_noise",
        kind: Kind::Float,
        default: Value("0.0"),
        doc: "Standard deviation of Gaussian noise added to the teacher's targets.",
    },
    // ---------------------------------------------------------------- [run]
    Key {
        section: "run",
        name: "batch",
        kind: Kind::Integer,
        default: Value("32"),
        doc: "Samples integrated together (one column each).",
    },
    Key {
        section: "run",
        name: "seed",
        kind: Kind::Integer,
        default: Value("0"),
        doc: "Seed of every random draw (weights, device errors, noise), each stream derived \
              from it.",
    },
    Key {
        section: "run",
        name: "trace_samples",
        kind: Kind::Integer,
        default: Value("4"),
        doc: "Samples whose every node is recorded in traces.h5 (the first ones of the batch).",
    },
    Key {
        section: "run",
        name: "trace_points",
        kind: Kind::Integer,
        default: Value("1000"),
        doc: "Most output points of the recorded traces (every k-th solver step). A run also \
              keeps every value and error node of every sample at these points to find the settling \
              times, so memory grows with trace_points x nodes x batch; `check` refuses a \
              design that cannot fit.",
    },
    Key {
        section: "run",
        name: "precision",
        kind: Kind::Choice(PRECISIONS),
        default: Value("\"f64\""),
        doc: "The floating-point type the analog circuit is integrated in: f64, or f32 (half \
              the memory of the circuit's products, about twice the arithmetic rate). The \
              mapping, the gradients and the reports stay in f64.",
    },
    Key {
        section: "run",
        name: "mode",
        kind: Kind::Choice(MODES),
        default: Value("\"pc\""),
        doc: "pc: feedforward, then relaxation to equilibrium (the PC inference); feedforward: \
              one read per layer and no relaxation, as an inference chip works, on the same \
              hardware (docs/circuit-model.md, \"Latency and throughput\").",
    },
    Key {
        section: "run",
        name: "record_weights",
        kind: Kind::Bool,
        default: Value("true"),
        doc: "Write every array's read conductances and the four weight gradients into \
              traces.h5. traces.h5 is built in memory, so these cost about 18 words per weight \
              while the outputs are written; turn off for designs of tens of millions of \
              weights (report.json keeps the per-layer alignment either way).",
    },
    // ---------------------------------------------------------------- [update]
    Key {
        section: "update",
        name: "family",
        kind: Kind::Choice(crate::hardware::update::family::FAMILY_NAMES),
        default: Value("\"ideal\""),
        doc: "Pulsed-update family (aihwkit's devices): ideal (exact), constant_step, linear_step, soft_bounds, exp_step, pow_step, piecewise_step (library only).",
    },
    Key {
        section: "update",
        name: "dw_min",
        kind: Kind::Quantity(D::Conductance),
        default: Value("\"0.025uS\""),
        doc: "Mean step of one pulse at the zero point (aihwkit's dw_min, at w = 0). Default: 1000 states of the default 25 uS window.",
    },
    Key {
        section: "update",
        name: "zero_point",
        kind: Kind::Float,
        default: Value("0.5"),
        doc: "Where aihwkit's w = 0 lies in the window [g_min, g_max], as a fraction: -w_min / (w_max - w_min) of the aihwkit preset (0 for one-sided devices).",
    },
    Key {
        section: "update",
        name: "dw_min_dtod",
        kind: Kind::Float,
        default: Value("0.0"),
        doc: "Device-to-device std of the step, relative to dw_min.",
    },
    Key {
        section: "update",
        name: "dw_min_dtod_log_normal",
        kind: Kind::Bool,
        default: Value("false"),
        doc: "Draw the step spread log-normally (exp(dw_min_dtod xi)).",
    },
    Key {
        section: "update",
        name: "dw_min_std",
        kind: Kind::Float,
        default: Value("0.0"),
        doc: "Cycle-to-cycle std of every pulse, relative to its mean step (multiplicative).",
    },
    Key {
        section: "update",
        name: "up_down",
        kind: Kind::Float,
        default: Value("0.0"),
        doc: "Up/down asymmetry beta in (-1, 1): > 0 makes the down steps smaller by (1 - beta), < 0 the up steps.",
    },
    Key {
        section: "update",
        name: "up_down_dtod",
        kind: Kind::Float,
        default: Value("0.0"),
        doc: "Device-to-device std of the asymmetry, relative to dw_min.",
    },
    Key {
        section: "update",
        name: "g_max_dtod",
        kind: Kind::Float,
        default: Value("0.0"),
        doc: "Device-to-device relative spread of the upper bound about the zero point.",
    },
    Key {
        section: "update",
        name: "g_min_dtod",
        kind: Kind::Float,
        default: Value("0.0"),
        doc: "Device-to-device relative spread of the lower bound about the zero point.",
    },
    Key {
        section: "update",
        name: "gamma_up",
        kind: Kind::Float,
        default: Value("0.0"),
        doc: "linear_step: relative decrease of the up step from the zero point to g_max.",
    },
    Key {
        section: "update",
        name: "gamma_down",
        kind: Kind::Float,
        default: Value("0.0"),
        doc: "linear_step: relative decrease of the down step from the zero point to g_min.",
    },
    Key {
        section: "update",
        name: "gamma_dtod",
        kind: Kind::Float,
        default: Value("0.0"),
        doc: "linear_step: device-to-device std of gamma_up and gamma_down.",
    },
    Key {
        section: "update",
        name: "mult_noise",
        kind: Kind::Bool,
        default: Value("true"),
        doc: "linear_step: cycle-to-cycle noise multiplies the whole step (else only its constant part).",
    },
    Key {
        section: "update",
        name: "exp_a",
        kind: Kind::Float,
        default: Value("0.244"),
        doc: "exp_step: a (aihwkit ExpStepDevice default).",
    },
    Key {
        section: "update",
        name: "exp_b",
        kind: Kind::Float,
        default: Value("0.2425"),
        doc: "exp_step: b (aihwkit default).",
    },
    Key {
        section: "update",
        name: "exp_a_up",
        kind: Kind::Float,
        default: Value("0.00081"),
        doc: "exp_step: A_up (aihwkit default).",
    },
    Key {
        section: "update",
        name: "exp_a_down",
        kind: Kind::Float,
        default: Value("0.36833"),
        doc: "exp_step: A_down (aihwkit default).",
    },
    Key {
        section: "update",
        name: "exp_gamma_up",
        kind: Kind::Float,
        default: Value("12.44625"),
        doc: "exp_step: gamma_up (aihwkit default).",
    },
    Key {
        section: "update",
        name: "exp_gamma_down",
        kind: Kind::Float,
        default: Value("12.78785"),
        doc: "exp_step: gamma_down (aihwkit default).",
    },
    Key {
        section: "update",
        name: "pow_gamma",
        kind: Kind::Float,
        default: Value("1.0"),
        doc: "pow_step: exponent (aihwkit PowStepDevice default).",
    },
    Key {
        section: "update",
        name: "pow_gamma_dtod",
        kind: Kind::Float,
        default: Value("0.1"),
        doc: "pow_step: device-to-device relative std of the exponent (aihwkit default).",
    },
    Key {
        section: "update",
        name: "pow_up_down",
        kind: Kind::Float,
        default: Value("0.0"),
        doc: "pow_step: up/down asymmetry of the exponent (aihwkit default).",
    },
    Key {
        section: "update",
        name: "single_sided",
        kind: Kind::Bool,
        default: Value("false"),
        doc: "Single-sided (potentiation-only) devices: an update potentiates G+ or G-, and a saturating pair is refreshed (aihwkit's OneSidedUnitCell).",
    },
    Key {
        section: "update",
        name: "refresh_upper",
        kind: Kind::Float,
        default: Value("0.75"),
        doc: "Refresh when one side is past this fraction of its range (aihwkit refresh_upper_thres)...",
    },
    Key {
        section: "update",
        name: "refresh_lower",
        kind: Kind::Float,
        default: Value("0.25"),
        doc: "...and the other past this one (aihwkit refresh_lower_thres).",
    },
    Key {
        section: "update",
        name: "pulse_width",
        kind: Kind::Quantity(D::Time),
        default: Value("0"),
        doc: "Duration of one programming pulse (one slot of the stochastic bit streams).",
    },
    Key {
        section: "update",
        name: "pulse_energy",
        kind: Kind::Quantity(D::Energy),
        default: Value("0"),
        doc: "Energy one pulse dissipates in a device.",
    },
    Key {
        section: "update",
        name: "scheme",
        kind: Kind::Choice(crate::hardware::update::scheme::SCHEME_NAMES),
        default: Value("\"ideal\""),
        doc: "How an update becomes pulses: ideal (exact), deterministic (round(dW / dw_min) pulses per device) or stochastic (pulse coincidences of row and column bit streams).",
    },
    Key {
        section: "update",
        name: "bl",
        kind: Kind::Integer,
        default: Value("31"),
        doc: "stochastic: bit-stream length BL (the most under BL management; aihwkit desired_bl).",
    },
    Key {
        section: "update",
        name: "bl_management",
        kind: Kind::Bool,
        default: Value("true"),
        doc: "stochastic: BL = min(ceil(lr max|x| max|d| / dw), bl) (aihwkit update_bl_management).",
    },
    Key {
        section: "update",
        name: "update_management",
        kind: Kind::Bool,
        default: Value("true"),
        doc: "stochastic: balance the row and column probabilities (aihwkit update_management).",
    },
    // ---------------------------------------------------------------- [train]
    Key {
        section: "train",
        name: "epochs",
        kind: Kind::Integer,
        default: Value("20"),
        doc: "Passes over the training set.",
    },
    Key {
        section: "train",
        name: "batch",
        kind: Kind::Integer,
        default: Value("32"),
        doc: "Samples of one mini-batch (one gradient step); the last of an epoch may be smaller.",
    },
    Key {
        section: "train",
        name: "lr",
        kind: Kind::Float,
        default: Value("0.1"),
        doc: "Learning rate of plain SGD, W <- W - lr dW, for every rule (PC and BP).",
    },
    Key {
        section: "train",
        name: "train_samples",
        kind: Kind::Integer,
        default: Value("1437"),
        doc: "optdigits samples of the training set (80 % of the 1797 by default); the split \
              is stratified by class and drawn from run.seed. hdf5 data: its batch is both sets.",
    },
    Key {
        section: "train",
        name: "test_samples",
        kind: Kind::Integer,
        default: Value("360"),
        doc: "optdigits samples of the test set, disjoint from the training set.",
    },
    Key {
        section: "train",
        name: "shuffle",
        kind: Kind::Bool,
        default: Value("true"),
        doc: "Reshuffle the training set every epoch (seeded by run.seed and the epoch).",
    },
    Key {
        section: "train",
        name: "inference",
        kind: Kind::Choice(TRAIN_INFERENCE),
        default: Value("\"equilibrium\""),
        doc: "How PC on the hardware finds each step's equilibrium: equilibrium (Newton-Krylov \
              on the mapped circuit's network; the physical transient of `apcsim run` every \
              transient_every steps prices the inference) or transient (that transient's \
              settled state drives the update on the steps it runs).",
    },
    Key {
        section: "train",
        name: "transient_every",
        kind: Kind::Integer,
        default: Value("100"),
        doc: "Steps between two physical transients of the hardware's inference (the first \
              step always runs one; 1: every step). Between them a step's inference energy \
              and time are the last transient's per sample.",
    },
    Key {
        section: "train",
        name: "digital_mac_time",
        kind: Kind::Quantity(D::Time),
        default: Value("\"0.1026ps\""),
        doc: "Time of one multiply-accumulate of the digital BP reference: NVIDIA A100's peak \
              fp32 rate, 19.5 TFLOP/s = 9.75e12 MAC/s (NVIDIA A100 Tensor Core GPU \
              datasheet, 2020), a lower bound on a digital step's time.",
    },
    Key {
        section: "train",
        name: "checkpoint_every",
        kind: Kind::Integer,
        default: Value("100"),
        doc: "Steps between two checkpoints (DIR/checkpoint.h5, which --resume continues from); \
              0: only the last step's. Not part of the design --resume compares.",
    },
    Key {
        section: "train",
        name: "lr_scaling",
        kind: Kind::Choice(LR_SCALINGS),
        default: Value("\"none\""),
        doc: "none: every rule steps at lr; mupc: at lr gamma0^2 N, N the width of the last \
              hidden layer (muPC's SGD scaling; needs network.parameterisation = mupc).",
    },
    Key {
        section: "train",
        name: "step_interval",
        kind: Kind::Quantity(D::Time),
        default: Value("0"),
        doc: "Time between two training steps on the devices' drift clock: the hardware's \
              conductances drift, and each step's read sees the 1/f noise accumulated, as \
              [device] says. 0: neither between steps.",
    },
];

/// The keys of one section.
pub fn section_keys(section: &str) -> impl Iterator<Item = &'static Key> + '_ {
    KEYS.iter().filter(move |k| k.section == section)
}

pub fn is_section(name: &str) -> bool {
    SECTIONS.iter().any(|(s, _)| *s == name)
}

/// How a written key relates to its schema entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spelling {
    /// `g_max = "25uS"` (or the only spelling of a unit-less key).
    Plain,
    /// `g_max_siemens = 2.5e-5`.
    Si,
}

/// The key of `section` written as `written`, in either spelling.
pub fn lookup(section: &str, written: &str) -> Option<(&'static Key, Spelling)> {
    section_keys(section).find_map(|k| {
        if k.name == written {
            Some((k, Spelling::Plain))
        } else if k.si_name().as_deref() == Some(written) {
            Some((k, Spelling::Si))
        } else {
            None
        }
    })
}

/// The key `section.name` (plain spelling).
pub fn key(section: &str, name: &str) -> Option<&'static Key> {
    section_keys(section).find(|k| k.name == name)
}

/// Every accepted spelling of every key of `section`.
pub fn spellings(section: &str) -> Vec<String> {
    section_keys(section)
        .flat_map(|k| std::iter::once(k.name.to_string()).chain(k.si_name()))
        .collect()
}

/// Optimal string alignment distance (Levenshtein with adjacent transpositions), by chars.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let (n, m) = (a.len(), b.len());
    let mut d = vec![vec![0usize; m + 1]; n + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for j in 0..=m {
        d[0][j] = j;
    }
    for i in 1..=n {
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[n][m]
}

/// The candidate nearest to `written`, if it is near enough to be a plausible misspelling.
/// A candidate that contains what was written (`rram` in `rram_hfo2`) is preferred to one a
/// few edits away; of those, one that starts with it, then the shortest.
pub fn nearest<'a>(
    written: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    // Long inputs (fuzzers, pasted text) would make the quadratic distance slow for nothing.
    if written.chars().count() > 64 {
        return None;
    }
    let lower = written.to_lowercase();
    let candidates: Vec<&str> = candidates.into_iter().collect();
    // Two letters are contained in too many names to say which was meant.
    if lower.chars().count() >= 3 {
        let containing = candidates
            .iter()
            .filter(|c| c.to_lowercase().contains(&lower))
            .min_by_key(|c| (!c.to_lowercase().starts_with(&lower), c.len()));
        if let Some(c) = containing {
            return Some(c);
        }
    }
    candidates
        .into_iter()
        .map(|c| (edit_distance(&lower, &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= (c.chars().count() / 3).max(2) && *d < c.chars().count())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn wrap_comment(out: &mut String, text: &str) {
    let mut line = String::from("#");
    for word in text.split_whitespace() {
        if line.len() + 1 + word.len() > 96 && line.len() > 1 {
            out.push_str(&line);
            out.push('\n');
            line = String::from("#");
        }
        line.push(' ');
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
}

/// The annotated reference of the format, printed by `apcsim schema`. It is itself a valid
/// design: every key at its default (derived defaults are comments).
pub fn render(presets: &[&str]) -> String {
    let mut out = String::new();
    wrap_comment(
        &mut out,
        "apcsim circuit description: every key, its default, unit and meaning. One TOML file \
         describes one design; every key is optional, and this reference, as printed, is a \
         design with every key at its default.",
    );
    out.push_str("#\n");
    wrap_comment(
        &mut out,
        "Quantities take a unit string, key = \"25uS\", or a plain SI number under the key \
         spelled with its unit, key_siemens = 2.5e-5 (one spelling per key). Units: S \
         (conductance), ohm or Ω (resistance), s (time), V, F, J, K, Hz, W; prefixes f p n u \
         (or µ) m k M G; case matters (\"25us\" is a time, \"25uS\" a conductance). A bare 0 \
         needs no unit.",
    );
    out.push_str("#\n");
    wrap_comment(
        &mut out,
        "Override any key from the command line: apcsim check FILE --set device.levels=16 \
         --set dynamics.tau_z=200ns (strings need no quotes).",
    );
    out.push_str("#\n");
    wrap_comment(
        &mut out,
        &format!(
            "Device presets shipped with apcsim: {}.",
            presets.join(", ")
        ),
    );
    for (section, about) in SECTIONS {
        out.push('\n');
        out.push_str(&format!("[{section}]\n"));
        wrap_comment(&mut out, about);
        for k in section_keys(section) {
            out.push('\n');
            wrap_comment(&mut out, k.doc);
            match (k.si_name(), k.dimension()) {
                (Some(si), Some(d)) => out.push_str(&format!(
                    "# unit: {}{} (or {si} = a number in {})\n",
                    d.symbol(),
                    if matches!(k.kind, Kind::QuantityOrInf(_)) {
                        ", or inf"
                    } else {
                        ""
                    },
                    d.si_name()
                )),
                _ => out.push_str(&format!("# type: {}\n", k.kind.describe())),
            }
            match k.default {
                Value(v) => out.push_str(&format!("{} = {v}\n", k.name)),
                Derived(how) => out.push_str(&format!("# {} = <default: {how}>\n", k.name)),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_in_known_sections() {
        let mut seen = std::collections::HashSet::new();
        for k in KEYS {
            assert!(is_section(k.section), "{}", k.path());
            for s in std::iter::once(k.name.to_string()).chain(k.si_name()) {
                assert!(seen.insert(format!("{}.{s}", k.section)), "duplicate {s}");
            }
            assert!(!k.doc.is_empty(), "{} is undocumented", k.path());
        }
    }

    #[test]
    fn lookups_find_both_spellings() {
        assert_eq!(
            lookup("device", "g_max").map(|(k, s)| (k.name, s)),
            Some(("g_max", Spelling::Plain))
        );
        assert_eq!(
            lookup("device", "g_max_siemens").map(|(k, s)| (k.name, s)),
            Some(("g_max", Spelling::Si))
        );
        assert_eq!(
            lookup("dynamics", "tau_z_seconds").map(|(k, _)| k.name),
            Some("tau_z")
        );
        assert!(lookup("device", "levels_seconds").is_none());
        assert!(lookup("network", "g_max").is_none());
    }

    #[test]
    fn suggestions() {
        let dev = spellings("device");
        let near = |w: &str| nearest(w, dev.iter().map(String::as_str));
        assert_eq!(near("levls"), Some("levels"));
        assert_eq!(near("lveels"), Some("levels"));
        assert_eq!(near("g_maxx"), Some("g_max"));
        assert_eq!(near("G_MAX"), Some("g_max"));
        assert_eq!(near("g_max_siemen"), Some("g_max_siemens"));
        assert_eq!(near("stuck_of_fraction"), Some("stuck_off_fraction"));
        assert_eq!(near("completely_unrelated"), None);
        assert_eq!(near("x"), None);
        // What was written is part of a name: that name, before any a few edits away.
        let presets = ["ideal", "rram_hfo2", "pcm", "pcm_hermes", "ecram"];
        let preset = |w: &str| nearest(w, presets);
        assert_eq!(preset("rram"), Some("rram_hfo2"));
        assert_eq!(preset("hfo2"), Some("rram_hfo2"));
        assert_eq!(preset("hermes"), Some("pcm_hermes"));
        assert_eq!(preset("PCM"), Some("pcm"));
        assert_eq!(preset("ecrm"), Some("ecram"));
        assert_eq!(near("temp"), Some("temperature"));
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("ab", "ba"), 1);
    }
}
