#!/usr/bin/env node
// Push N log lines to a Loki push endpoint through winston-loki 6.1.7 (a real third-party Loki client:
// a winston 3.19 transport), as protobuf + raw snappy (default) or as JSON (--json).
//
// usage: node push.mjs --endpoint URL --count N [--tenant ID] [--json] [--no-batch] [--start I]
//                      [--timestamp-ms MS] [--basic-auth USER:PASS] [--timeout-ms MS]
//
//   --endpoint      http://HOST:PORT[/PREFIX]; the library always appends /loki/api/v1/push
//   --tenant        X-Scope-OrgID header (the library's `headers` option)
//   --json          the library's json: true (else protobuf + snappy)
//   --no-batch      the library's batching: false: one request per line, all sent at once (else all
//                   lines go in one request, sent by the transport's close())
//   --timestamp-ms  line i gets the timestamp MS + i (milliseconds since the epoch; the library's
//                   replaceTimestamp: false); default: Date.now() when the line is logged
//   --basic-auth    the library's basicAuth option: Authorization: Basic base64(USER:PASS)
//
// Line i (i = start .. start+count-1): "line-<i>" (the transport's format is printf(message), so the
// line is the message alone), logged at INFO with labels {job="peer", n="<i % 3>"}. The library always
// adds the label level="info" first, so each stream is {level, job, n}. Extra fields i="<i>" and
// kind="node" are logged with each line: with --json the library sends them as structured metadata,
// together with level="info" (it sends every winston field except label, labels, timestamp, message);
// with protobuf it drops them (its logproto.Entry has no structuredMetadata field).
//
// What the library sends:
//   POST <endpoint>/loki/api/v1/push with Content-Length (no chunking), no compression header,
//   node's http.request defaults (Host, Connection: keep-alive; no User-Agent), + X-Scope-OrgID with
//   --tenant, + Authorization with --basic-auth.
//   protobuf: Content-Type: application/x-protobuf; body = snappy raw block format (not the framed
//     format), no Content-Encoding header, of logproto.PushRequest{streams=1: Stream{labels=1: string,
//     entries=2: Entry{timestamp=1: google.protobuf.Timestamp{seconds=1, nanos=2}, line=2}}}.
//     labels is the string `{level="info",job="peer",n="0"}`: built by hand, values NOT escaped.
//     Timestamps are milliseconds: nanos = (ms % 1000) * 1e6.
//   json: Content-Type: application/json; body JSON.stringify (compact):
//     {"streams":[{"stream":{"level":"info","job":"peer","n":"0"},
//       "values":[["1700000000000000000","line-0",{"level":"info","i":"0","kind":"node"}]]}]}
//     timestamps are the milliseconds with "000000" appended; the third element (structured
//     metadata, values JSON.stringify'd unless strings) is always there, {} when empty.
//   Batched, a request holds one stream per distinct label set (here n=0,1,2), entries in log order.
//   A 2xx answer is success, anything else an error ("Server returned HTTP <status>: <body>").
//
// Exit status: 0 if every request got a 2xx and every line was in one, 1 otherwise, 2 on bad
// arguments; a summary (`pushed=N failed=N requests=N`) goes to stderr. (The library only reports
// errors through console.error and onConnectionError and swallows them on close(), so push.mjs wraps
// its HTTP post function to count the requests and their results.)
//
// The packages come from the npm tree setup.sh installs: $LOKI_NODE_DIR, else
// $LOGFERRY_PEERS_DIR/loki/node, else ${XDG_CACHE_HOME:-$HOME/.cache}/logferry-peers/loki/node.
// (An ES module ignores NODE_PATH, so they are loaded with createRequire rooted there.)
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

function fail(msg, code = 2) {
  process.stderr.write(`push.mjs: error: ${msg}\n`);
  process.exit(code);
}

