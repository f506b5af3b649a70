//! Fidelity: generated OTLP requests survive decode → records → encode unchanged, through
//! the hand-written protobuf encoder, the prost messages and OTLP/JSON alike.

use super::*;
use crate::record::{AnyValue, LogRecord, Resource, Scope, Str};
use opentelemetry_proto::tonic::common::v1::{
    AnyValue as PAnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord as PLogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource as PResource;
use prost::Message;
use std::sync::Arc;

/// A small deterministic generator (xorshift64*), so failures reproduce from the seed.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn string(&mut self) -> String {
        const PIECES: &[&str] = &[
            "", "a", "Ω", "日本", "\"q\"", "\\", "\n", "x y", "🙂", "\u{0}",
        ];
        (0..self.below(4))
            .map(|_| PIECES[self.below(PIECES.len() as u64) as usize])
            .collect()
    }
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
    fn value(&mut self, depth: u32, json_safe: bool) -> PAnyValue {
        use any_value::Value;
        let kinds = if depth == 0 { 6 } else { 8 };
        let value = match self.below(kinds) {
            0 => None,
            1 => Some(Value::StringValue(self.string())),
            2 => Some(Value::BoolValue(self.chance(50))),
            3 => Some(Value::IntValue(match self.below(4) {
                0 => 0,
                1 => i64::MIN,
                2 => i64::MAX,
                _ => self.next() as i64,
            })),
            4 => Some(Value::DoubleValue(match self.below(4) {
                0 => 0.0,
                1 if !json_safe => f64::INFINITY,
                2 => -1.5e300,
                _ => (self.next() as f64) / 7.0,
            })),
            5 => {
                let len = self.below(5) as usize;
                Some(Value::BytesValue(self.bytes(len)))
            }
            6 => Some(Value::ArrayValue(ArrayValue {
                values: (0..self.below(4))
                    .map(|_| self.value(depth - 1, json_safe))
                    .collect(),
            })),
            _ => Some(Value::KvlistValue(KeyValueList {
                values: self.attributes(depth - 1, json_safe),
            })),
        };
        PAnyValue { value }
    }
    fn attributes(&mut self, depth: u32, json_safe: bool) -> Vec<KeyValue> {
        (0..self.below(5))
            .map(|_| KeyValue {
                key: self.string(),
                value: Some(self.value(depth, json_safe)),
                key_strindex: 0,
            })
            .collect()
    }
    fn record(&mut self, json_safe: bool) -> PLogRecord {
        PLogRecord {
            time_unix_nano: if self.chance(80) { self.next() } else { 0 },
            observed_time_unix_nano: if self.chance(80) { self.next() } else { 0 },
            severity_number: self.below(26) as i32 - if self.chance(5) { 30 } else { 0 },
            severity_text: self.string(),
            body: self.chance(90).then(|| self.value(2, json_safe)),
            attributes: self.attributes(2, json_safe),
            dropped_attributes_count: self.below(3) as u32,
            flags: if self.chance(50) {
                self.next() as u32
            } else {
                0
            },
            trace_id: if self.chance(50) {
                self.bytes(16)
            } else {
                Vec::new()
            },
            span_id: if self.chance(50) {
                self.bytes(8)
            } else {
                Vec::new()
            },
            event_name: self.string(),
        }
    }
    fn request(&mut self, json_safe: bool) -> ExportLogsServiceRequest {
        let resource_logs = (0..1 + self.below(3))
            .map(|r| {
                let mut attributes = self.attributes(1, json_safe);
                // Distinct resources, so regrouping cannot merge two of them.
                attributes.push(KeyValue {
                    key: "resource.index".into(),
                    value: Some(PAnyValue {
                        value: Some(any_value::Value::IntValue(r as i64)),
                    }),
                    key_strindex: 0,
                });
                ResourceLogs {
                    resource: Some(PResource {
                        attributes,
                        dropped_attributes_count: self.below(2) as u32,
                        entity_refs: Vec::new(),
                    }),
                    schema_url: self.string(),
                    scope_logs: (0..1 + self.below(3))
                        .map(|s| ScopeLogs {
                            scope: Some(InstrumentationScope {
                                name: format!("scope-{s}"),
                                version: self.string(),
                                attributes: self.attributes(1, json_safe),
                                dropped_attributes_count: self.below(2) as u32,
                            }),
                            schema_url: self.string(),
                            log_records: (0..1 + self.below(4))
                                .map(|_| self.record(json_safe))
                                .collect(),
                        })
                        .collect(),
                }
            })
            .collect();
        ExportLogsServiceRequest { resource_logs }
    }
}

