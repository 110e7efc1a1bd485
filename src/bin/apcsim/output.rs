//! The one writer of standard output.
//!
//! Every command prints through [`say!`] and [`sayln!`]. A reader that went away (`apcsim schema
//! | head`) ends the output quietly: the rest is dropped and the command finishes as it would
//! (a run's files are written before its report is printed). Any other write error is reported
//! once, at the end, and makes the exit code 1 ([`finish`]).

use crate::exit::Failure;
use std::io::Write;
use std::sync::Mutex;

/// `print!` through the one stdout writer.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::output::write(format_args!($($arg)*))
    };
}

/// `println!` through [`say!`].
macro_rules! sayln {
    () => {
        say!("\n")
    };
    ($($arg:tt)*) => {
        say!("{}\n", format_args!($($arg)*))
    };
}

/// What has become of standard output.
#[derive(Debug)]
enum State {
    Open,
    /// The reader went away: nothing more is written.
    Closed,
    /// A write failed otherwise: nothing more is written, the error is reported at the end.
    Failed(std::io::Error),
}

static STATE: Mutex<State> = Mutex::new(State::Open);

/// Writes `args` to standard output, unless an earlier write ended it.
pub fn write(args: std::fmt::Arguments<'_>) {
    let mut state = STATE.lock().unwrap_or_else(|e| e.into_inner());
    if matches!(*state, State::Open) {
        if let Err(e) = std::io::stdout().lock().write_fmt(args) {
            *state = ended_by(e);
        }
    }
}

fn ended_by(e: std::io::Error) -> State {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        State::Closed
    } else {
        State::Failed(e)
    }
}

/// Flushes standard output; the error of a failed write, if one failed.
pub fn finish() -> Result<(), Failure> {
    let mut state = STATE.lock().unwrap_or_else(|e| e.into_inner());
    if matches!(*state, State::Open) {
        if let Err(e) = std::io::stdout().lock().flush() {
            *state = ended_by(e);
        }
    }
    match std::mem::replace(&mut *state, State::Closed) {
        State::Failed(e) => Err(Failure::io(format!("writing to standard output: {e}"))),
        _ => Ok(()),
    }
}
