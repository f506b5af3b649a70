//! The async runtime that runs inputs, outputs and the admin endpoint.

use anyhow::Context;

/// The multi-threaded runtime that runs the pipeline, with `threads` workers (unset: one per
/// core, tokio's default, which `TOKIO_WORKER_THREADS` may change).
pub(super) fn build(threads: Option<usize>) -> anyhow::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = threads {
        builder.worker_threads(n);
    }
    builder
        .enable_all()
        .thread_name("logferry")
        .build()
        .context("starting the async runtime")
}

#[cfg(test)]
mod tests {
    #[test]
    fn threads_sets_the_number_of_workers() {
        for n in [1, 3] {
            let runtime = super::build(Some(n)).unwrap();
            assert_eq!(runtime.metrics().num_workers(), n);
        }
    }
}
