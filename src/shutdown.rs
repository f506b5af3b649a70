//! Signals that stop logferry: SIGTERM and SIGINT drain and exit; a second one during the
//! drain exits at once. Handlers are installed before anything starts, so a signal that
//! arrives during start-up is not fatal.

use tokio::signal::unix::{Signal, SignalKind, signal};

/// Installed SIGTERM and SIGINT handlers.
pub struct Signals {
    term: Signal,
    int: Signal,
}

impl Signals {
    /// Installs the handlers.
    pub fn install() -> std::io::Result<Signals> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// Waits for the next SIGTERM or SIGINT and returns its name.
    pub async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}
