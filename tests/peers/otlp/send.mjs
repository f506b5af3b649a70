#!/usr/bin/env node
// Send N log records through the OpenTelemetry JS logs SDK (a real third-party OTLP client).
//
// usage: node send.mjs --protocol grpc|http-json|http-proto --endpoint URL --count N
//                      [--batch] [--service NAME] [--gzip] [--timeout-ms MS] [--start I]
//
//   grpc        @opentelemetry/exporter-logs-otlp-grpc   --endpoint http://HOST:PORT (plaintext)
//   http-json   @opentelemetry/exporter-logs-otlp-http   --endpoint http://HOST:PORT[/PATH]
//   http-proto  @opentelemetry/exporter-logs-otlp-proto  --endpoint http://HOST:PORT[/PATH]
//   For the HTTP ones, /v1/logs is appended when the URL has no path.
//
// Record i (i = start .. start+count-1): body "record <i>", timestamp now, severity INFO (9) for even
// i and ERROR (17) for odd i, attributes {i, kind: "node", ratio: 0.5, ok: true, tags: ["a", "b"]},
// every third record (i % 3 == 0) in a sampled span context (trace id 5b8efff798038103d269b633813fc600
// + i, span id eee19b7ec3c1b100 + i, as send.py). Resource service.name=NAME (default "peer-node"),
// scope "peer.node" version "1.0".
// Without --batch a SimpleLogRecordProcessor exports every record in its own request; with --batch
// a BatchLogRecordProcessor groups them. The provider is force-flushed and shut down; exit status 0
// if every export succeeded, 1 otherwise, 2 on bad arguments.
//
// The packages come from the npm tree setup.sh installs: $OTEL_NODE_DIR, else
// $LOGFERRY_PEERS_DIR/otel-node, else ${XDG_CACHE_HOME:-$HOME/.cache}/logferry-peers/otel-node.
// (An ES module ignores NODE_PATH, so they are loaded with createRequire rooted there.)
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

function fail(msg, code = 2) {
  process.stderr.write(`send.mjs: error: ${msg}\n`);
  process.exit(code);
}

let opts;
try {
  ({ values: opts } = parseArgs({
    options: {
      protocol: { type: 'string' },
      endpoint: { type: 'string' },
      count: { type: 'string' },
      start: { type: 'string', default: '0' },
      batch: { type: 'boolean', default: false },
      service: { type: 'string', default: 'peer-node' },
      gzip: { type: 'boolean', default: false },
      'timeout-ms': { type: 'string', default: '10000' },
    },
  }));
} catch (e) {
  fail(e.message);
}
const PROTOCOLS = ['grpc', 'http-json', 'http-proto'];
if (!PROTOCOLS.includes(opts.protocol)) fail(`--protocol must be one of ${PROTOCOLS.join(', ')}`);
if (!opts.endpoint) fail('--endpoint is required');
const count = Number(opts.count);
const start = Number(opts.start);
const timeoutMillis = Number(opts['timeout-ms']);
if (!Number.isInteger(count) || count < 0) fail('--count must be an integer >= 0');
if (!Number.isInteger(start) || start < 0) fail('--start must be an integer >= 0');
if (!(timeoutMillis > 0)) fail('--timeout-ms must be > 0');

const peersDir = process.env.LOGFERRY_PEERS_DIR
  || path.join(process.env.XDG_CACHE_HOME || path.join(process.env.HOME || homedir(), '.cache'), 'logferry-peers');
const nodeDir = process.env.OTEL_NODE_DIR || path.join(peersDir, 'otel-node');
if (!existsSync(path.join(nodeDir, 'node_modules', '@opentelemetry', 'sdk-logs'))) {
  fail(`no OpenTelemetry packages in ${nodeDir}: run tests/peers/otlp/setup.sh first`);
}
const require = createRequire(path.join(nodeDir, 'package.json'));