let opts;
try {
  ({ values: opts } = parseArgs({
    options: {
      endpoint: { type: 'string' },
      count: { type: 'string' },
      tenant: { type: 'string' },
      json: { type: 'boolean', default: false },
      'no-batch': { type: 'boolean', default: false },
      start: { type: 'string', default: '0' },
      'timestamp-ms': { type: 'string' },
      'basic-auth': { type: 'string' },
      'timeout-ms': { type: 'string', default: '10000' },
    },
  }));
} catch (e) {
  fail(e.message);
}
if (!opts.endpoint) fail('--endpoint is required');
const count = Number(opts.count);
const start = Number(opts.start);
const timeoutMs = Number(opts['timeout-ms']);
const tsBase = opts['timestamp-ms'] === undefined ? undefined : Number(opts['timestamp-ms']);
if (!Number.isInteger(count) || count < 0) fail('--count must be an integer >= 0');
if (!Number.isInteger(start) || start < 0) fail('--start must be an integer >= 0');
if (!(timeoutMs > 0)) fail('--timeout-ms must be > 0');
if (tsBase !== undefined && !(Number.isSafeInteger(tsBase) && tsBase > 0)) fail('--timestamp-ms must be an integer > 0');

const peersDir = process.env.LOGFERRY_PEERS_DIR
  || path.join(process.env.XDG_CACHE_HOME || path.join(process.env.HOME || homedir(), '.cache'), 'logferry-peers');
const nodeDir = process.env.LOKI_NODE_DIR || path.join(peersDir, 'loki', 'node');
if (!existsSync(path.join(nodeDir, 'node_modules', 'winston-loki'))) {
  fail(`no winston-loki in ${nodeDir}: run tests/peers/loki/setup.sh first`);
}
const require = createRequire(path.join(nodeDir, 'package.json'));
const winston = require('winston');
const LokiTransport = require('winston-loki');

// The library silently falls back to JSON when snappy does not load: refuse that.
if (!opts.json) {
  try {
    require('snappy');
  } catch (e) {
    fail(`snappy does not load (${e.message}); rerun tests/peers/loki/setup.sh`, 1);
  }
}

// Count the library's requests and their outcome (its batcher calls requests.post at send time).
const requests = require('winston-loki/src/requests');
const stats = { requests: 0, ok: 0, failed: 0 };
const post = requests.post;
requests.post = (...a) => {
  stats.requests++;
  return post(...a).then(
    (r) => { stats.ok++; return r; },
    (e) => { stats.failed++; process.stderr.write(`push.mjs: push failed: ${e.message}\n`); throw e; },
  );
};

let host = opts.endpoint.includes('://') ? opts.endpoint : `http://${opts.endpoint}`;
host = host.replace(/\/+$/, '');
const headers = {};
if (opts.tenant !== undefined) headers['X-Scope-OrgID'] = opts.tenant;

const transport = new LokiTransport({
  host,
  json: opts.json,
  batching: !opts['no-batch'],
  interval: 3600, // seconds: the batch goes out on close(), not on a timer
  labels: { job: 'peer' },
  headers,
  basicAuth: opts['basic-auth'],
  replaceTimestamp: tsBase === undefined,
  gracefulShutdown: false, // no async-exit-hook: push.mjs closes the transport itself
  timeout: timeoutMs,
  format: winston.format.printf((info) => info.message),
  onConnectionError: () => {}, // counted in the post wrapper
});
if (!opts.json && transport.batcher.options.json) fail('winston-loki fell back to JSON (no snappy)', 1);

let logged = 0;
const allLogged = new Promise((resolve) => {
  if (count === 0) resolve();
  transport.on('logged', () => { if (++logged === count) resolve(); });
});
const logger = winston.createLogger({ level: 'info', transports: [transport] });

for (let i = start; i < start + count; i++) {
  const meta = { labels: { n: String(i % 3) }, i: String(i), kind: 'node' };
  if (tsBase !== undefined) meta.timestamp = tsBase + (i - start);
  logger.info(`line-${i}`, meta);
}

const timer = setTimeout(() => fail(`timed out after ${timeoutMs + 5000} ms`, 1), timeoutMs + 5000);
await allLogged;
if (opts['no-batch']) await transport.flush(); // resolves when every in-flight request has answered
await transport.close(); // batched: sends the one request now (waits for its answer)
clearTimeout(timer);
logger.close();

const pushed = stats.failed === 0 && stats.requests > 0 ? count : 0;
process.stderr.write(`push.mjs: endpoint=${host}/loki/api/v1/push format=${opts.json ? 'json' : 'protobuf+snappy'} `
  + `lines=${count} pushed=${pushed} failed=${stats.failed} requests=${stats.requests}\n`);
const expected = count === 0 ? 0 : opts['no-batch'] ? count : 1;
if (stats.failed || stats.ok !== expected) {
  process.stderr.write('push.mjs: error: push failed\n');
  process.exit(1);
}
process.exit(0);
