/**
 * Real servers on 127.0.0.1:0 for the probe and lifecycle tests: plain HTTP, HTTPS with a throwaway self-signed
 * certificate, and a grpc.health.v1 server whose answers the test sets per service name.
 */
import * as grpc from '@grpc/grpc-js';
import { randomBytes, webcrypto } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import {
  HEALTH_CHECK_METHOD,
  type HealthCheckRequest,
  type HealthCheckResponse,
  decodeHealthCheckRequest,
  encodeHealthCheckResponse,
} from './health-messages.js';

export interface TestServer {
  port: number;
  close(): Promise<void>;
}

export async function listenHttp(handler: http.RequestListener): Promise<TestServer> {
  const server = http.createServer(handler);
  return listenOn(server);
}

export async function listenHttps(handler: http.RequestListener): Promise<TestServer> {
  const { certPem, keyPem } = await selfSignedCertificate();
  return listenOn(https.createServer({ cert: certPem, key: keyPem }, handler));
}

async function listenOn(server: http.Server): Promise<TestServer> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A port that refuses connections: listened on, then closed. */
export async function closedPort(): Promise<number> {
  const s = await listenHttp(() => {});
  await s.close();
  return s.port;
}

let cached: Promise<{ certPem: string; keyPem: string }> | undefined;

export function selfSignedCertificate(): Promise<{ certPem: string; keyPem: string }> {
  cached ??= (async () => {
    await import('reflect-metadata');
    const x509 = await import('@peculiar/x509');
    x509.cryptoProvider.set(webcrypto as never);
    const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
    const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomBytes(8).toString('hex'),
      name: 'CN=probe-test',
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 3_600_000),
      signingAlgorithm: alg,
      keys: keys as never,
    });
    const der = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
    return { certPem: cert.toString('pem'), keyPem: x509.PemConverter.encode(der, 'PRIVATE KEY') };
  })();
  return cached;
}

export interface HealthServer extends TestServer {
  /** Serving status per service name; a name absent here gets NOT_FOUND "unknown service", as grpc-go's health server. */
  statuses: Map<string, number>;
  /** Milliseconds each answer is held back. */
  delayMs: number;
  /** User agents of the calls received. */
  userAgents: string[];
}

export async function listenGrpcHealth(statuses: Record<string, number>, options: { implementHealth?: boolean } = {}): Promise<HealthServer> {
  const server = new grpc.Server();
  const state: Omit<HealthServer, 'port' | 'close'> = { statuses: new Map(Object.entries(statuses)), delayMs: 0, userAgents: [] };
  if (options.implementHealth !== false) {
    server.addService(
      {
        Check: {
          path: HEALTH_CHECK_METHOD,
          requestStream: false,
          responseStream: false,
          requestSerialize: () => Buffer.alloc(0),
          requestDeserialize: decodeHealthCheckRequest,
          responseSerialize: encodeHealthCheckResponse,
          responseDeserialize: () => ({ status: 0 }),
        },
      } satisfies grpc.ServiceDefinition,
      {
        Check: (call: grpc.ServerUnaryCall<HealthCheckRequest, HealthCheckResponse>, callback: grpc.sendUnaryData<HealthCheckResponse>) => {
          state.userAgents.push(String(call.metadata.get('user-agent')[0] ?? ''));
          const status = state.statuses.get(call.request.service);
          const answer = () =>
            status === undefined ? callback({ code: grpc.status.NOT_FOUND, details: 'unknown service' }) : callback(null, { status });
          if (state.delayMs > 0) setTimeout(answer, state.delayMs);
          else answer();
        },
      },
    );
  }
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return Object.assign(state, {
    port,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())).then(() => server.forceShutdown()),
  });
}
