//! An accept loop shared by stream listeners (TCP, TLS, unix stream): a bound on open
//! connections (accepting pauses at the limit, so the kernel's backlog pushes back), one
//! task per connection, and shutdown that stops accepting and tells every connection to
//! finish.

use crate::metrics::InputMetrics;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// A listening socket.
pub trait Acceptor {
    type Stream: Send + 'static;
    /// The next connection and the peer's address (none for unix sockets).
    fn accept(&self)
    -> impl Future<Output = io::Result<(Self::Stream, Option<SocketAddr>)>> + Send;
}

impl Acceptor for tokio::net::TcpListener {
    type Stream = tokio::net::TcpStream;
    async fn accept(&self) -> io::Result<(Self::Stream, Option<SocketAddr>)> {
        let (stream, peer) = tokio::net::TcpListener::accept(self).await?;
        let _ = stream.set_nodelay(true);
        Ok((stream, Some(peer)))
    }
}

impl Acceptor for tokio::net::UnixListener {
    type Stream = tokio::net::UnixStream;
    async fn accept(&self) -> io::Result<(Self::Stream, Option<SocketAddr>)> {
        let (stream, _) = tokio::net::UnixListener::accept(self).await?;
        Ok((stream, None))
    }
}

/// Accepts until `shutdown`, running `handle(stream, peer, shutdown)` for each connection,
/// then waits for the connections to finish.
pub async fn serve<A, F, Fut>(
    listener: A,
    max_connections: usize,
    metrics: Arc<InputMetrics>,
    shutdown: CancellationToken,
    handle: F,
) where
    A: Acceptor,
    F: Fn(A::Stream, Option<SocketAddr>, CancellationToken) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let limit = Arc::new(Semaphore::new(max_connections.max(1)));
    let mut connections = JoinSet::new();
    loop {
        let permit = tokio::select! {
            _ = shutdown.cancelled() => break,
            permit = Arc::clone(&limit).acquire_owned() => permit.expect("never closed"),
        };
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        // Reap finished connection tasks so the set does not grow.
        while connections.try_join_next().is_some() {}
        match accepted {
            Ok((stream, peer)) => {
                let task = handle(stream, peer, shutdown.child_token());
                let metrics = Arc::clone(&metrics);
                metrics.connections.add(1);
                connections.spawn(async move {
                    task.await;
                    metrics.connections.add(-1);
                    drop(permit);
                });
            }
            Err(e) => {
                // EMFILE and friends: back off briefly instead of spinning.
                metrics.errors.add(1);
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}
