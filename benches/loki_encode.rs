//! The Loki output's hot function: `encode` of a 2000-record request of syslog-shaped
//! records (host, app, severity, ~150-byte body) into a protobuf + snappy push with 5
//! labels, in the common case of a few streams, and in the many-streams case (500 hosts).

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use logferry::batch::OwnedRecords;
use logferry::output::{Output, OutputBuildContext, OutputConfig};
use logferry::outputs::loki::LokiConfig;
use logferry::record::{AnyValue, LogRecord, Resource, Str};
use std::hint::black_box;
use std::sync::Arc;

const RECORDS: usize = 2000;

fn records(hosts: usize) -> Vec<LogRecord> {
    let resources: Vec<Arc<Resource>> = (0..hosts)
        .map(|h| {
            Arc::new(Resource {
                attributes: vec![(Str::from("host.name"), AnyValue::from(format!("host-{h}")))],
                ..Resource::default()
            })
        })
        .collect();
    (0..RECORDS)
        .map(|n| LogRecord {
            time_unix_nano: 1_700_000_000_000_000_000 + n as u64,
            observed_time_unix_nano: 1_700_000_000_000_000_000 + n as u64,
            severity_number: [9, 13, 17][n % 3],
            severity_text: Str::from("info"),
            body: AnyValue::from(format!(
                "Accepted publickey for user{} from 10.1.{}.{} port {} ssh2: ED25519 SHA256:abcdefghijklmnopqrstuvwxyz0123456789",
                n % 97,
                n % 255,
                n % 13,
                40000 + n
            )),
            attributes: vec![
                (Str::from("syslog.appname"), AnyValue::from(["sshd", "cron", "kernel"][n % 3])),
                (Str::from("syslog.procid"), AnyValue::from(format!("{}", 1000 + n % 50))),
                (Str::from("syslog.facility"), AnyValue::Int(4)),
            ],
            resource: Arc::clone(&resources[n % hosts]),
            ..LogRecord::default()
        })
        .collect()
}

fn encode(c: &mut Criterion) {
    let config: LokiConfig = toml::from_str(
        r#"
        endpoint = "http://127.0.0.1:3100"
        labels = { job = "bench", host = "{{ resource.host.name }}", app = "{{ attributes.syslog.appname }}", level = "{{ severity }}", input = "{{ input }}" }
        "#,
    )
    .unwrap();
    let cx = OutputBuildContext {
        name: "loki".into(),
        data_dir: "/tmp".into(),
        adjustments: Arc::default(),
    };
    let mut group = c.benchmark_group("loki_encode");
    group.throughput(Throughput::Elements(RECORDS as u64));
    for hosts in [3, 500] {
        let owned = OwnedRecords::new([("syslog", records(hosts))]);
        let mut output = config.build(&cx).unwrap();
        group.bench_function(format!("2000 records, 5 labels, {hosts} hosts"), |b| {
            b.iter(|| black_box(output.encode(&owned.records()).unwrap()))
        });
    }
    group.finish();
}

criterion_group!(benches, encode);
criterion_main!(benches);
