//! Progress of a long command on standard error: a bar with an ETA on a terminal (shown once the
//! command has taken a second), plain lines otherwise (batch logs): one every [`LINE_STEP`] of
//! the work or every [`LINE_SECONDS`], whichever is rarer, and a last one at 100%.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Instant;

/// The least progress between two plain lines (a fraction of the work).
pub const LINE_STEP: f64 = 0.1;
/// The least time between two plain lines.
pub const LINE_SECONDS: f64 = 5.0;

/// Where the progress goes.
enum Sink {
    /// A terminal: a bar, drawn once the command has taken a second.
    Bar(ProgressBar),
    /// Anything else: plain lines; the fraction and time of the last one.
    Lines { last: Option<(f64, f64)> },
}

pub struct Progress {
    /// What the lines are about (`run`).
    label: &'static str,
    start: Instant,
    sink: Mutex<Sink>,
    /// The fraction and time at which the current phase began: the ETA extrapolates the
    /// phase's own pace (phases of one command can run at very different paces).
    phase: Mutex<(f64, f64)>,
}

/// Whether a plain line is due: the work has moved by [`LINE_STEP`] and [`LINE_SECONDS`] have
/// passed since the last line (the first line is measured from the start, at 0%).
pub fn line_due(last: Option<(f64, f64)>, fraction: f64, seconds: f64) -> bool {
    let (f0, t0) = last.unwrap_or((0.0, 0.0));
    fraction - f0 >= LINE_STEP && seconds - t0 >= LINE_SECONDS
}

/// `seconds` as `42 s`, `3 min 05 s` or `2 h 07 min`.
pub fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, s % 3600 / 60),
    }
}

impl Progress {
    pub fn new(label: &'static str) -> Self {
        let sink = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(Some(1000), ProgressDrawTarget::hidden());
            bar.set_style(
                ProgressStyle::with_template("{msg} [{bar:30}] {percent:>3}% ({prefix})")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            Sink::Bar(bar)
        } else {
            Sink::Lines { last: None }
        };
        Progress {
            label,
            start: Instant::now(),
            sink: Mutex::new(sink),
            phase: Mutex::new((0.0, 0.0)),
        }
    }

    /// A new phase begins at `fraction`: the ETA follows its pace from now on.
    pub fn new_phase(&self, fraction: f64) {
        let seconds = self.start.elapsed().as_secs_f64();
        *self.phase.lock().unwrap_or_else(|e| e.into_inner()) = (fraction, seconds);
    }

    /// Reports `fraction` (0..=1) of the work done, what is being done, and whether the
    /// remaining work is only an upper bound (the ETA is then `at most`).
    pub fn update(&self, fraction: f64, what: &str, upper_bound: bool) {
        let fraction = fraction.clamp(0.0, 1.0);
        let seconds = self.start.elapsed().as_secs_f64();
        let (f0, t0) = *self.phase.lock().unwrap_or_else(|e| e.into_inner());
        let eta = if fraction > f0 && seconds > t0 {
            let left = duration((seconds - t0) * (1.0 - fraction) / (fraction - f0));
            if upper_bound {
                format!("ETA at most {left}")
            } else {
                format!("ETA {left}")
            }
        } else {
            "ETA unknown".to_string()
        };
        let timing = format!("{} elapsed, {eta}", duration(seconds));
        let mut sink = self.sink.lock().unwrap_or_else(|e| e.into_inner());
        match &mut *sink {
            Sink::Bar(bar) => {
                if bar.is_hidden() && seconds > 1.0 {
                    bar.set_draw_target(ProgressDrawTarget::stderr());
                }
                bar.set_message(what.to_string());
                bar.set_prefix(timing);
                bar.set_position((fraction * 1000.0) as u64);
            }
            Sink::Lines { last } => {
                if line_due(*last, fraction, seconds) {
                    *last = Some((fraction, seconds));
                    self.line(fraction, what, &timing);
                }
            }
        }
    }

    fn line(&self, fraction: f64, what: &str, timing: &str) {
        use std::io::Write;
        // Progress is best effort: a closed stderr is not a failure of the command.
        let _ = writeln!(
            std::io::stderr().lock(),
            "{}: {:3.0}% {what} ({timing})",
            self.label,
            fraction * 100.0
        );
    }

    /// The work is done: the bar is cleared, or the last line (100%) printed.
    pub fn finish(&self, what: &str) {
        let seconds = self.start.elapsed().as_secs_f64();
        let sink = self.sink.lock().unwrap_or_else(|e| e.into_inner());
        match &*sink {
            Sink::Bar(bar) => bar.finish_and_clear(),
            Sink::Lines { .. } => self.line(1.0, what, &format!("{} elapsed", duration(seconds))),
        }
    }

    /// The work stopped on a failure: the bar is cleared, and no line is printed.
    pub fn abandon(&self) {
        if let Sink::Bar(bar) = &*self.sink.lock().unwrap_or_else(|e| e.into_inner()) {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.abandon();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_needs_both_a_tenth_of_the_work_and_the_interval() {
        // Fast work: a line every LINE_SECONDS, not every 10%.
        assert!(!line_due(None, 0.5, 1.0));
        assert!(line_due(None, 0.5, LINE_SECONDS));
        // Slow work: a line every 10%, not every LINE_SECONDS.
        assert!(!line_due(Some((0.1, 5.0)), 0.15, 60.0));
        assert!(line_due(Some((0.1, 5.0)), 0.21, 60.0));
        assert!(!line_due(Some((0.1, 5.0)), 0.21, 6.0));
    }

    #[test]
    fn durations_read_as_a_person_would_say_them() {
        assert_eq!(duration(0.4), "0 s");
        assert_eq!(duration(42.0), "42 s");
        assert_eq!(duration(185.0), "3 min 05 s");
        assert_eq!(duration(7620.0), "2 h 07 min");
    }
}
