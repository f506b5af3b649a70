#!/usr/bin/env python3
"""Push N log lines to a Loki push endpoint through python-logging-loki 0.3.1 (a real third-party
Loki client: logging_loki.LokiHandler with its emitter version "1").

usage: push.py --endpoint URL --count N [--tenant ID] [--start I] [--timeout SECONDS]

  --endpoint http://HOST:PORT[/PATH]; with no path, /loki/api/v1/push is appended.
  --tenant   sent as the X-Scope-OrgID header (the library has no option for it: push.py gives the
             library's requests.Session that header; it also gives it a default --timeout, 10 s).

Line i (i = start .. start+count-1): "line-<i>", logged at INFO by the logger "peer" with the labels
{job="peer", n="<i % 3>"}. The library always adds the labels severity="info" (the level name in
lower case) and logger="peer", so each stream is {job, severity, logger, n}.
The library has no structured metadata (and no protobuf): nothing else is sent.

What the library sends (one request per log record, synchronously in logging's emit, no batching,
one keep-alive requests.Session):
  POST <endpoint>
  Content-Type: application/json   (requests' json=: json.dumps with ", " / ": " separators, ASCII
                                    escapes for non-ASCII), Content-Length set, no compression;
  User-Agent: python-requests/2.34.2, Accept-Encoding: gzip, deflate, Accept: */*,
  Connection: keep-alive (+ X-Scope-OrgID with --tenant)
  {"streams": [{"stream": {"job": "peer", "severity": "info", "logger": "peer", "n": "0"},
                "values": [["1795929016376936704", "line-0"]]}]}
  - one stream with one value per request; label values are str()s in that key order;
  - the timestamp is str(int(time.time() * 1e9)) taken at send time (not the record's creation
    time): nanoseconds as a decimal string, computed through a float, so only ~0.25 us precise
    (the last digits are float noise, not zeros).
  - success is exactly HTTP 204: any other status (even 200) is a failure ("Unexpected Loki API
    response status code"); the response body is ignored.

Exit status: 0 if every record got a 204, 1 otherwise, 2 on bad arguments. A summary
(`pushed=N failed=N requests=N`) goes to stderr. Runs with the venv setup.sh makes:
  ~/.cache/logferry-peers/loki/py/bin/python tests/peers/loki/push.py ...
"""

import argparse
import logging
import sys
import traceback
import urllib.parse

import requests
from logging_loki import LokiHandler


class CountingHandler(LokiHandler):
    """LokiHandler that records the library's verdict: emit() calls handleError on any failure."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = 0
        self.failed = 0

    def emit(self, record):
        self.calls += 1
        super().emit(record)

    def handleError(self, record):  # noqa: N802
        self.failed += 1
        print(f"push.py: push of {record.getMessage()!r} failed: "
              f"{traceback.format_exception_only(*sys.exc_info()[:2])[-1].strip()}", file=sys.stderr)
        self.emitter.close()  # what LokiHandler.handleError does, minus logging's traceback dump


def session_class(tenant, timeout):
    class PeerSession(requests.Session):
        def __init__(self):
            super().__init__()
            if tenant is not None:
                self.headers["X-Scope-OrgID"] = tenant

        def request(self, *args, **kwargs):
            kwargs.setdefault("timeout", timeout)
            return super().request(*args, **kwargs)

    return PeerSession


def main():
    p = argparse.ArgumentParser(description="push log lines with python-logging-loki")
    p.add_argument("--endpoint", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--tenant", default=None, help="X-Scope-OrgID header value")
    p.add_argument("--start", type=int, default=0, help="index of the first line (default 0)")
    p.add_argument("--timeout", type=float, default=10.0, help="per-request timeout in seconds")
    args = p.parse_args()
    if args.count < 0:
        p.error("--count must be >= 0")
    if args.start < 0:
        p.error("--start must be >= 0")

    url = args.endpoint if "://" in args.endpoint else "http://" + args.endpoint
    if urllib.parse.urlsplit(url).path in ("", "/"):
        url = url.rstrip("/") + "/loki/api/v1/push"

    handler = CountingHandler(url=url, tags={"job": "peer"}, version="1")
    handler.emitter.session_class = session_class(args.tenant, args.timeout)
    logger = logging.getLogger("peer")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)

    for i in range(args.start, args.start + args.count):
        logger.info("line-%d", i, extra={"tags": {"n": str(i % 3)}})

    handler.close()
    handler.emitter.close()
    pushed = handler.calls - handler.failed
    print(f"push.py: endpoint={url} lines={args.count} pushed={pushed} failed={handler.failed} "
          f"requests={handler.calls}", file=sys.stderr)
    if handler.failed or pushed != args.count:
        print("push.py: error: push failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
