#!/usr/bin/env python3
"""Send log records with the OpenTelemetry Python SDK configured only by the standard
environment variables, as an application following docs/senders/otel-sdk.env would:
OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_EXPORTER_OTLP_PROTOCOL ("grpc" or "http/protobuf",
the SDK's default for an unset value being http/protobuf). The exporter is built without
arguments, so the endpoint comes from the environment exactly as the SDK resolves it
(for HTTP, /v1/logs is appended to the base endpoint).

usage: send_env.py COUNT MESSAGE_PREFIX     (records "<prefix> <i>", i = 0..COUNT-1)
Exit status 0 once the provider's shutdown flushed every record.
"""

import os
import sys
import time

from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor


def main() -> int:
    count, prefix = int(sys.argv[1]), sys.argv[2]
    protocol = os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
    else:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    provider = LoggerProvider()
    provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter()))
    logger = provider.get_logger("recipe")
    for i in range(count):
        logger.emit(
            timestamp=time.time_ns(),
            severity_number=SeverityNumber.INFO,
            severity_text="INFO",
            body=f"{prefix} {i}",
        )
    if not provider.force_flush(10_000):
        return 1
    provider.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
