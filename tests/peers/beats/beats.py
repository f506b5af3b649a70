#!/usr/bin/env python3
"""Send N events to a Beats / Lumberjack v2 server through pylogbeat 2.1.0 (PyLogBeatClient, the
Beats transport of python-logstash-async), and wait for the server's ACKs.

usage: beats.py --host HOST --port PORT --count N [--batch B] [--fresh-connection] [--start I]
                [--host-name NAME] [--timeout SECONDS]

Event i (i = start .. start+count-1), a JSON object (json.dumps defaults: ", " and ": " separators,
non-ASCII as \\uXXXX escapes), in this key order:
  {"@timestamp": "<UTC now, ms, Z>", "message": "event-<i>", "host": {"name": NAME}, "n": i}
No "@metadata" (Filebeat sends one; pylogbeat sends the object as given).

What goes on the wire (plain TCP, no TLS; captured against a local server, see README.md):
  per window of B events (--batch, default N: one window), on ONE connection for the whole run:
    '2' 'W' u32(B)                          6 bytes, window size = B
    '2' 'C' u32(len) zlib(...)              one compressed frame: zlib.compress(level 6; header 78 9c)
                                            of B concatenated '2' 'J' u32(seq) u32(len) <json> frames
  then it reads 6-byte frames '2' 'A' u32(seq) until seq == the LAST sequence number it sent
  (any other ACK value, e.g. 0 keep-alives or partial ACKs, is read and it keeps waiting; a frame
  that is not 'A', or EOF, raises ConnectionException; no answer within --timeout raises).
  TRAP: pylogbeat does NOT restart sequence numbers per window: on one connection the 2nd window of
  B events carries seq B+1..2B and waits for ACK 2B. A server that ACKs "number of events in the
  window" (go-lumber style) instead of "highest sequence number received" (Logstash style) hangs
  it from the 2nd window on. --fresh-connection uses a new client (new TCP connection, seq from 1)
  for each window, which is what Filebeat's numbering looks like.
  After the last ACK: shutdown(SHUT_WR) and close.

Exit status: 0 only if every window was fully ACKed, 1 otherwise, 2 on bad arguments.
A summary (`sent=N acked=N windows=N`) goes to stderr.
Runs with the venv setup.sh makes:  PEERS_DIR/beats/py/bin/python tests/peers/beats/beats.py ...
"""
import argparse
import datetime
import sys

import pylogbeat


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--batch", type=int, default=0, help="events per window (default: all in one)")
    p.add_argument("--fresh-connection", action="store_true", help="new connection per window")
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--host-name", default="peer")
    p.add_argument("--timeout", type=float, default=30.0)
    a = p.parse_args()
    if a.count < 0 or a.batch < 0:
        p.error("--count and --batch must be >= 0")
    batch = a.batch or max(a.count, 1)

    def event(i):
        ts = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")
        return {"@timestamp": ts.replace("+00:00", "Z"), "message": f"event-{i}",
                "host": {"name": a.host_name}, "n": i}

    acked = windows = 0
    client = None
    try:
        for first in range(a.start, a.start + a.count, batch):
            last = min(first + batch, a.start + a.count)
            if client is None or a.fresh_connection:
                if client is not None:
                    client.close()
                client = pylogbeat.PyLogBeatClient(a.host, a.port, timeout=a.timeout)
                client.connect()
            # send() returns only once the server ACKed the last sequence number of this window.
            client.send([event(i) for i in range(first, last)])
            acked += last - first
            windows += 1
    except Exception as e:  # ConnectionException, socket.timeout, OSError
        print(f"beats.py: error: {type(e).__name__}: {e}", file=sys.stderr)
    finally:
        if client is not None:
            client.close()
    print(f"sent={a.count} acked={acked} windows={windows}", file=sys.stderr)
    return 0 if acked == a.count else 1


if __name__ == "__main__":
    sys.exit(main())
