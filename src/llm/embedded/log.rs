//! llama.cpp / ggml log lines: to stderr only when verbose, otherwise dropped, and the last error
//! kept for error messages.
//!
//! llama.cpp prints through one process-wide callback (`llama_log_set`, `ggml_log_set`; by
//! default it writes to stderr). [`install`] replaces it once per process with [`callback`],
//! which writes a line to stderr only while [`set_verbose`]`(true)`, and always remembers the
//! last `ERROR`-level line so that a failed load can say why (llama.cpp's loader returns only a
//! null pointer; the reason, e.g. `unknown model architecture: 'xyz'`, is a log line).

use std::ffi::{c_char, c_void, CStr};
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::Relaxed};
use std::sync::{Mutex, Once};

use llama_cpp_sys_2::{ggml_log_level, GGML_LOG_LEVEL_CONT, GGML_LOG_LEVEL_ERROR};

static VERBOSE: AtomicBool = AtomicBool::new(false);
static LAST_LEVEL: AtomicU32 = AtomicU32::new(0);
static LAST_ERROR: Mutex<String> = Mutex::new(String::new());
static INSTALL: Once = Once::new();

/// Routes llama.cpp's and ggml's logs to [`callback`]. Idempotent; call before any other
/// llama.cpp function so that nothing reaches stderr unasked.
pub fn install() {
    INSTALL.call_once(|| {
        // SAFETY: `callback` is a plain `extern "C"` function valid for the whole process and
        // takes no user data.
        unsafe {
            llama_cpp_sys_2::llama_log_set(Some(callback), std::ptr::null_mut());
            llama_cpp_sys_2::ggml_log_set(Some(callback), std::ptr::null_mut());
        }
    });
}

/// Whether llama.cpp's log lines are written to stderr (process-wide: the last
/// `Embedded::load` sets it).
pub fn set_verbose(on: bool) {
    VERBOSE.store(on, Relaxed);
}

/// Forgets the remembered error line (before an operation whose failure should be explained).
pub fn clear_last_error() {
    if let Ok(mut e) = LAST_ERROR.lock() {
        e.clear();
    }
}

/// The last `ERROR` line llama.cpp logged since [`clear_last_error`], trimmed; `None` if none.
pub fn last_error() -> Option<String> {
    let e = LAST_ERROR.lock().ok()?;
    let t = e.trim();
    (!t.is_empty()).then(|| t.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// The log callback: see the module docs. `CONT` lines continue the previous line's level.
unsafe extern "C" fn callback(level: ggml_log_level, text: *const c_char, _data: *mut c_void) {
    if text.is_null() {
        return;
    }
    // SAFETY: llama.cpp passes a NUL-terminated string valid for the call.
    let bytes = unsafe { CStr::from_ptr(text) }.to_bytes();
    let level = if level == GGML_LOG_LEVEL_CONT {
        LAST_LEVEL.load(Relaxed)
    } else {
        LAST_LEVEL.store(level, Relaxed);
        level
    };
    if level == GGML_LOG_LEVEL_ERROR {
        if let Ok(mut e) = LAST_ERROR.lock() {
            if !e.is_empty() && e.ends_with('\n') {
                e.clear();
            }
            e.push_str(&String::from_utf8_lossy(bytes));
        }
    }
    if VERBOSE.load(Relaxed) {
        let _ = std::io::stderr().lock().write_all(bytes);
    }
}
