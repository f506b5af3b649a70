//! Signals: SIGTERM and SIGINT drain and exit (a second one during the drain exits at
//! once); SIGHUP reloads the config. Handlers are installed before anything starts, so a
//! signal that arrives during start-up is not fatal.

use tokio::signal::unix::{Signal, SignalKind, signal};

/// Installed SIGTERM, SIGINT and SIGHUP handlers.
pub struct Signals {
    term: Signal,
    int: Signal,
    hup: Signal,
}

impl Signals {
    /// Installs the handlers.
    pub fn install() -> std::io::Result<Signals> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    /// Waits for the next SIGTERM, SIGINT or SIGHUP and returns its name.
    pub async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
            _ = self.hup.recv() => "SIGHUP",
        }
    }

    /// Waits for the next SIGTERM or SIGINT (a SIGHUP meanwhile is logged and ignored).
    pub async fn recv_stop(&mut self) -> &'static str {
        loop {
            match self.recv().await {
                "SIGHUP" => tracing::warn!("SIGHUP while stopping: not reloading"),
                stop => return stop,
            }
        }
    }
}
