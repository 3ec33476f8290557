//! How a run ends: the exit status type, the failure every command returns, and the one place
//! that turns them into a process status ([`Exit::exit`], called only by `main`).
//!
//! Modelled on fd's `exit_codes.rs`: a closed set of statuses; on Ctrl-C the process re-raises
//! SIGINT after cleanup, so that a shell loop (`for f in *.md; do takeaways summarize "$f"; done`)
//! stops too instead of carrying on with the next file.

/// The status a command ends with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Success (also when the output pipe was closed early, `takeaways … | head`).
    Ok,
    /// The input, the model's answers or the output failed; in `batch`, at least one file.
    Failed,
    /// Wrong usage: an unknown flag or a bad value (clap uses the same code).
    Usage,
    /// The model server could not be reached, or the model is not there.
    Setup,
    /// Interrupted by Ctrl-C (SIGINT); nothing half-written.
    Interrupted,
}

impl Exit {
    /// Every status, in the order of the documentation table.
    pub const ALL: [Exit; 5] = [
        Exit::Ok,
        Exit::Failed,
        Exit::Usage,
        Exit::Setup,
        Exit::Interrupted,
    ];

    /// The process exit code: 0, 1, 2, 3, 130 (128 + SIGINT, the shell convention).
    pub fn code(self) -> i32 {
        match self {
            Exit::Ok => 0,
            Exit::Failed => 1,
            Exit::Usage => 2,
            Exit::Setup => 3,
            Exit::Interrupted => 130,
        }
    }

    /// What the code means, one line (the `--help` and README tables).
    pub fn meaning(self) -> &'static str {
        match self {
            Exit::Ok => "success (also when a reader such as `head` closed the output pipe early)",
            Exit::Failed => "input, model answers or output failed (the message names the file); batch: any file failed",
            Exit::Usage => "wrong usage (unknown flag, bad value, malformed --host or glob)",
            Exit::Setup => "the model server is unreachable or lacks the model (the message says what to run)",
            Exit::Interrupted => "interrupted (Ctrl-C); nothing half-written",
        }
    }

    /// The worse of two statuses, for a command made of several steps: interrupted > setup >
    /// usage > failed > ok.
    pub fn worst(self, other: Exit) -> Exit {
        let rank = |e: Exit| match e {
            Exit::Ok => 0,
            Exit::Failed => 1,
            Exit::Usage => 2,
            Exit::Setup => 3,
            Exit::Interrupted => 4,
        };
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }

    /// Ends the process with this status. For [`Exit::Interrupted`] on Unix, SIGINT's default
    /// action is restored and the signal raised, so the parent sees "killed by SIGINT", not just
    /// code 130 (the shell then stops its loop); 130 is the fallback.
    pub fn exit(self) -> ! {
        #[cfg(unix)]
        if self == Exit::Interrupted {
            reraise_sigint();
        }
        std::process::exit(self.code())
    }
}

/// Restores SIGINT's default action and raises it: the process ends "killed by SIGINT".
#[cfg(unix)]
#[allow(
    unsafe_code,
    reason = "libc's signal and raise are the only way to re-raise SIGINT"
)]
fn reraise_sigint() {
    // SAFETY: signal(2) and raise(3) with a valid signal number and SIG_DFL have no
    // memory-safety preconditions; the process is about to end anyway.
    unsafe {
        if libc::signal(libc::SIGINT, libc::SIG_DFL) != libc::SIG_ERR {
            libc::raise(libc::SIGINT);
        }
    }
}

/// The exit-code table as shown at the end of `takeaways --help` (and in README.md, which a
/// test checks against this).
pub fn help_table() -> String {
    let mut out = String::from("Exit codes:\n");
    for e in Exit::ALL {
        out.push_str(&format!("  {:<3}  {}\n", e.code(), e.meaning()));
    }
    out
}

/// A failed command: its status and a one-line message naming the file and what to do.
#[derive(Debug)]
pub struct Failure {
    /// The status to end with (never [`Exit::Ok`]).
    pub exit: Exit,
    /// One line.
    pub message: String,
}

impl Failure {
    /// A failure with `exit` and `message`.
    pub fn new(exit: Exit, message: impl std::fmt::Display) -> Self {
        Failure {
            exit,
            message: message.to_string(),
        }
    }

    /// [`Exit::Failed`] with `message`.
    pub fn failed(message: impl std::fmt::Display) -> Self {
        Self::new(Exit::Failed, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_documented() {
        let codes: Vec<i32> = Exit::ALL.iter().map(|e| e.code()).collect();
        assert_eq!(codes, [0, 1, 2, 3, 130]);
        let table = help_table();
        for e in Exit::ALL {
            assert!(table.contains(e.meaning()));
        }
    }

    #[test]
    fn worst_prefers_interrupted_then_setup() {
        assert_eq!(Exit::Ok.worst(Exit::Failed), Exit::Failed);
        assert_eq!(Exit::Setup.worst(Exit::Failed), Exit::Setup);
        assert_eq!(Exit::Failed.worst(Exit::Interrupted), Exit::Interrupted);
    }
}
