//! Logging into the host's logs: the one thing a policy may ask of the host.
//!
//! The host bounds how much one evaluation may log; lines past the bound are
//! dropped with a note. Natively (in a policy's unit tests) lines go to stderr.

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Fine detail.
    Debug,
    /// Normal operation.
    Info,
    /// Something the operator should see.
    Warn,
}

/// Write one line to the host's log.
pub fn write(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    crate::component::log(level, message);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("[{level:?}] {message}");
}

/// Log at debug level.
pub fn debug(message: &str) {
    write(Level::Debug, message);
}

/// Log at info level.
pub fn info(message: &str) {
    write(Level::Info, message);
}

/// Log at warn level.
pub fn warn(message: &str) {
    write(Level::Warn, message);
}
