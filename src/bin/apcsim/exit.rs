//! The one error-to-exit-code policy of the command line.
//!
//! Every library error a command can meet is classified here, once per error type, by its
//! variant ([`Classify`]); a wrapped error is classified by what it wraps, so one failure has one
//! code whichever command meets it. A command returns `Result<(), Failure>`, and [`finish`] prints
//! `error: ...` on one line and turns the failure into the exit code:
//!
//! | code | [`Kind`] | what |
//! |---|---|---|
//! | 0 | | success (a reference run that differs from its input still succeeded: the differences are its measurement) |
//! | 1 | `Io`, `Internal` | a file that cannot be written, a tool that failed, a bug |
//! | 2 | `Input` | unusable input: a design, an option, an input file, an output path |
//! | 3 | `Diverged` | a run that diverged (or whose dynamics have no stable equilibrium) |
//! | 4 | `Timeout` | `spice-check`: ngspice killed at `--timeout` |
//! | 130 | | `sweep` interrupted (Ctrl-C) |

use apcsim::analog::SimError;
use apcsim::config::ConfigError;
use apcsim::design::build::BuildError;
use apcsim::design::hardware::CheckError;
use apcsim::dynamics::InferenceError;
use apcsim::hardware::mapping::MappingError;
use apcsim::io::data::DataError;
use apcsim::io::outdir::OutDirError;
use apcsim::measure::RunError;
use apcsim::network::closed_form::ClosedFormError;
use apcsim::network::NetworkError;
use apcsim::spice::SpiceError;
use apcsim::study::reference::ReferenceError;
use apcsim::study::sweep::SweepError;
use apcsim::study::train::StepError;
use apcsim::study::width_depth::StudyError;
use std::fmt::Display;
use std::process::ExitCode;

/// The exit code of a sweep stopped by Ctrl-C (128 + SIGINT, as a shell reports it).
pub const INTERRUPTED: u8 = 130;

/// What kind of failure an error is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Unusable input: the user can fix it by changing what they asked for.
    Input,
    /// A file or a tool failed.
    Io,
    /// Something apcsim should have been able to do.
    Internal,
    /// The simulated dynamics diverged.
    Diverged,
    /// A time limit was reached.
    Timeout,
}

impl Kind {
    pub fn code(self) -> u8 {
        match self {
            Kind::Io | Kind::Internal => 1,
            Kind::Input => 2,
            Kind::Diverged => 3,
            Kind::Timeout => 4,
        }
    }
}

/// An error the command line knows how to classify.
pub trait Classify: Display {
    fn kind(&self) -> Kind;
}

/// A failed command: its kind and its one-line message.
#[derive(Debug)]
pub struct Failure {
    pub kind: Kind,
    pub message: String,
}

impl Failure {
    pub fn new(kind: Kind, message: impl Display) -> Self {
        Failure {
            kind,
            message: message.to_string(),
        }
    }

    pub fn input(message: impl Display) -> Self {
        Failure::new(Kind::Input, message)
    }

    pub fn io(message: impl Display) -> Self {
        Failure::new(Kind::Io, message)
    }

    /// The same failure about the value of option `flag` (`--out DIR is not empty`).
    pub fn option(self, flag: &str) -> Self {
        Failure {
            kind: self.kind,
            message: format!("{flag} {}", self.message),
        }
    }

    /// The same failure, its message prefixed with `what: `.
    pub fn context(self, what: impl Display) -> Self {
        Failure {
            kind: self.kind,
            message: format!("{what}: {}", self.message),
        }
    }
}

impl<E: Classify> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure::new(e.kind(), &e)
    }
}

/// Prints a failure as `error: MESSAGE` and returns its exit code; success is 0 unless writing
/// the output to stdout failed (1).
pub fn finish(result: Result<(), Failure>) -> ExitCode {
    let result = result.and_then(|()| crate::output::finish());
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("error: {}", f.message);
            ExitCode::from(f.kind.code())
        }
    }
}

impl Classify for ConfigError {
    fn kind(&self) -> Kind {
        Kind::Input
    }
}

impl Classify for NetworkError {
    fn kind(&self) -> Kind {
        Kind::Input
    }
}

impl Classify for MappingError {
    fn kind(&self) -> Kind {
        Kind::Input
    }
}

impl Classify for DataError {
    fn kind(&self) -> Kind {
        Kind::Input
    }
}

impl Classify for OutDirError {
    fn kind(&self) -> Kind {
        match self {
            OutDirError::NotAFolder { .. }
            | OutDirError::NotEmpty { .. }
            | OutDirError::Busy { .. } => Kind::Input,
            OutDirError::Io { .. } => Kind::Io,
            _ => Kind::Internal,
        }
    }
}

impl Classify for ClosedFormError {
    fn kind(&self) -> Kind {
        match self {
            // The closed form asked of a network it does not apply to.
            ClosedFormError::Nonlinear(_) | ClosedFormError::Feedback => Kind::Input,
            // No stable equilibrium: the dynamics run away.
            ClosedFormError::NotPositiveDefinite { .. } | ClosedFormError::SingularRescaling => {
                Kind::Diverged
            }
            _ => Kind::Internal,
        }
    }
}

impl Classify for InferenceError {
    fn kind(&self) -> Kind {
        match self {
            InferenceError::NonFinite { .. } => Kind::Diverged,
            InferenceError::ClosedForm(e) => e.kind(),
            InferenceError::Options(_) => Kind::Input,
            _ => Kind::Internal,
        }
    }
}

impl Classify for StepError {
    fn kind(&self) -> Kind {
        match self {
            StepError::Inference { source, .. } => source.kind(),
            // Weights or a loss that stopped being finite: training ran away.
            StepError::Diverged { .. } => Kind::Diverged,
        }
    }
}

