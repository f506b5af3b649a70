#!/usr/bin/env node
// Send N documents to an Elasticsearch `_bulk` endpoint through the official Node.js client
// (@elastic/elasticsearch 8.19.2 on @elastic/transport 8.11.0 / undici: client.helpers.bulk).
//
// usage: node bulk.mjs --url URL --count N [--index NAME] [--start I] [--flush-bytes B]
//                      [--concurrency C] [--op index|create] [--host-name NAME] [--gzip]
//                      [--timeout-ms MS]
//
// Document i (i = start .. start+count-1), in this key order:
//   {"message":"doc-<i>","@timestamp":"<new Date().toISOString(): UTC, ms, Z>","host":{"name":NAME},"n":i}
// action line {"index":{"_index":INDEX}} (or "create" with --op create); no _id.
//
// What goes on the wire (captured against a local emulation; see README.md "elasticsearch-js"):
//   - No connect sequence: no `GET /`, no HEAD, no sniffing. The product check is passive and on
//     EVERY response: a 2xx answer without the header `X-Elastic-Product: Elasticsearch` makes the
//     request fail with ProductNotSupportedError. Nothing is read from GET /.
//   - The helper buffers actions and flushes when the buffer reaches --flush-bytes (default 5 MB
//     here as in the library) or the datasource ends; up to --concurrency requests in flight:
//       POST /_bulk
//       content-type: application/vnd.elasticsearch+x-ndjson; compatible-with=8
//       accept: application/vnd.elasticsearch+json; compatible-with=8
//       user-agent: elasticsearch-js/8.19.2 (linux <os.release()>-x64; Node.js <ver>; Transport 8.11.0)
//       x-elastic-client-meta: es=8.19.2,js=<node>,t=8.11.0,hc=<node>,h=bp
//       content-length: <n>   (--gzip: content-encoding: gzip, accept-encoding: gzip,deflate)
//     Body: NDJSON, action line + document line, each ending in "\n" (also the last).
//   - Items with status 429 are retried (--retries, 0 here); any other item status >= 300 is
//     dropped and reported to onDrop. An HTTP error status fails the whole flush.
//
// Exit status: 0 only if the helper reports every document successful (stats.successful == N,
// failed == 0, not aborted), 1 otherwise, 2 on bad arguments. Summary on stderr:
// `sent=N ok=N failed=N requests=N`.
// The packages come from the npm tree setup.sh installs: $BEATS_NODE_DIR, else
// $LOGFERRY_PEERS_DIR/beats/node, else ${XDG_CACHE_HOME:-$HOME/.cache}/logferry-peers/beats/node.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

function fail(msg, code = 2) {
  process.stderr.write(`bulk.mjs: error: ${msg}\n`);
  process.exit(code);
}

let opts;
try {
  ({ values: opts } = parseArgs({
    options: {
      url: { type: 'string' },
      count: { type: 'string' },
      index: { type: 'string', default: 'logferry-test' },
      start: { type: 'string', default: '0' },
      'flush-bytes': { type: 'string', default: String(5 * 1024 * 1024) },
      concurrency: { type: 'string', default: '1' },
      op: { type: 'string', default: 'index' },
      'host-name': { type: 'string', default: 'peer' },
      gzip: { type: 'boolean', default: false },
      'timeout-ms': { type: 'string', default: '30000' },
    },
  }));
} catch (e) {
  fail(e.message);
}
if (!opts.url) fail('--url is required');
const count = Number(opts.count);
const start = Number(opts.start);
const flushBytes = Number(opts['flush-bytes']);
const concurrency = Number(opts.concurrency);
const timeoutMs = Number(opts['timeout-ms']);
if (!Number.isInteger(count) || count < 0) fail('--count must be an integer >= 0');
if (!Number.isInteger(start) || start < 0) fail('--start must be an integer >= 0');
if (!(flushBytes > 0)) fail('--flush-bytes must be > 0');
if (!(Number.isInteger(concurrency) && concurrency > 0)) fail('--concurrency must be an integer > 0');
if (!['index', 'create'].includes(opts.op)) fail('--op must be index or create');

const peersDir = process.env.LOGFERRY_PEERS_DIR
  || path.join(process.env.XDG_CACHE_HOME || path.join(process.env.HOME || homedir(), '.cache'), 'logferry-peers');
const nodeDir = process.env.BEATS_NODE_DIR || path.join(peersDir, 'beats', 'node');
if (!existsSync(path.join(nodeDir, 'node_modules', '@elastic', 'elasticsearch'))) {
  fail(`no @elastic/elasticsearch in ${nodeDir}: run tests/peers/beats/setup.sh first`);
}
const require = createRequire(path.join(nodeDir, 'package.json'));
const { Client } = require('@elastic/elasticsearch');

const client = new Client({
  node: opts.url,
  maxRetries: 0,
  requestTimeout: timeoutMs,
  compression: opts.gzip,
  sniffOnStart: false,
});

let requests = 0;
client.diagnostic.on('request', () => { requests++; });
let errorsShown = 0;

async function* docs() {
  for (let i = start; i < start + count; i++) {
    yield { message: `doc-${i}`, '@timestamp': new Date().toISOString(), host: { name: opts['host-name'] }, n: i };
  }
}

let stats;
try {
  stats = await client.helpers.bulk({
    datasource: docs(),
    onDocument: () => ({ [opts.op]: { _index: opts.index } }),
    flushBytes,
    concurrency,
    retries: 0,
    wait: 100,
    onDrop: (d) => {
      if (errorsShown++ < 5) process.stderr.write(`bulk.mjs: item failed: ${JSON.stringify(d.status)} ${JSON.stringify(d.error)}\n`);
    },
  });
} catch (e) {
  process.stderr.write(`bulk.mjs: error: ${e.name}: ${e.message}\n`);
  process.stderr.write(`sent=${count} ok=0 failed=${count} requests=${requests}\n`);
  await client.close();
  process.exit(1);
}
await client.close();
process.stderr.write(`sent=${count} ok=${stats.successful} failed=${stats.failed} requests=${requests}\n`);
process.exit(stats.successful === count && stats.failed === 0 && !stats.aborted ? 0 : 1);
