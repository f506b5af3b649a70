#!/usr/bin/env python3
"""Send ONE hand-built OTLP ExportLogsServiceRequest over gRPC with every field set (grpcio + the
opentelemetry-proto classes; no SDK in between).

usage: send_raw.py --endpoint HOST:PORT --count N [--service NAME] [--gzip] [--timeout SECONDS]
                   [--kvlist-body] [--dump-request FILE]

Request: one ResourceLogs (schema_url .../1.26.0; resource attributes service.name=NAME and
"res.kind"="raw"; dropped_attributes_count 1; one entity_ref) with one ScopeLogs (schema_url
.../1.25.0; scope "peer.raw" version "1.0", attribute "scope.attr"="s", dropped_attributes_count 2)
holding N log records. Record i:
  time_unix_nano 1700000000000000000 + i*1000, observed_time_unix_nano = that + 500,
  severity_number 1..24 cycling (i % 24 + 1), severity_text "SEV<n>",
  body "record <i>" (with --kvlist-body: {"message": "record <i>", "i": i, "inner": {"deep": [1, "x"]}}),
  attributes of every AnyValue kind (see ATTRS below; "i" = i),
  dropped_attributes_count 3, flags 0x101 (sampled + a high bit), event_name "peer.raw.event",
  trace_id 0x0af7651916cd43dd8448eb211c80319c + i, span_id 0xb7ad6b7169203331 + i.

stdout: the response's partial_success as one JSON line,
  {"rejected_log_records": 0, "error_message": ""}; exit 0 when the call's status is OK.
Otherwise stdout: {"code": "UNAVAILABLE", "code_value": 14, "message": "..."}; exit 2.
--dump-request FILE writes the request as OTLP/JSON (protobuf JSON mapping) for comparison.
"""

import argparse
import json
import sys

import grpc
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import (
    AnyValue,
    ArrayValue,
    EntityRef,
    InstrumentationScope,
    KeyValue,
    KeyValueList,
)
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

TRACE_ID_BASE = 0x0AF7651916CD43DD8448EB211C80319C
SPAN_ID_BASE = 0xB7AD6B7169203331


def av(v):
    """Python value -> AnyValue. None -> an AnyValue with no value set (the 'empty' kind)."""
    if v is None:
        return AnyValue()
    if isinstance(v, bool):
        return AnyValue(bool_value=v)
    if isinstance(v, int):
        return AnyValue(int_value=v)
    if isinstance(v, float):
        return AnyValue(double_value=v)
    if isinstance(v, str):
        return AnyValue(string_value=v)
    if isinstance(v, (bytes, bytearray)):
        return AnyValue(bytes_value=bytes(v))
    if isinstance(v, (list, tuple)):
        return AnyValue(array_value=ArrayValue(values=[av(x) for x in v]))
    if isinstance(v, dict):
        return AnyValue(kvlist_value=KeyValueList(values=kvs(v)))
    raise TypeError(type(v))


def kvs(d):
    return [KeyValue(key=k, value=av(v)) for k, v in d.items()]


def attrs(i):
    return {
        "i": i,
        "kind": "raw",
        "str": "héllo \"wörld\"\n\t✓",
        "int.neg": -42,
        "int.max": 2**63 - 1,
        "int.min": -(2**63),
        "double": 3.25,
        "double.neg": -1e-300,
        "bool.true": True,
        "bool.false": False,
        "bytes": b"\x00\x01\xfe\xff",
        "empty": None,
        "array": ["a", 1, 2.5, True, b"\x02", None, ["nested", 2], {"k": "v"}],
        "array.empty": [],
        "kvlist": {"a": "x", "n": 7, "inner": {"deep": [1, "x", {"deeper": True}]}, "b": b"\x03"},
        "kvlist.empty": {},
        "str.empty": "",
    }


def build(args):
    records = []
    for i in range(args.count):
        body = (
            {"message": f"record {i}", "i": i, "inner": {"deep": [1, "x"]}}
            if args.kvlist_body
            else f"record {i}"
        )
        t = 1_700_000_000_000_000_000 + i * 1000
        sev = i % 24 + 1
        records.append(
            LogRecord(
                time_unix_nano=t,
                observed_time_unix_nano=t + 500,
                severity_number=sev,
                severity_text=f"SEV{sev}",
                body=av(body),
                attributes=kvs(attrs(i)),
                dropped_attributes_count=3,
                flags=0x101,
                trace_id=(TRACE_ID_BASE + i).to_bytes(16, "big"),
                span_id=(SPAN_ID_BASE + i).to_bytes(8, "big"),
                event_name="peer.raw.event",
            )
        )
    resource = Resource(
        attributes=kvs({"service.name": args.service, "res.kind": "raw"}),
        dropped_attributes_count=1,
        entity_refs=[
            EntityRef(
                schema_url="https://opentelemetry.io/schemas/1.26.0",
                type="service",
                id_keys=["service.name"],
                description_keys=["res.kind"],
            )
        ],
    )
    scope = InstrumentationScope(
        name="peer.raw", version="1.0", attributes=kvs({"scope.attr": "s"}), dropped_attributes_count=2
    )
    return logs_service_pb2.ExportLogsServiceRequest(
        resource_logs=[
            ResourceLogs(
                resource=resource,
                schema_url="https://opentelemetry.io/schemas/1.26.0",
                scope_logs=[
                    ScopeLogs(
                        scope=scope,
                        log_records=records,
                        schema_url="https://opentelemetry.io/schemas/1.25.0",
                    )
                ],
            )
        ]
    )


def main():
    p = argparse.ArgumentParser(description="send one hand-built OTLP logs request over gRPC")
    p.add_argument("--endpoint", required=True, help="HOST:PORT (plaintext gRPC)")
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--service", default="peer-raw")
    p.add_argument("--gzip", action="store_true")
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--kvlist-body", action="store_true")
    p.add_argument("--dump-request", metavar="FILE")
    args = p.parse_args()
    if args.count < 0:
        p.error("--count must be >= 0")
    endpoint = args.endpoint.removeprefix("http://").rstrip("/")

    req = build(args)
    if args.dump_request:
        with open(args.dump_request, "w") as f:
            f.write(json_format.MessageToJson(req, indent=None) + "\n")

    with grpc.insecure_channel(endpoint) as channel:
        stub = logs_service_pb2_grpc.LogsServiceStub(channel)
        try:
            resp = stub.Export(
                req,
                timeout=args.timeout,
                compression=grpc.Compression.Gzip if args.gzip else grpc.Compression.NoCompression,
                wait_for_ready=False,
            )
        except grpc.RpcError as e:
            code = e.code()
            print(json.dumps({"code": code.name, "code_value": code.value[0], "message": e.details()}))
            print(f"send_raw.py: error: {code.name}: {e.details()}", file=sys.stderr)
            return 2
    ps = resp.partial_success
    print(json.dumps({"rejected_log_records": ps.rejected_log_records, "error_message": ps.error_message}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
