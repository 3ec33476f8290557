//! Progress on stderr (the pipeline never prints; the CLI hands it one of these).
//!
//! - [`ProgressMode::Bar`]: an indicatif bar when stderr is a terminal: chunks done/total, the
//!   heading of the chunk being summarized, elapsed time and an ETA from the observed time per
//!   chunk. Colors unless `NO_COLOR` is set (<https://no-color.org>).
//! - [`ProgressMode::Lines`]: one plain line per finished chunk, for `--progress` when stderr is
//!   not a terminal (logs, CI).
//! - [`ProgressMode::Off`]: nothing (`--quiet`, or stderr not a terminal without `--progress`).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressState, ProgressStyle};

use crate::llm::PullProgress;
use crate::pipeline::Progress;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// Nothing.
    Off,
    /// An indicatif bar (stderr is a terminal).
    Bar,
    /// Plain lines (stderr is not a terminal, `--progress` given).
    Lines,
}

impl ProgressMode {
    /// The mode for the flags and the terminal: `--quiet` wins; a terminal gets a bar; otherwise
    /// lines with `--progress`, else nothing.
    pub fn choose(quiet: bool, progress: bool) -> ProgressMode {
        Self::choose_for(quiet, progress, std::io::stderr().is_terminal())
    }

    /// [`ProgressMode::choose`] with the terminal test given.
    pub fn choose_for(quiet: bool, progress: bool, stderr_is_terminal: bool) -> ProgressMode {
        match (quiet, progress, stderr_is_terminal) {
            (true, _, _) => ProgressMode::Off,
            (false, _, true) => ProgressMode::Bar,
            (false, true, false) => ProgressMode::Lines,
            (false, false, false) => ProgressMode::Off,
        }
    }
}

/// True when `NO_COLOR` is set to something other than the empty string.
pub fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// The bar template, colored or not.
pub fn bar_template(color: bool) -> &'static str {
    if color {
        "{spinner:.green} [{elapsed_precise}] {bar:30.cyan/blue} {pos}/{len} chunks, eta {obs_eta} {wide_msg}"
    } else {
        "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} chunks, eta {obs_eta} {wide_msg}"
    }
}

/// The style of the chunk bar: [`bar_template`] with the `obs_eta` key ([`eta`]).
fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template(bar_template(!no_color()))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key(
            "obs_eta",
            |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                let text = eta(s.elapsed(), s.pos(), s.len().unwrap_or(0))
                    .map_or_else(|| "?".to_owned(), human_duration);
                let _ = w.write_str(&text);
            },
        )
}

/// Remaining time from the observed time per finished step: `elapsed / done * left`; `?` before
/// the first step is done.
pub fn eta(elapsed: Duration, done: u64, total: u64) -> Option<Duration> {
    if done == 0 {
        return None;
    }
    let left = total.saturating_sub(done);
    Some(elapsed.mul_f64(left as f64 / done as f64))
}

/// `1h02m03s`, `2m05s`, `7s`.
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, sec) => format!("{sec}s"),
        (0, m, sec) => format!("{m}m{sec:02}s"),
        (h, m, sec) => format!("{h}h{m:02}m{sec:02}s"),
    }
}

/// `1 chunk`, `3 chunks`.
pub fn chunks(n: u64) -> String {
    if n == 1 {
        "1 chunk".to_owned()
    } else {
        format!("{n} chunks")
    }
}

/// The [`Progress`] of `takeaways summarize`, in one of the [`ProgressMode`]s. Also keeps the
/// counts for the message after Ctrl-C ([`BarProgress::counts`]).
pub struct BarProgress {
    mode: ProgressMode,
    bar: Option<ProgressBar>,
    done: AtomicU64,
    total: AtomicU64,
    started: Mutex<Instant>,
    current: Mutex<String>,
}

impl BarProgress {
    /// A bar when `enabled`, else nothing.
    pub fn new(enabled: bool) -> Self {
        Self::with_mode(if enabled {
            ProgressMode::Bar
        } else {
            ProgressMode::Off
        })
    }

