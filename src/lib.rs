//! logferry: a log collection agent. Inputs decode what senders send into [`record::LogRecord`]s
//! (the OpenTelemetry log data model) and hand them over in [`batch::Batch`]es; the engine
//! routes each batch, by `Arc`, to every output that takes its input; each output buffers,
//! batches, sends, retries, and settles every record, which resolves the batch's
//! [`ack::AckToken`] so acknowledging inputs answer their senders only after delivery.
//!
//! Codemap:
//! - the contract, all a plugin may use: [`record`], [`batch`], [`ack`], [`input`], [`output`],
//!   and the config units in [`config`];
//! - the engine: [`pipeline`] (router, buffer, batcher, retry, driver), [`ledger`] (every
//!   record accounted for), [`metrics`], [`admin`], [`shutdown`];
//! - the edges: [`config`] (TOML, interpolation, checks), [`cli`];
//! - the plugins: [`inputs`] and [`outputs`], one folder each, one registry line each.

pub mod ack;
pub mod admin;
pub mod batch;
pub mod budget;
pub mod cli;
pub mod config;
#[doc(hidden)]
pub mod fuzz;
pub mod input;
pub mod ledger;
pub mod metrics;
pub mod net;
pub mod output;
pub mod pipeline;
pub mod record;
mod recycle;
mod registry;
pub mod shutdown;

#[path = "../inputs/mod.rs"]
pub mod inputs;
#[path = "../outputs/mod.rs"]
pub mod outputs;
