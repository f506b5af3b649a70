#!/usr/bin/env python3
"""Send N documents to an Elasticsearch `_bulk` endpoint through the official Python client
(elasticsearch 8.19.3, elastic-transport 8.19.0: elasticsearch.helpers.bulk or streaming_bulk).

usage: bulk.py --url URL --count N [--index NAME] [--start I] [--chunk-size C] [--streaming]
               [--host-name NAME] [--op index|create] [--index-in-path] [--gzip] [--timeout SECONDS]

Document i (i = start .. start+count-1), in this key order:
  {"message": "doc-<i>", "@timestamp": "<UTC now, ISO 8601 with ms and Z>", "host": {"name": NAME}, "n": i}
  action line: {"index": {"_index": INDEX}} (or "create" with --op create); no _id (the server picks one).
  --index-in-path: the index goes into the URL instead (PUT /INDEX/_bulk, action lines {"index":{}}).

What goes on the wire (captured against a local emulation; see README.md "elasticsearch-py"):
  - No connect sequence: the 8.x client sends NO `GET /` and no HEAD before the first request.
    Its product check is passive: the FIRST 2xx response it gets must carry the header
    `X-Elastic-Product: Elasticsearch`, else it raises UnsupportedProductError ("The client noticed
    that the server is not Elasticsearch ..."); after one good response it never checks again.
    No version check, nothing read from GET /.
  - One request per chunk of C actions (default 500):
      PUT /_bulk          (PUT, not POST; the index is named in every action line)
      PUT /INDEX/_bulk    (with --index-in-path)
      Content-Type: application/vnd.elasticsearch+x-ndjson; compatible-with=8
      Accept: application/vnd.elasticsearch+json; compatible-with=8
      User-Agent: elasticsearch-py/8.19.3 (Python/3.x; elastic-transport/8.19.0)
      X-Elastic-Client-Meta: es=8.19.3,py=3.x,t=8.19.0,ur=2.x,h=bp
      Connection: keep-alive, Accept-Encoding: identity, Content-Length: <n>   (urllib3)
      (--gzip, the client's http_compress=True: Content-Encoding: gzip, Accept-Encoding: gzip)
    Body: NDJSON, action line then document line, each ending in "\n" (also the last);
    compact JSON (separators ",", ":"), non-ASCII kept as UTF-8.
  - The answer must be a JSON object with "items" (one per action, in order, each
    {"<op>": {"status": N, ...}}); an item with status outside 200..299 counts as failed.
    HTTP status >= 300 raises (after max_retries=0 here: no retries).
Exit status: 0 only if every document was reported successful, 1 otherwise, 2 on bad arguments.
A summary (`sent=N ok=N failed=N requests=N`) goes to stderr.
Runs with the venv setup.sh makes:  PEERS_DIR/beats/py/bin/python tests/peers/beats/bulk.py ...
"""
import argparse
import datetime
import sys

from elasticsearch import Elasticsearch, helpers


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--url", required=True, help="http://HOST:PORT")
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--index", default="logferry-test")
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--chunk-size", type=int, default=500)
    p.add_argument("--streaming", action="store_true", help="use helpers.streaming_bulk (default helpers.bulk)")
    p.add_argument("--host-name", default="peer")
    p.add_argument("--op", choices=["index", "create"], default="index")
    p.add_argument("--index-in-path", action="store_true", help="PUT /INDEX/_bulk, no _index in the actions")
    p.add_argument("--gzip", action="store_true", help="http_compress=True: gzip request bodies")
    p.add_argument("--timeout", type=float, default=30.0)
    a = p.parse_args()
    if a.count < 0 or a.chunk_size < 1:
        p.error("--count must be >= 0 and --chunk-size >= 1")

    def actions():
        for i in range(a.start, a.start + a.count):
            ts = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")
            ts = ts.replace("+00:00", "Z")
            action = {"_op_type": a.op,
                      "_source": {"message": f"doc-{i}", "@timestamp": ts,
                                  "host": {"name": a.host_name}, "n": i}}
            if not a.index_in_path:
                action["_index"] = a.index
            yield action

    # max_retries=0: a failure shows at once; helpers.* do not retry either (max_retries=0 there).
    es = Elasticsearch(a.url, request_timeout=a.timeout, max_retries=0, retry_on_timeout=False,
                       http_compress=a.gzip)
    requests = -(-a.count // a.chunk_size)
    ok = failed = 0
    kw = {"index": a.index} if a.index_in_path else {}
    try:
        if a.streaming:
            for success, item in helpers.streaming_bulk(es, actions(), chunk_size=a.chunk_size, **kw,
                                                        raise_on_error=False, raise_on_exception=True):
                if success:
                    ok += 1
                else:
                    failed += 1
                    if failed <= 5:
                        print(f"bulk.py: item failed: {item}", file=sys.stderr)
        else:
            ok, errors = helpers.bulk(es, actions(), chunk_size=a.chunk_size, stats_only=False, **kw,
                                      raise_on_error=False, raise_on_exception=True)
            failed = len(errors)
            for item in errors[:5]:
                print(f"bulk.py: item failed: {item}", file=sys.stderr)
    except Exception as e:  # transport errors, HTTP >= 300, UnsupportedProductError
        print(f"bulk.py: error: {type(e).__name__}: {e}", file=sys.stderr)
        print(f"sent={a.count} ok={ok} failed={a.count - ok} requests={requests}", file=sys.stderr)
        return 1
    finally:
        es.close()
    print(f"sent={a.count} ok={ok} failed={failed} requests={requests}", file=sys.stderr)
    return 0 if ok == a.count and failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