    /// Progress in `mode`.
    pub fn with_mode(mode: ProgressMode) -> Self {
        let bar = (mode == ProgressMode::Bar).then(|| {
            // A spinner until the number of chunks is known (`start` switches to the bar).
            let bar = ProgressBar::new_spinner();
            let template = if no_color() {
                "{spinner} [{elapsed_precise}] {wide_msg}"
            } else {
                "{spinner:.green} [{elapsed_precise}] {wide_msg}"
            };
            bar.set_style(
                ProgressStyle::with_template(template)
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_message("checking the model");
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        BarProgress {
            mode,
            bar,
            done: AtomicU64::new(0),
            total: AtomicU64::new(0),
            started: Mutex::new(Instant::now()),
            current: Mutex::new(String::new()),
        }
    }

    /// The mode.
    pub fn mode(&self) -> ProgressMode {
        self.mode
    }

    /// Chunks finished and chunks in all (0 before the split is known).
    pub fn counts(&self) -> (u64, u64) {
        (self.done.load(Relaxed), self.total.load(Relaxed))
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }

    fn elapsed(&self) -> Duration {
        self.started.lock().map(|s| s.elapsed()).unwrap_or_default()
    }
}

impl Progress for BarProgress {
    fn start(&self, total: usize) {
        self.total.store(total as u64, Relaxed);
        if let Ok(mut s) = self.started.lock() {
            *s = Instant::now();
        }
        match self.mode {
            ProgressMode::Bar => {
                if let Some(b) = &self.bar {
                    b.set_style(bar_style());
                    b.set_length(total as u64);
                    b.reset_elapsed();
                    b.reset_eta();
                }
            }
            ProgressMode::Lines => eprintln!("takeaways: summarizing {}", chunks(total as u64)),
            ProgressMode::Off => {}
        }
    }

    fn chunk_started(&self, _index: usize, label: &str) {
        if let Ok(mut c) = self.current.lock() {
            *c = label.to_owned();
        }
        if let Some(b) = &self.bar {
            b.set_message(label.to_owned());
        }
    }

    fn chunk_done(&self, _index: usize) {
        let done = self.done.fetch_add(1, Relaxed) + 1;
        match self.mode {
            ProgressMode::Bar => {
                if let Some(b) = &self.bar {
                    b.inc(1);
                }
            }
            ProgressMode::Lines => {
                let total = self.total.load(Relaxed);
                let elapsed = self.elapsed();
                let eta = eta(elapsed, done, total).map_or_else(|| "?".into(), human_duration);
                let label = self.current.lock().map(|c| c.clone()).unwrap_or_default();
                eprintln!(
                    "takeaways: [{done}/{total}] {label} (elapsed {}, eta {eta})",
                    human_duration(elapsed)
                );
            }
            ProgressMode::Off => {}
        }
    }

    fn final_pass(&self) {
        match self.mode {
            ProgressMode::Bar => {
                if let Some(b) = &self.bar {
                    b.set_message("final ranking pass");
                }
            }
            ProgressMode::Lines => eprintln!("takeaways: final ranking pass"),
            ProgressMode::Off => {}
        }
    }
}

/// The progress of a model download (`--pull`): a byte bar per layer (bytes, percent, rate,
/// ETA), or plain lines, or nothing, per [`ProgressMode`].
pub struct PullBar {
    mode: ProgressMode,
    model: String,
    bar: Option<ProgressBar>,
    layer: Mutex<Option<String>>,
    last: Mutex<(String, u64)>,
}

impl PullBar {
    /// Starts the display for pulling `model`.
    pub fn new(mode: ProgressMode, model: &str) -> PullBar {
        let bar = (mode == ProgressMode::Bar).then(|| {
            let template = if no_color() {
                "{msg} [{bar:30}] {bytes}/{total_bytes} ({percent}%, {bytes_per_sec}, eta {eta})"
            } else {
                "{msg} [{bar:30.cyan/blue}] {bytes}/{total_bytes} ({percent}%, {bytes_per_sec}, eta {eta})"
            };
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(template)
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.set_message(format!("pulling {model}"));
            bar
        });
        if mode == ProgressMode::Lines {
            eprintln!("takeaways: pulling {model}");
        }
        PullBar {
            mode,
            model: model.to_owned(),
            bar,
            layer: Mutex::new(None),
            last: Mutex::new((String::new(), 0)),
        }
    }

    /// Takes one status line of the pull stream.
    pub fn update(&self, p: &PullProgress) {
        let percent = match (p.completed, p.total) {
            (Some(c), Some(t)) if t > 0 => Some(c.saturating_mul(100) / t),
            _ => None,
        };
        match self.mode {
            ProgressMode::Bar => {
                let Some(b) = &self.bar else { return };
                if let (Some(total), Some(digest)) = (p.total, &p.digest) {
                    let mut layer = self.layer.lock().unwrap_or_else(|e| e.into_inner());
                    if layer.as_deref() != Some(digest.as_str()) {
                        *layer = Some(digest.clone());
                        b.reset();
                        b.set_length(total);
                    }
                    b.set_position(p.completed.unwrap_or(0));
                    b.set_message(format!("pulling {}", self.model));
                } else {
                    b.set_message(format!("{}: {}", self.model, p.status));
                    b.tick();
                }
            }
            ProgressMode::Lines => {
                // A line when the status changes or every 10 percent.
                let step = percent.map_or(0, |pc| pc / 10);
                let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
                if last.0 != p.status || last.1 != step {
                    *last = (p.status.clone(), step);
                    match percent {
                        Some(pc) => eprintln!("takeaways: {}: {} {pc}%", self.model, p.status),
                        None => eprintln!("takeaways: {}: {}", self.model, p.status),
                    }
                }
            }
            ProgressMode::Off => {}
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_follows_quiet_progress_and_terminal() {
        use ProgressMode::*;
        assert_eq!(ProgressMode::choose_for(true, true, true), Off);
        assert_eq!(ProgressMode::choose_for(false, false, true), Bar);
        assert_eq!(ProgressMode::choose_for(false, true, true), Bar);
        assert_eq!(ProgressMode::choose_for(false, true, false), Lines);
        assert_eq!(ProgressMode::choose_for(false, false, false), Off);
    }

    #[test]
    fn plain_template_has_no_color_specs() {
        for color in ["green", "cyan", "blue"] {
            assert!(!bar_template(false).contains(color));
        }
        assert!(bar_template(true).contains(".cyan"));
        assert!(ProgressStyle::with_template(bar_template(false)).is_ok());
        assert!(ProgressStyle::with_template(bar_template(true)).is_ok());
    }

    #[test]
    fn eta_from_observed_speed() {
        assert_eq!(eta(Duration::from_secs(30), 0, 9), None);
        assert_eq!(
            eta(Duration::from_secs(30), 3, 9),
            Some(Duration::from_secs(60))
        );
        assert_eq!(eta(Duration::from_secs(30), 9, 9), Some(Duration::ZERO));
        assert_eq!(human_duration(Duration::from_secs(7)), "7s");
        assert_eq!(human_duration(Duration::from_secs(125)), "2m05s");
        assert_eq!(human_duration(Duration::from_secs(3723)), "1h02m03s");
    }
}