const api = require('@opentelemetry/api');
const { SeverityNumber } = require('@opentelemetry/api-logs');
const { LoggerProvider, BatchLogRecordProcessor, SimpleLogRecordProcessor } = require('@opentelemetry/sdk-logs');
const { defaultResource, resourceFromAttributes } = require('@opentelemetry/resources');
const { ExportResultCode } = require('@opentelemetry/core');

api.diag.setLogger(new api.DiagConsoleLogger(), api.DiagLogLevel.WARN);

let url = opts.endpoint.includes('://') ? opts.endpoint : `http://${opts.endpoint}`;
if (opts.protocol !== 'grpc') {
  const u = new URL(url);
  if (u.pathname === '' || u.pathname === '/') url = `${url.replace(/\/+$/, '')}/v1/logs`;
}
const exporterPackage = {
  grpc: '@opentelemetry/exporter-logs-otlp-grpc',
  'http-json': '@opentelemetry/exporter-logs-otlp-http',
  'http-proto': '@opentelemetry/exporter-logs-otlp-proto',
}[opts.protocol];
const { OTLPLogExporter } = require(exporterPackage);
const exporter = new OTLPLogExporter({ url, timeoutMillis, compression: opts.gzip ? 'gzip' : 'none' });

// Record what the real exporter reports for each export call.
const stats = { exported: 0, failed: 0, calls: 0 };
const realExport = exporter.export.bind(exporter);
exporter.export = (records, done) => {
  realExport(records, (result) => {
    stats.calls += 1;
    if (result.code === ExportResultCode.SUCCESS) {
      stats.exported += records.length;
    } else {
      stats.failed += records.length;
      process.stderr.write(`send.mjs: export failed: ${result.error?.message ?? result.error ?? 'unknown error'}\n`);
    }
    done(result);
  });
};

// sdk-logs 0.22x: the processors take an options object ({exporter, ...}), not the exporter itself.
const processor = opts.batch
  ? new BatchLogRecordProcessor({
    exporter,
    maxQueueSize: Math.max(2048, count),
    scheduledDelayMillis: 200,
    exportTimeoutMillis: timeoutMillis + 5000,
  })
  : new SimpleLogRecordProcessor({ exporter });
const provider = new LoggerProvider({
  resource: defaultResource().merge(resourceFromAttributes({ 'service.name': opts.service })),
  processors: [processor],
});
const logger = provider.getLogger('peer.node', '1.0');

const TRACE_ID_BASE = 0x5b8efff798038103d269b633813fc600n;
const SPAN_ID_BASE = 0xeee19b7ec3c1b100n;
for (let i = start; i < start + count; i++) {
  let context = api.ROOT_CONTEXT;
  if (i % 3 === 0) {
    context = api.trace.setSpanContext(context, {
      traceId: (TRACE_ID_BASE + BigInt(i)).toString(16).padStart(32, '0'),
      spanId: (SPAN_ID_BASE + BigInt(i)).toString(16).padStart(16, '0'),
      traceFlags: api.TraceFlags.SAMPLED,
    });
  }
  const error = i % 2 === 1;
  logger.emit({
    timestamp: Date.now(),
    severityNumber: error ? SeverityNumber.ERROR : SeverityNumber.INFO,
    severityText: error ? 'ERROR' : 'INFO',
    body: `record ${i}`,
    attributes: { i, kind: 'node', ratio: 0.5, ok: true, tags: ['a', 'b'] },
    context,
  });
}

let flushError = null;
try {
  await provider.forceFlush({ timeoutMillis: timeoutMillis + 5000 });
} catch (e) {
  flushError = e;
}
try {
  await provider.shutdown();
} catch (e) {
  flushError ??= e;
}
process.stderr.write(`send.mjs: protocol=${opts.protocol} url=${url} records=${count} exported=${stats.exported} `
  + `failed=${stats.failed} requests=${stats.calls}\n`);
if (flushError) process.stderr.write(`send.mjs: flush/shutdown failed: ${flushError.message ?? flushError}\n`);
const ok = !flushError && stats.failed === 0 && stats.exported === count;
if (!ok) process.stderr.write('send.mjs: error: export failed\n');
process.exit(ok ? 0 : 1);
