#!/usr/bin/env python3
"""Send N log records through the OpenTelemetry Python logs SDK (a real third-party OTLP client).

usage: send.py --protocol grpc|http --endpoint URL --count N [--batch] [--service NAME]
               [--gzip] [--timeout SECONDS] [--start I] [--no-timestamp]

  grpc: --endpoint http://HOST:PORT (plaintext; https:// would mean TLS)
  http: --endpoint http://HOST:PORT[/PATH]; with no path, /v1/logs is appended (OTLP/HTTP protobuf)

Record i (i = start .. start+count-1):
  body "record <i>", severity INFO (9) for even i and ERROR (17) for odd i,
  attributes {"i": i, "kind": "python", "ratio": 0.5, "ok": True, "tags": ["a", "b"]},
  time_unix_nano = now (as the SDK's logging.Handler does; --no-timestamp leaves it 0, so only
  observed_time_unix_nano, which the SDK always sets, is there),
  every third record (i % 3 == 0) in a sampled span context:
    trace_id = 0x5b8efff798038103d269b633813fc600 + i, span_id = 0xeee19b7ec3c1b100 + i, flags 1.
Resource: service.name=NAME (default "peer-python") plus the SDK's telemetry.sdk.* attributes.
Scope: name "peer.python", version "1.0".

Without --batch a SimpleLogRecordProcessor exports each record in its own request as it is emitted;
with --batch a BatchLogRecordProcessor groups them (up to 512 a request). Either way the provider is
force-flushed and shut down. Exit status: 0 if every export succeeded, 1 if any failed (the exporter's
own result is recorded by a wrapper), 2 on bad arguments. Runs with the venv setup.sh makes:
  ~/.cache/logferry-peers/otel-py/bin/python tests/peers/otlp/send.py ...
"""

import argparse
import sys
import threading
import time
import urllib.parse

from opentelemetry.context import Context
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    LogRecordExporter,
    LogRecordExportResult,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry._logs import SeverityNumber
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context

TRACE_ID_BASE = 0x5B8EFFF798038103D269B633813FC600
SPAN_ID_BASE = 0xEEE19B7EC3C1B100


class RecordingExporter(LogRecordExporter):
    """Delegates to the real OTLP exporter and remembers every result that is not SUCCESS."""

    def __init__(self, inner):
        self.inner = inner
        self.lock = threading.Lock()
        self.exported = 0
        self.failed = 0
        self.calls = 0

    def export(self, batch):
        batch = list(batch)
        try:
            result = self.inner.export(batch)
        except Exception as exc:  # the SDK would swallow it; count it as a failure
            print(f"send.py: export raised {exc!r}", file=sys.stderr)
            result = LogRecordExportResult.FAILURE
        with self.lock:
            self.calls += 1
            if result == LogRecordExportResult.SUCCESS:
                self.exported += len(batch)
            else:
                self.failed += len(batch)
        return result

    def force_flush(self, timeout_millis=30000):
        return self.inner.force_flush(timeout_millis)

    def shutdown(self):
        self.inner.shutdown()


def make_exporter(args):
    if args.protocol == "grpc":
        from grpc import Compression
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter

        parsed = urllib.parse.urlsplit(args.endpoint if "://" in args.endpoint else "http://" + args.endpoint)
        return OTLPLogExporter(
            endpoint=args.endpoint,
            insecure=parsed.scheme != "https",
            timeout=args.timeout,
            compression=Compression.Gzip if args.gzip else Compression.NoCompression,
        )
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

    endpoint = args.endpoint if "://" in args.endpoint else "http://" + args.endpoint
    if urllib.parse.urlsplit(endpoint).path in ("", "/"):
        endpoint = endpoint.rstrip("/") + "/v1/logs"
    return OTLPLogExporter(
        endpoint=endpoint,
        timeout=args.timeout,
        compression=Compression.Gzip if args.gzip else Compression.NoCompression,
    )


def main():
    p = argparse.ArgumentParser(description="send log records with the OpenTelemetry Python SDK")
    p.add_argument("--protocol", choices=["grpc", "http"], required=True)
    p.add_argument("--endpoint", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--start", type=int, default=0, help="index of the first record (default 0)")
    p.add_argument("--batch", action="store_true", help="BatchLogRecordProcessor instead of Simple")
    p.add_argument("--service", default="peer-python")
    p.add_argument("--gzip", action="store_true", help="gzip-compress the requests")
    p.add_argument("--timeout", type=float, default=10.0, help="per-export timeout in seconds")
    p.add_argument("--no-timestamp", action="store_true", help="leave time_unix_nano unset")
    args = p.parse_args()
    if args.count < 0:
        p.error("--count must be >= 0")

    exporter = RecordingExporter(make_exporter(args))
    provider = LoggerProvider(resource=Resource.create({"service.name": args.service}))
    if args.batch:
        processor = BatchLogRecordProcessor(exporter, schedule_delay_millis=200, max_queue_size=max(2048, args.count))
    else:
        processor = SimpleLogRecordProcessor(exporter)
    provider.add_log_record_processor(processor)
    logger = provider.get_logger("peer.python", "1.0")

    for i in range(args.start, args.start + args.count):
        ctx = Context()
        if i % 3 == 0:
            sc = SpanContext(
                trace_id=TRACE_ID_BASE + i,
                span_id=SPAN_ID_BASE + i,
                is_remote=False,
                trace_flags=TraceFlags(TraceFlags.SAMPLED),
            )
            ctx = set_span_in_context(NonRecordingSpan(sc), ctx)
        error = i % 2 == 1
        logger.emit(
            timestamp=None if args.no_timestamp else time.time_ns(),
            context=ctx,
            severity_number=SeverityNumber.ERROR if error else SeverityNumber.INFO,
            severity_text="ERROR" if error else "INFO",
            body=f"record {i}",
            attributes={"i": i, "kind": "python", "ratio": 0.5, "ok": True, "tags": ["a", "b"]},
        )

    flushed = provider.force_flush(timeout_millis=int(args.timeout * 1000) + 5000)
    provider.shutdown()
    sent = exporter.exported
    print(
        f"send.py: protocol={args.protocol} endpoint={args.endpoint} records={args.count} "
        f"exported={sent} failed={exporter.failed} requests={exporter.calls}",
        file=sys.stderr,
    )
    if not flushed or exporter.failed or sent != args.count:
        print("send.py: error: export failed" + ("" if flushed else " (force_flush timed out)"), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
