//! Counters, gauges and histograms for the admin `/metrics` endpoint, in Prometheus text.
//!
//! The set of components is fixed when the topology starts, so metrics are plain atomics in
//! per-component structs: updating one is a relaxed add, never a map lookup. Record counts
//! come from the [`Ledger`](crate::ledger::Ledger) so that they balance by construction.

use crate::ledger::Snapshot;
use crate::output::Adjustments;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// A monotonically increasing count.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down.
#[derive(Debug, Default)]
pub struct Gauge(AtomicI64);

impl Gauge {
    pub fn add(&self, n: i64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub fn set(&self, n: i64) {
        self.0.store(n, Ordering::Relaxed);
    }
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Upper bounds (seconds) of the delivery-latency buckets.
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0, 120.0,
];

/// A fixed-bucket histogram of durations.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    /// Records `n` observations of `d`.
    pub fn observe(&self, d: Duration, n: u64) {
        let secs = d.as_secs_f64();
        if let Some(i) = LATENCY_BUCKETS.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(n, Ordering::Relaxed);
        }
        self.count.fetch_add(n, Ordering::Relaxed);
        self.sum_micros
            .fetch_add(d.as_micros() as u64 * n, Ordering::Relaxed);
    }

    /// Total observations.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

/// Telemetry of one input.
#[derive(Debug, Default)]
pub struct InputMetrics {
    pub name: String,
    /// Bytes read off the wire or file, before decoding.
    pub bytes_received: Counter,
    /// Malformed input, failed connections, and other errors the input recovered from.
    pub errors: Counter,
    /// Open connections (stream listeners) or open files (tailers).
    pub connections: Gauge,
    /// Messages that could not be parsed and were kept whole, marked with the reason.
    pub parse_failures: Counter,
    /// Messages or lines cut at the size limit (kept, marked `log.truncated`).
    pub truncated: Counter,
    /// Requests or frames refused with a "retry later" answer because the pipeline was full
    /// (the sender keeps the records and tries again).
    pub refused: Counter,
}

/// Telemetry of one output.
#[derive(Debug, Default)]
pub struct OutputMetrics {
    pub name: String,
    /// Encoded bytes of requests the destination accepted.
    pub bytes_sent: Counter,
    /// Requests the destination accepted.
    pub requests: Counter,
    /// Failed send attempts (each retry counts once).
    pub errors: Counter,
    /// Retries scheduled.
    pub retries: Counter,
    /// Records and estimated bytes waiting in the buffer or in flight.
    pub buffer_records: Gauge,
    pub buffer_bytes: Gauge,
    /// Bytes of disk buffer segment files.
    pub buffer_disk_bytes: Gauge,
    /// Corrupt stretches found in the disk buffer (each set aside, counted once).
    pub buffer_corrupt: Counter,
    /// Failed disk buffer writes.
    pub buffer_write_errors: Counter,
    /// Time from an input receiving a record to the output's final verdict on it.
    pub delivery_latency: Histogram,
    /// Records the output changed so its destination would take them, by reason.
    pub adjusted: Arc<Adjustments>,
}

/// Appends the `memory_limit` budget: its limit and the estimated bytes held against it.
pub fn render_budget(out: &mut String, used: usize, limit: usize) {
    for (name, help, value) in [
        (
            "logferry_memory_limit_bytes",
            "The configured memory_limit.",
            limit,
        ),
        (
            "logferry_memory_used_bytes",
            "Estimated bytes of records held in memory buffers against memory_limit.",
            used,
        ),
    ] {
        family(out, name, "gauge", help);
        sample(out, name, &[], value as u64);
    }
}

/// Appends the config reload counters.
pub fn render_reloads(out: &mut String, reloads: &crate::pipeline::ReloadCounts) {
    let name = "logferry_config_reloads_total";
    family(
        out,
        name,
        "counter",
        "Config reloads by outcome (applied, refused: invalid config, failed: a component did not start).",
    );
    for (outcome, n) in [
        ("applied", reloads.applied.get()),
        ("refused", reloads.refused.get()),
        ("failed", reloads.failed.get()),
    ] {
        sample(out, name, &[("outcome", outcome)], n);
    }
    let name = "logferry_config_last_reload_successful";
    family(
        out,
        name,
        "gauge",
        "1 when the last reload (or the start) applied its config.",
    );
    sample(out, name, &[], reloads.last_ok.get());
}

