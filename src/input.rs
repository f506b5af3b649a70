//! The input contract: a serde config (unknown keys refused) whose `build()` does no I/O, so
//! that `logferry validate` can call it, and an [`Input`] whose `run` returns when
//! `cx.shutdown` fires (or when a finite source such as stdin ends).

use crate::batch::BatchSender;
use crate::metrics::InputMetrics;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// What a plugin config needs to build its input.
#[derive(Clone, Debug)]
pub struct InputBuildContext {
    /// The input's name (its table key).
    pub name: String,
    /// Where it may keep state (checkpoints): its own `data_dir` or the global one.
    pub data_dir: PathBuf,
}

/// A plugin's config.
pub trait InputConfig: serde::de::DeserializeOwned + Send + 'static {
    type Input: Input;
    /// Checks the config and builds the input without touching the network or the disk.
    fn build(&self, cx: &InputBuildContext) -> Result<Self::Input, String>;
}

/// Everything a running input gets. Kept small on purpose.
pub struct InputContext {
    pub name: Arc<str>,
    /// Where batches go; applies back-pressure and counts.
    pub sender: BatchSender,
    /// Fires when the input must stop accepting and return.
    pub shutdown: CancellationToken,
    pub metrics: Arc<InputMetrics>,
}

/// Why an input stopped before it was asked to.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

/// A source of records.
pub trait Input: Send + 'static {
    /// Produces batches until `cx.shutdown` fires or the source ends.
    fn run(self, cx: InputContext) -> impl Future<Output = Result<(), InputError>> + Send;
}

type InputFuture = std::pin::Pin<Box<dyn Future<Output = Result<(), InputError>> + Send>>;

/// A built input, ready to run. The box is opened once, at start.
pub struct BuiltInput(Box<dyn FnOnce(InputContext) -> InputFuture + Send>);

impl BuiltInput {
    pub fn new<I: Input>(input: I) -> Self {
        BuiltInput(Box::new(move |cx| Box::pin(input.run(cx))))
    }

    pub(crate) fn start(self, cx: InputContext) -> InputFuture {
        (self.0)(cx)
    }
}
