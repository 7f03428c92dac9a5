/**
 * The baseline for bench/api: a bare Node HTTPS server that keeps JSON objects in a Map (create, get, list, watch).
 * It does no validation, no storage and no authentication: the ceiling for any Node server on this machine.
 * Usage: node dist/bench/bare-server.js <certfile> <keyfile>  (prints "port <n>")
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { ServerResponse } from 'node:http';

const [certFile, keyFile] = process.argv.slice(2);
/** name -> JSON and the `app` label, which is all the LIST in the benchmark selects on. */
const objects = new Map<string, { json: string; app?: string }>();
const watchers = new Set<ServerResponse>();
let rv = 1;

const server = https.createServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, (req, res) => {
  const url = new URL(req.url ?? '/', 'https://x');
  if (req.method === 'POST') {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const obj = JSON.parse(Buffer.concat(chunks).toString());
      obj.metadata.resourceVersion = String(++rv);
      const json = JSON.stringify(obj);
      objects.set(obj.metadata.name, { json, app: obj.metadata.labels?.app });
      const line = `{"type":"ADDED","object":${json}}\n`;
      for (const w of watchers) w.write(line);
      res.writeHead(201, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(json) });
      res.end(json);
    });
    return;
  }
  if (url.searchParams.get('watch') === 'true') {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
    watchers.add(res);
    req.on('close', () => watchers.delete(res));
    return;
  }
  const parts = url.pathname.split('/');
  const name = parts.length > 6 ? parts[6] : undefined;
  let body: string;
  if (name) {
    const found = objects.get(name);
    if (!found) {
      res.writeHead(404).end();
      return;
    }
    body = found.json;
  } else {
    // Equality selectors on `app` only, so the LIST returns the same items as skiff's.
    const app = /^app=(.*)$/.exec(url.searchParams.get('labelSelector') ?? '')?.[1];
    const items = [...objects.values()].filter((o) => app === undefined || o.app === app).map((o) => o.json);
    body = `{"kind":"ConfigMapList","apiVersion":"v1","metadata":{"resourceVersion":"${rv}"},"items":[${items.join(',')}]}`;
  }
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
});
// Same idle keep-alive as skiff's server, so neither side drops connections between phases.
server.keepAliveTimeout = 90_000;
server.listen(0, '127.0.0.1', () => console.log(`port ${(server.address() as AddressInfo).port}`));