impl Classify for SimError {
    fn kind(&self) -> Kind {
        match self {
            SimError::Diverged { .. } | SimError::Rail { .. } => Kind::Diverged,
            SimError::Options(_) => Kind::Input,
            _ => Kind::Internal,
        }
    }
}

impl Classify for BuildError {
    fn kind(&self) -> Kind {
        match self {
            BuildError::Network(e) => e.kind(),
            BuildError::Data(e) => e.kind(),
            // The design's data file (`data.source = "hdf5"`) cannot be read.
            BuildError::File(_) => Kind::Input,
            BuildError::Mapping(e) => e.kind(),
            _ => Kind::Internal,
        }
    }
}

impl Classify for CheckError {
    fn kind(&self) -> Kind {
        match self {
            CheckError::Network(e) => e.kind(),
            CheckError::Inference(e) => e.kind(),
            _ => Kind::Internal,
        }
    }
}

impl Classify for RunError {
    fn kind(&self) -> Kind {
        match self {
            RunError::Build(e) => e.kind(),
            RunError::Network(e) => e.kind(),
            RunError::Simulation(e) => e.kind(),
            RunError::Diverged(d) => d.error.kind(),
            RunError::Reference(e) => e.kind(),
            RunError::Unsupported(_) => Kind::Input,
            // Writing traces.h5 or another output.
            RunError::H5(_) | RunError::Write { .. } => Kind::Io,
            _ => Kind::Internal,
        }
    }
}

impl Classify for ReferenceError {
    fn kind(&self) -> Kind {
        match self {
            // The input file.
            ReferenceError::File(_) => Kind::Input,
            // A step count or option the input asks for that apcsim refuses.
            ReferenceError::Options(_) => Kind::Input,
            ReferenceError::Inference { source, .. } => source.kind(),
            ReferenceError::Training { source, .. } => source.kind(),
        }
    }
}

impl Classify for StudyError {
    fn kind(&self) -> Kind {
        match self {
            StudyError::Plan(_) => Kind::Input,
            StudyError::Network { source, .. } => source.kind(),
            StudyError::Mapping { source, .. } => source.kind(),
            StudyError::ClosedForm { source, .. } => source.kind(),
            StudyError::Inference { source, .. } => source.kind(),
            StudyError::Diverged { .. } => Kind::Diverged,
            _ => Kind::Internal,
        }
    }
}

impl Classify for SweepError {
    fn kind(&self) -> Kind {
        match self {
            SweepError::Spec(_)
            | SweepError::Config { .. }
            | SweepError::Point { .. }
            | SweepError::Plan(_)
            | SweepError::Points(_) => Kind::Input,
            SweepError::Io { .. } | SweepError::H5(_) => Kind::Io,
            SweepError::Folder(e) => e.kind(),
            _ => Kind::Internal,
        }
    }
}

impl Classify for SpiceError {
    fn kind(&self) -> Kind {
        match self {
            // A design too large or unsupported, or ngspice missing: what was asked cannot run.
            SpiceError::Input(_)
            | SpiceError::Unsupported(_)
            | SpiceError::TooLarge(_)
            | SpiceError::NoNgspice => Kind::Input,
            SpiceError::Diverged(_) => Kind::Diverged,
            SpiceError::Timeout { .. } => Kind::Timeout,
            SpiceError::Ngspice(_)
            | SpiceError::Output(_)
            | SpiceError::Io(_)
            | SpiceError::File { .. }
            | SpiceError::Trajectory(_) => Kind::Io,
            _ => Kind::Internal,
        }
    }
}

impl Classify for std::io::Error {
    fn kind(&self) -> Kind {
        Kind::Io
    }
}

impl Classify for serde_json::Error {
    fn kind(&self) -> Kind {
        Kind::Internal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> InferenceError {
        InferenceError::Options("rtol must be positive".into())
    }

    /// The same inference failure has the same code whichever command meets it.
    #[test]
    fn an_inference_error_has_one_code_from_every_command() {
        let (width, depth, seed, step) = (16, 2, 0, 0);
        let codes = [
            ("inference", options().kind()),
            (
                "reference",
                ReferenceError::Inference {
                    file: "x.h5".into(),
                    source: options(),
                }
                .kind(),
            ),
            (
                "study",
                StudyError::Inference {
                    width,
                    depth,
                    seed,
                    step,
                    source: options(),
                }
                .kind(),
            ),
            ("run", RunError::Reference(options()).kind()),
            ("check", CheckError::Inference(options()).kind()),
        ];
        for (command, kind) in codes {
            assert_eq!(kind, Kind::Input, "{command}");
        }
        let diverged = InferenceError::NonFinite {
            layer: 1,
            node: 0,
            sample: 0,
            value: f64::INFINITY,
            time: 1.0,
        };
        let study = StudyError::Inference {
            width,
            depth,
            seed,
            step,
            source: diverged.clone(),
        };
        assert_eq!(study.kind(), Kind::Diverged);
        assert_eq!(RunError::Reference(diverged).kind(), Kind::Diverged);
    }

    #[test]
    fn every_kind_has_its_documented_code() {
        let codes: Vec<u8> = [
            Kind::Io,
            Kind::Internal,
            Kind::Input,
            Kind::Diverged,
            Kind::Timeout,
        ]
        .iter()
        .map(|k| k.code())
        .collect();
        assert_eq!(codes, [1, 1, 2, 3, 4]);
    }

    #[test]
    fn context_prefixes_the_message_and_keeps_the_kind() {
        let f = Failure::from(SpiceError::Timeout { seconds: 1.0 }).context("tiny.toml");
        assert_eq!(f.kind, Kind::Timeout);
        assert!(
            f.message.starts_with("tiny.toml: ngspice did not finish"),
            "{}",
            f.message
        );
    }
}
