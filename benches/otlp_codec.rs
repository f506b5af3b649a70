//! The OTLP codec's hot functions: decoding an `ExportLogsServiceRequest` of 1000 SDK-shaped
//! records (10 attributes, ~200-byte body) into records, and encoding them back (with the
//! regrouping by resource and scope).

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use logferry::record::otlp::{decode_records, encode_protobuf};
use logferry::record::{AnyValue, LogRecord, Resource, Scope, Str};
use std::hint::black_box;
use std::sync::Arc;

const RECORDS: usize = 1000;

fn records() -> Vec<LogRecord> {
    let resource = Arc::new(Resource {
        attributes: vec![
            (Str::from("service.name"), AnyValue::from("checkout")),
            (Str::from("host.name"), AnyValue::from("node-17")),
        ],
        ..Resource::default()
    });
    let scope = Arc::new(Scope {
        name: Str::from("app.logger"),
        ..Scope::default()
    });
    (0..RECORDS)
        .map(|n| LogRecord {
            time_unix_nano: 1_700_000_000_000_000_000 + n as u64,
            observed_time_unix_nano: 1_700_000_000_000_000_000 + n as u64,
            severity_number: 9,
            severity_text: Str::from("INFO"),
            body: AnyValue::from(format!(
                "request {n} completed: GET /api/v1/orders/{n}?expand=items status=200 bytes=5120 duration_ms=12 user=u{} session=s{} region=eu-west-1",
                n % 977,
                n % 131
            )),
            attributes: (0..10)
                .map(|k| {
                    let value = if k % 3 == 0 {
                        AnyValue::Int((n + k) as i64)
                    } else {
                        AnyValue::from(format!("value-{k}-{}", n % 100))
                    };
                    (Str::from(format!("attr.key{k}")), value)
                })
                .collect(),
            trace_id: Bytes::from(vec![7u8; 16]),
            span_id: Bytes::from(vec![9u8; 8]),
            resource: Arc::clone(&resource),
            scope: Arc::clone(&scope),
            ..LogRecord::default()
        })
        .collect()
}

fn codec(c: &mut Criterion) {
    let records = records();
    let mut wire = Vec::new();
    encode_protobuf(records.iter(), &mut wire);
    let wire = Bytes::from(wire);
    let mut group = c.benchmark_group("otlp_codec");
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.bench_function("decode 1000 records, 10 attributes", |b| {
        b.iter_with_large_drop(|| decode_records(black_box(&wire)).unwrap())
    });
    let mut buf = Vec::with_capacity(wire.len());
    group.bench_function("encode 1000 records, 10 attributes", |b| {
        b.iter(|| {
            buf.clear();
            encode_protobuf(black_box(records.iter()), &mut buf);
            black_box(buf.len())
        })
    });
    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
