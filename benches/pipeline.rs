//! The engine's hot path: batches of 200-byte records through input channel, router,
//! buffer, batcher and driver into an output that discards them, on one core (a current-
//! thread runtime). Target: at least 5 million records/s, so the engine never limits an
//! input.

use bytes::Bytes;

// Measure with the allocator the binary ships with.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use logferry::batch::Batch;
use logferry::input::{BuiltInput, Input, InputContext, InputError};
use logferry::pipeline::testing::NullOutput;
use logferry::pipeline::{
    BufferSettings, BuiltOutput, DriverSettings, InputSpec, OutputSpec, Pipeline,
};
use logferry::record::{AnyValue, LogRecord, Resource, Str};
use std::sync::Arc;
use std::time::{Duration, Instant};

const RECORDS_PER_BATCH: usize = 1024;
const BATCHES: usize = 200;

/// Sends pre-built batches as fast as the pipeline takes them.
struct Replay(Vec<Batch>);

impl Input for Replay {
    async fn run(self, cx: InputContext) -> Result<(), InputError> {
        for batch in self.0 {
            if cx.sender.send(batch).await.is_err() {
                break;
            }
        }
        Ok(())
    }
}

/// Batches of records whose bodies are 200-byte slices of one buffer, as an input that
/// slices its read buffer would make them.
fn batches() -> Vec<Batch> {
    let line = "x".repeat(199) + "\n";
    let buffer = Bytes::from(line.repeat(RECORDS_PER_BATCH));
    let resource = Arc::new(Resource::default());
    (0..BATCHES)
        .map(|_| {
            let records = (0..RECORDS_PER_BATCH)
                .map(|i| {
                    let body = Str::from_utf8(buffer.slice(i * 200..i * 200 + 199)).unwrap();
                    let mut r = LogRecord::new(AnyValue::String(body), 1);
                    r.resource = Arc::clone(&resource);
                    r
                })
                .collect();
            Batch::new(records)
        })
        .collect()
}

fn run_once(runtime: &tokio::runtime::Runtime, fan_out: usize) -> Duration {
    let input = batches();
    runtime.block_on(async move {
        let start = Instant::now();
        let outputs = (0..fan_out)
            .map(|i| OutputSpec {
                name: format!("null{i}"),
                built: BuiltOutput::new(NullOutput),
                takes: vec![0],
                buffer: BufferSettings::default(),
                driver: DriverSettings::default(),
                data_dir: std::env::temp_dir(),
            })
            .collect();
        let mut pipeline = Pipeline::start(
            vec![InputSpec {
                name: "replay".into(),
                built: BuiltInput::new(Replay(input)),
            }],
            outputs,
        )
        .expect("memory buffers open");
        pipeline.inputs_finished().await;
        let telemetry = pipeline.telemetry();
        pipeline.shutdown(Duration::from_secs(60)).await;
        let elapsed = start.elapsed();
        let ledger = telemetry.ledger();
        assert!(
            ledger
                .routes
                .iter()
                .all(|r| r.delivered == (BATCHES * RECORDS_PER_BATCH) as u64)
        );
        elapsed
    })
}

fn pipeline(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("pipeline");
    group.throughput(Throughput::Elements((BATCHES * RECORDS_PER_BATCH) as u64));
    group.sample_size(20);
    for fan_out in [1, 2] {
        group.bench_function(
            format!("200B records, 1 input -> {fan_out} null outputs"),
            |b| b.iter_custom(|iters| (0..iters).map(|_| run_once(&runtime, fan_out)).sum()),
        );
    }
    group.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
