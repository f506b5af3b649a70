//! The syslog parser alone: 200-byte lines, RFC 5424 and RFC 3164, on one core.
//! Target: at least 2 million RFC 5424 lines/s.
//!
//! `parse` returns HOSTNAME and APP-NAME as strings; `parse_with` is the input's path: the
//! names are compared with the previous message's (the syslog decoder's resource cache) and
//! no strings are made while they repeat.

use bytes::Bytes;

// Measure with the allocator the binary ships with.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use logferry::inputs::syslog::parse::{Names, ParseOptions, parse, parse_with};
use std::hint::black_box;

const LINES: usize = 10_000;

fn lines(template: &str) -> Vec<Bytes> {
    (0..LINES)
        .map(|i| {
            let mut line = template.replace("{i}", &format!("{i:06}"));
            while line.len() < 200 {
                line.push('x');
            }
            Bytes::from(line)
        })
        .collect()
}

fn parser(c: &mut Criterion) {
    let opts = ParseOptions::new(
        chrono::FixedOffset::east_opt(0).unwrap(),
        1_795_900_000_000_000_000,
    );
    let mut group = c.benchmark_group("syslog_parse");
    group.throughput(Throughput::Elements(LINES as u64));
    for (name, template) in [
        (
            "rfc5424 200B",
            "<165>1 2026-11-29T03:04:05.123456Z host01.example.org app-name 4242 ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\"] message {i} ",
        ),
        (
            "rfc5424 200B no SD",
            "<165>1 2026-11-29T03:04:05.123Z host01 app 4242 ID47 - message {i} ",
        ),
        (
            "rfc3164 200B",
            "<34>Nov 29 03:04:05 host01 sshd[4242]: message {i} ",
        ),
    ] {
        let input = lines(template);
        // Parsing alone: the parsed records are dropped outside the timing (criterion drops a
        // batched routine's output after measuring).
        group.bench_function(format!("{name} parse"), |b| {
            b.iter_batched(
                || input.clone(),
                |lines| {
                    lines
                        .into_iter()
                        .map(|l| parse(l, &opts))
                        .collect::<Vec<_>>()
                },
                BatchSize::LargeInput,
            )
        });
        group.bench_function(format!("{name} parse_with"), |b| {
            b.iter_batched(
                || input.clone(),
                |lines| {
                    let mut last: (Option<String>, Option<String>) = (None, None);
                    let mut same = 0usize;
                    let mut names = |n: &Names| {
                        if last.0.as_deref() == n.host() && last.1.as_deref() == n.app() {
                            same += 1;
                        } else {
                            last = (n.host().map(String::from), n.app().map(String::from));
                        }
                    };
                    let records = lines
                        .into_iter()
                        .map(|l| parse_with(l, &opts, &mut names).0)
                        .collect::<Vec<_>>();
                    (records, same)
                },
                BatchSize::LargeInput,
            )
        });
        // Parsing and dropping each record, as a record's whole life costs.
        group.bench_function(format!("{name} parse+drop"), |b| {
            b.iter(|| {
                for line in &input {
                    black_box(parse(line.clone(), &opts));
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, parser);
criterion_main!(benches);
