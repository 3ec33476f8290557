//! Progress of `takeaways batch` on stderr.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

pub(super) fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Progress of `takeaways batch` on stderr: with a terminal, an overall bar (files done/total,
/// failures, ETA) and one line per file in flight with its current section; without one, plain
/// log lines; with --quiet, nothing.
pub(super) struct BatchProgress {
    mode: BatchProgressMode,
    total: std::sync::atomic::AtomicUsize,
    finished: std::sync::atomic::AtomicUsize,
    failed: std::sync::atomic::AtomicUsize,
}

enum BatchProgressMode {
    Quiet,
    Lines,
    Bars {
        multi: indicatif::MultiProgress,
        overall: ProgressBar,
        /// File id → its line and its number of chunks.
        files: std::sync::Mutex<std::collections::HashMap<usize, (ProgressBar, usize)>>,
    },
}

impl BatchProgress {
    pub(super) fn new(quiet: bool, terminal: bool) -> Self {
        let mode = if quiet {
            BatchProgressMode::Quiet
        } else if terminal {
            let multi = indicatif::MultiProgress::new();
            let overall = multi.add(ProgressBar::new(0));
            overall.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} files, {msg} (eta {eta})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            BatchProgressMode::Bars {
                multi,
                overall,
                files: std::sync::Mutex::new(std::collections::HashMap::new()),
            }
        } else {
            BatchProgressMode::Lines
        };
        BatchProgress {
            mode,
            total: 0.into(),
            finished: 0.into(),
            failed: 0.into(),
        }
    }

    pub(super) fn finish(&self) {
        if let BatchProgressMode::Bars { overall, files, .. } = &self.mode {
            for (bar, _) in files.lock().expect("progress lock").values() {
                bar.finish_and_clear();
            }
            overall.finish_and_clear();
        }
    }

    fn file_message(&self, id: usize, message: impl FnOnce(usize) -> String) {
        if let BatchProgressMode::Bars { files, .. } = &self.mode {
            if let Some((bar, chunks)) = files.lock().expect("progress lock").get(&id) {
                bar.set_message(message(*chunks));
            }
        }
    }
}

impl crate::batch::Reporter for BatchProgress {
    fn planned(&self, total: usize) {
        use std::sync::atomic::Ordering::Relaxed;
        self.total.store(total, Relaxed);
        match &self.mode {
            BatchProgressMode::Bars { overall, .. } => {
                // Drawn from here on: before, its length is unknown.
                overall.set_message("0 failed");
                overall.set_length(total as u64);
                overall.enable_steady_tick(Duration::from_millis(200));
            }
            BatchProgressMode::Lines => {
                eprintln!("batch: {}", plural(total, "writeup", "writeups"));
            }
            BatchProgressMode::Quiet => {}
        }
    }

    fn warning(&self, message: &str) {
        match &self.mode {
            BatchProgressMode::Bars { multi, .. } => {
                let _ = multi.println(format!("warning: {message}"));
            }
            _ => eprintln!("warning: {message}"),
        }
    }

    fn file_started(&self, id: usize, source: &str) {
        match &self.mode {
            BatchProgressMode::Bars {
                multi,
                overall,
                files,
            } => {
                let bar = multi.insert_before(overall, ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("  {spinner} {prefix}: {wide_msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_prefix(source.to_string());
                bar.set_message("starting");
                bar.enable_steady_tick(Duration::from_millis(200));
                files.lock().expect("progress lock").insert(id, (bar, 0));
            }
            BatchProgressMode::Lines => eprintln!("{source}: started"),
            BatchProgressMode::Quiet => {}
        }
    }

    fn file_chunks(&self, id: usize, total: usize) {
        if let BatchProgressMode::Bars { files, .. } = &self.mode {
            if let Some(entry) = files.lock().expect("progress lock").get_mut(&id) {
                entry.1 = total;
            }
        }
    }

    fn file_section(&self, id: usize, index: usize, label: &str) {
        self.file_message(id, |chunks| {
            format!("section {}/{chunks}: {label}", index + 1)
        });
    }

    fn file_final_pass(&self, id: usize) {
        self.file_message(id, |_| "final ranking pass".to_string());
    }

    fn file_finished(&self, id: usize, source: &str, outcome: &crate::batch::Outcome) {
        use crate::batch::Outcome;
        use std::sync::atomic::Ordering::Relaxed;
        let n = self.finished.fetch_add(1, Relaxed) + 1;
        if matches!(outcome, Outcome::Failed(_)) {
            self.failed.fetch_add(1, Relaxed);
        }
        let what = match outcome {
            Outcome::Summarized { takeaways, seconds } => format!(
                "summarized, {} ({seconds:.1} s)",
                plural(*takeaways, "takeaway", "takeaways")
            ),
            Outcome::UpToDate => "up to date".to_string(),
            Outcome::Failed(reason) => format!("FAILED: {reason}"),
            Outcome::NotAttempted => "not attempted".to_string(),
        };
        match &self.mode {
            BatchProgressMode::Bars {
                multi,
                overall,
                files,
            } => {
                if let Some((bar, _)) = files.lock().expect("progress lock").remove(&id) {
                    bar.finish_and_clear();
                    multi.remove(&bar);
                }
                if !matches!(outcome, Outcome::UpToDate) {
                    let _ = multi.println(format!("{source}: {what}"));
                }
                overall.set_message(format!("{} failed", self.failed.load(Relaxed)));
                overall.inc(1);
            }
            BatchProgressMode::Lines => {
                let total = self.total.load(Relaxed);
                eprintln!("[{n}/{total}] {source}: {what}");
            }
            BatchProgressMode::Quiet => {}
        }
    }
}