/// Renders every metric in Prometheus text exposition format.
pub fn render(inputs: &[&InputMetrics], outputs: &[&OutputMetrics], ledger: &Snapshot) -> String {
    let mut out = String::with_capacity(4096);
    family(
        &mut out,
        "logferry_input_records_received_total",
        "counter",
        "Records an input received.",
    );
    for (name, n) in &ledger.received {
        sample(
            &mut out,
            "logferry_input_records_received_total",
            &[("input", name)],
            *n,
        );
    }
    type InputField = fn(&InputMetrics) -> i64;
    let input_families: [(&str, &str, &str, InputField); 6] = [
        (
            "logferry_input_bytes_received_total",
            "counter",
            "Bytes an input read before decoding.",
            |m| m.bytes_received.get() as i64,
        ),
        (
            "logferry_input_errors_total",
            "counter",
            "Errors an input recovered from (malformed data, failed connections).",
            |m| m.errors.get() as i64,
        ),
        (
            "logferry_input_connections",
            "gauge",
            "Open connections or files of an input.",
            |m| m.connections.get(),
        ),
        (
            "logferry_input_parse_failures_total",
            "counter",
            "Messages an input could not parse (kept whole, marked with the reason).",
            |m| m.parse_failures.get() as i64,
        ),
        (
            "logferry_input_truncated_total",
            "counter",
            "Messages or lines cut at the input's size limit (kept, marked log.truncated).",
            |m| m.truncated.get() as i64,
        ),
        (
            "logferry_input_refused_total",
            "counter",
            "Requests an input answered with \"retry later\" because the pipeline was full.",
            |m| m.refused.get() as i64,
        ),
    ];
    for (name, kind, help, get) in input_families {
        family(&mut out, name, kind, help);
        for m in inputs {
            sample(&mut out, name, &[("input", &m.name)], get(m));
        }
    }

    family(
        &mut out,
        "logferry_records_total",
        "counter",
        "Records per route by outcome: delivered, rejected, dropped.",
    );
    family(
        &mut out,
        "logferry_records_buffered",
        "gauge",
        "Records per route received but not yet settled.",
    );
    for r in &ledger.routes {
        let labels = [("input", r.input.as_str()), ("output", r.output.as_str())];
        for (outcome, n) in [
            ("delivered", r.delivered),
            ("rejected", r.rejected),
            ("dropped", r.dropped),
        ] {
            sample(
                &mut out,
                "logferry_records_total",
                &[labels[0], labels[1], ("outcome", outcome)],
                n,
            );
        }
        sample(&mut out, "logferry_records_buffered", &labels, r.buffered);
    }
    family(
        &mut out,
        "logferry_records_replayed_total",
        "counter",
        "Records found in an output's disk buffer at start, left by an earlier run.",
    );
    for r in &ledger.routes {
        let labels = [("input", r.input.as_str()), ("output", r.output.as_str())];
        sample(
            &mut out,
            "logferry_records_replayed_total",
            &labels,
            r.replayed,
        );
    }
    family(
        &mut out,
        "logferry_records_rejected_total",
        "counter",
        "Rejected records per route and reason.",
    );
    for r in &ledger.routes {
        for (reason, n) in &r.rejected_by {
            sample(
                &mut out,
                "logferry_records_rejected_total",
                &[
                    ("input", &r.input),
                    ("output", &r.output),
                    ("reason", reason),
                ],
                *n,
            );
        }
    }
    family(
        &mut out,
        "logferry_records_dropped_total",
        "counter",
        "Dropped records per route and reason.",
    );
    for r in &ledger.routes {
        for (reason, n) in &r.dropped_by {
            sample(
                &mut out,
                "logferry_records_dropped_total",
                &[
                    ("input", &r.input),
                    ("output", &r.output),
                    ("reason", reason),
                ],
                *n,
            );
        }
    }

    type OutputField = fn(&OutputMetrics) -> i64;
    let output_families: [(&str, &str, &str, OutputField); 9] = [
        (
            "logferry_output_bytes_sent_total",
            "counter",
            "Encoded bytes the destination accepted.",
            |m| m.bytes_sent.get() as i64,
        ),
        (
            "logferry_output_requests_total",
            "counter",
            "Requests the destination accepted.",
            |m| m.requests.get() as i64,
        ),
        (
            "logferry_output_errors_total",
            "counter",
            "Failed send attempts.",
            |m| m.errors.get() as i64,
        ),
        (
            "logferry_output_retries_total",
            "counter",
            "Retries scheduled after a failed attempt.",
            |m| m.retries.get() as i64,
        ),
        (
            "logferry_output_buffer_records",
            "gauge",
            "Records in the output's buffer or in flight.",
            |m| m.buffer_records.get(),
        ),
        (
            "logferry_output_buffer_bytes",
            "gauge",
            "Estimated bytes in the output's buffer or in flight.",
            |m| m.buffer_bytes.get(),
        ),
        (
            "logferry_output_buffer_disk_bytes",
            "gauge",
            "Bytes of the output's disk buffer segment files (0 for a memory buffer).",
            |m| m.buffer_disk_bytes.get(),
        ),
        (
            "logferry_output_buffer_corrupt_total",
            "counter",
            "Corrupt or torn stretches found in the disk buffer and set aside.",
            |m| m.buffer_corrupt.get() as i64,
        ),
        (
            "logferry_output_buffer_write_errors_total",
            "counter",
            "Failed writes to the disk buffer (a full disk, say); the batch was retried.",
            |m| m.buffer_write_errors.get() as i64,
        ),
    ];
    for (name, kind, help, get) in output_families {
        family(&mut out, name, kind, help);
        for m in outputs {
            sample(&mut out, name, &[("output", &m.name)], get(m));
        }
    }

    let name = "logferry_output_records_adjusted_total";
    family(
        &mut out,
        name,
        "counter",
        "Records an output changed so its destination would take them, by reason.",
    );
    for m in outputs {
        for (reason, n) in m.adjusted.snapshot() {
            sample(
                &mut out,
                name,
                &[("output", &m.name), ("reason", reason)],
                n,
            );
        }
    }

    let name = "logferry_output_delivery_latency_seconds";
    family(
        &mut out,
        name,
        "histogram",
        "Seconds from receipt by an input to the output's final verdict, per record.",
    );
    for m in outputs {
        let h = &m.delivery_latency;
        let mut cumulative = 0;
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            cumulative += h.buckets[i].load(Ordering::Relaxed);
            let le = bound.to_string();
            sample(
                &mut out,
                &format!("{name}_bucket"),
                &[("output", &m.name), ("le", &le)],
                cumulative,
            );
        }
        sample(
            &mut out,
            &format!("{name}_bucket"),
            &[("output", &m.name), ("le", "+Inf")],
            h.count(),
        );
        let _ = writeln!(
            out,
            "{name}_sum{{output=\"{}\"}} {}",
            escape(&m.name),
            h.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        sample(
            &mut out,
            &format!("{name}_count"),
            &[("output", &m.name)],
            h.count(),
        );
    }
    out
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{k}=\"{}\"", escape(v));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::Ledger;

    #[test]
    fn renders_ledger_and_component_metrics() {
        let names = vec!["in".to_string()];
        let ledger = Ledger::new(&names, &["out".to_string()], &[vec![0]]);
        ledger.received(0, 5);
        ledger.routed(0, 5, ledger.route(0, 0));
        let input = InputMetrics {
            name: "in".into(),
            ..Default::default()
        };
        input.bytes_received.add(100);
        let output = OutputMetrics {
            name: "out".into(),
            ..Default::default()
        };
        output.delivery_latency.observe(Duration::from_millis(3), 5);
        let text = render(&[&input], &[&output], &ledger.snapshot());
        assert!(text.contains("logferry_input_records_received_total{input=\"in\"} 5\n"));
        assert!(text.contains("logferry_input_bytes_received_total{input=\"in\"} 100\n"));
        assert!(text.contains("logferry_records_buffered{input=\"in\",output=\"out\"} 5\n"));
        assert!(text.contains(
            "logferry_output_delivery_latency_seconds_bucket{output=\"out\",le=\"0.005\"} 5\n"
        ));
        assert!(text.contains(
            "logferry_output_delivery_latency_seconds_bucket{output=\"out\",le=\"0.001\"} 0\n"
        ));
    }
}