/// What the model cannot tell apart, made canonical: an absent `AnyValue` and an empty one.
fn normalize(mut request: ExportLogsServiceRequest) -> ExportLogsServiceRequest {
    fn value(v: &mut PAnyValue) {
        match &mut v.value {
            Some(any_value::Value::ArrayValue(a)) => a.values.iter_mut().for_each(value),
            Some(any_value::Value::KvlistValue(kv)) => attributes(&mut kv.values),
            Some(any_value::Value::StringValueStrindex(_)) => v.value = None,
            _ => {}
        }
    }
    fn attributes(kvs: &mut [KeyValue]) {
        for kv in kvs {
            value(kv.value.get_or_insert_with(PAnyValue::default));
        }
    }
    for r in &mut request.resource_logs {
        attributes(&mut r.resource.get_or_insert_with(Default::default).attributes);
        for s in &mut r.scope_logs {
            attributes(&mut s.scope.get_or_insert_with(Default::default).attributes);
            for l in &mut s.log_records {
                if l.body.as_ref().is_some_and(|b| b.value.is_none()) {
                    l.body = None;
                }
                if let Some(b) = &mut l.body {
                    value(b);
                }
                attributes(&mut l.attributes);
            }
        }
    }
    request
}

#[test]
fn generated_requests_survive_protobuf_round_trips() {
    for seed in 1..=400u64 {
        let mut g = Gen(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let original = normalize(g.request(false));
        let wire = original.encode_to_vec();
        let records = records_from_request(decode_protobuf(&wire).unwrap());

        let mut ours = Vec::new();
        encode_protobuf(records.iter(), &mut ours);
        let decoded = ExportLogsServiceRequest::decode(ours.as_slice()).unwrap();
        assert_eq!(decoded, original, "seed {seed}: hand-written encoder");
        assert_eq!(
            request_from_records(records.iter()),
            original,
            "seed {seed}: prost messages"
        );
        // The hand-written encoder is byte-for-byte what prost writes.
        assert_eq!(ours, wire, "seed {seed}: bytes");
    }
}

#[test]
fn the_zero_copy_decoder_agrees_with_prost() {
    for seed in 1..=400u64 {
        let mut g = Gen(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5555);
        let wire = bytes::Bytes::from(g.request(false).encode_to_vec());
        let ours = decode_records(&wire).unwrap();
        let theirs = records_from_request(decode_protobuf(&wire).unwrap());
        assert_eq!(ours, theirs, "seed {seed}");
        // Cut anywhere: both accept exactly the same prefixes, and nothing panics.
        for cut in (0..wire.len()).step_by(7) {
            let prefix = wire.slice(..cut);
            assert_eq!(
                decode_records(&prefix).is_ok(),
                decode_protobuf(&prefix).is_ok(),
                "seed {seed}, cut at {cut}"
            );
        }
        // Flip bytes: errors, never panics.
        let mut mutated = wire.to_vec();
        for i in (0..mutated.len()).step_by(13) {
            mutated[i] ^= g.next() as u8;
        }
        let _ = decode_records(&bytes::Bytes::from(mutated));
    }
}

#[test]
fn decoded_records_carry_no_spare_capacity() {
    // Records wait in buffers by the thousand: spare vector slots there are memory per record.
    fn exact(attributes: &[(Str, AnyValue)], capacity: usize) -> bool {
        capacity == attributes.len() && attributes.iter().all(|(_, v)| exact_value(v))
    }
    fn exact_value(v: &AnyValue) -> bool {
        match v {
            AnyValue::Map(m) => exact(m, m.capacity()),
            AnyValue::Array(a) => a.capacity() == a.len() && a.iter().all(exact_value),
            _ => true,
        }
    }
    let mut nested = 0;
    for seed in 1..=50u64 {
        let mut g = Gen(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x7777);
        let wire = bytes::Bytes::from(g.request(false).encode_to_vec());
        for record in decode_records(&wire).unwrap() {
            let a = &record.attributes;
            assert!(exact(a, a.capacity()), "seed {seed}: {a:?}");
            assert!(exact_value(&record.body), "seed {seed}: {:?}", record.body);
            nested += a
                .iter()
                .filter(|(_, v)| matches!(v, AnyValue::Map(_) | AnyValue::Array(_)))
                .count();
        }
    }
    assert!(nested > 0, "the generated requests hold maps and arrays");
}

#[test]
fn the_zero_copy_decoder_explains_bad_input() {
    let err = decode_records(&bytes::Bytes::from_static(b"\x0a\x05\x12\x03")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid protobuf ExportLogsServiceRequest: length runs past the end of its message at byte 2"
    );
    // Field 1 of a KeyValue holding invalid UTF-8.
    let bad_utf8 = b"\x0a\x08\x0a\x06\x0a\x04\x0a\x02\xff\xfe";
    let err = decode_records(&bytes::Bytes::from_static(bad_utf8)).unwrap_err();
    assert!(err.to_string().contains("not UTF-8"), "{err}");
    // An array in an array in … 200 deep: refused, not a stack overflow.
    fn wrap(field: u8, inner: &[u8]) -> Vec<u8> {
        let mut out = vec![field << 3 | 2];
        prost::encoding::encode_varint(inner.len() as u64, &mut out);
        out.extend_from_slice(inner);
        out
    }
    let mut value = Vec::new();
    for _ in 0..200 {
        value = wrap(5, &wrap(1, &value));
    }
    let request = wrap(1, &wrap(2, &wrap(2, &wrap(5, &value))));
    let err = decode_records(&bytes::Bytes::from(request)).unwrap_err();
    assert!(err.to_string().contains("nested too deeply"), "{err}");
}

#[test]
fn generated_requests_survive_json_round_trips() {
    for seed in 1..=400u64 {
        let mut g = Gen(seed.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1);
        let original = normalize(g.request(true));
        let json = serde_json::to_vec(&original).unwrap();
        let records = records_from_request(decode_json(&json).unwrap());
        let back = request_from_records(records.iter());
        assert_eq!(
            back,
            original,
            "seed {seed}: {}",
            String::from_utf8_lossy(&json)
        );
    }
}

#[test]
fn json_follows_the_otlp_mapping() {
    let json = br#"{"resourceLogs":[{"resource":{"attributes":[
        {"key":"service.name","value":{"stringValue":"api"}}]},
      "scopeLogs":[{"scope":{"name":"s"},"logRecords":[{
        "timeUnixNano":"1700000000000000001","observedTimeUnixNano":1700000000000000002,
        "severityNumber":9,"severityText":"INFO","body":{"stringValue":"hello"},
        "attributes":[{"key":"n","value":{"intValue":"42"}},{"key":"m","value":{"intValue":7}},
                      {"key":"b","value":{"bytesValue":"AAEC"}}],
        "traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"eee19b7ec3c1b174",
        "flags":1,"eventName":"e","someFutureField":{"x":1}}]}]}]}"#;
    let records = records_from_request(decode_json(json).unwrap());
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r.time_unix_nano, 1_700_000_000_000_000_001);
    assert_eq!(r.observed_time_unix_nano, 1_700_000_000_000_000_002);
    assert_eq!((r.severity_number, r.severity_text.as_str()), (9, "INFO"));
    assert_eq!(r.body.as_str(), Some("hello"));
    assert_eq!(r.attributes[0].1, AnyValue::Int(42));
    assert_eq!(r.attributes[1].1, AnyValue::Int(7));
    assert_eq!(r.attributes[2].1, AnyValue::Bytes(vec![0, 1, 2].into()));
    assert_eq!(hex(&r.trace_id), "5b8efff798038103d269b633813fc60c");
    assert_eq!(hex(&r.span_id), "eee19b7ec3c1b174");
    assert_eq!(r.resource.attributes[0].1.as_str(), Some("api"));

    // And back out: 64-bit integers as strings, ids as lower-case hex.
    let out = serde_json::to_string(&request_from_records(records.iter())).unwrap();
    assert!(
        out.contains(r#""timeUnixNano":"1700000000000000001""#),
        "{out}"
    );
    assert!(out.contains(r#""intValue":"42""#), "{out}");
    assert!(
        out.contains(r#""traceId":"5b8efff798038103d269b633813fc60c""#),
        "{out}"
    );
}

#[test]
fn invalid_bodies_say_what_is_wrong() {
    let err = decode_protobuf(b"\x0a\xff\xff\xff\xff\x0f").unwrap_err();
    assert!(err.to_string().starts_with("invalid protobuf"), "{err}");
    let err = decode_json(br#"{"resourceLogs": 5}"#).unwrap_err();
    assert!(err.to_string().contains("invalid OTLP/JSON"), "{err}");
    assert!(err.to_string().contains("line 1"), "{err}");
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn records_from_different_origins_are_regrouped_by_resource_and_scope() {
    let host = |name: &str| {
        Arc::new(Resource {
            attributes: vec![(Str::from("host.name"), AnyValue::from(name.to_string()))],
            ..Resource::default()
        })
    };
    let scope = Arc::new(Scope::default());
    // Two separately built but equal resources (two connections from host a), interleaved.
    let (a1, a2, b) = (host("a"), host("a"), host("b"));
    let records: Vec<LogRecord> = [&a1, &b, &a2, &a1]
        .iter()
        .enumerate()
        .map(|(i, resource)| LogRecord {
            body: AnyValue::Int(i as i64),
            resource: Arc::clone(resource),
            scope: Arc::clone(&scope),
            ..LogRecord::default()
        })
        .collect();
    let mut wire = Vec::new();
    encode_protobuf(records.iter(), &mut wire);
    let request = ExportLogsServiceRequest::decode(wire.as_slice()).unwrap();
    assert_eq!(request.resource_logs.len(), 2, "one ResourceLogs per host");
    let bodies = |i: usize| -> Vec<_> {
        request.resource_logs[i].scope_logs[0]
            .log_records
            .iter()
            .map(|r| r.body.clone().unwrap().value)
            .collect()
    };
    use any_value::Value::IntValue;
    assert_eq!(
        bodies(0),
        [Some(IntValue(0)), Some(IntValue(2)), Some(IntValue(3))]
    );
    assert_eq!(bodies(1), [Some(IntValue(1))]);
}
