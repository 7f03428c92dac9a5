/**
 * CriClient: unary calls to a CRI v1 runtime (runtime.v1.RuntimeService and runtime.v1.ImageService) over its unix
 * socket, with @grpc/grpc-js's generic Client and the reflected messages of cri-api.ts as (de)serializers.
 * Failures come back as CriCallError carrying the gRPC status code and the runtime's own words.
 */
import * as grpc from '@grpc/grpc-js';
import { RPCS, TO_OBJECT, messageType, type RpcName } from './cri-api.js';

export class CriCallError extends Error {
  constructor(
    readonly rpc: RpcName,
    readonly code: grpc.status,
    /** The runtime's message (gRPC status details), as the user should read it. */
    readonly details: string,
  ) {
    super(`CRI ${rpc}: ${grpc.status[code] ?? code}: ${details}`);
    this.name = 'CriCallError';
  }
}

export interface CriClientOptions {
  /** Default deadline of a call (kubelet's --runtime-request-timeout is 2 min). */
  timeoutMs?: number;
}

/** Accepts `unix:///path`, `unix:/path` or a bare absolute path. */
export function grpcTarget(endpoint: string): string {
  if (endpoint.startsWith('unix:')) return endpoint;
  if (endpoint.startsWith('/')) return `unix://${endpoint}`;
  throw new Error(`CRI endpoint ${JSON.stringify(endpoint)}: only unix sockets are supported (unix:///path or /path)`);
}

export class CriClient {
  readonly #client: grpc.Client;
  readonly #timeoutMs: number;

  constructor(
    readonly endpoint: string,
    options: CriClientOptions = {},
  ) {
    this.#timeoutMs = options.timeoutMs ?? 120_000;
    this.#client = new grpc.Client(grpcTarget(endpoint), grpc.credentials.createInsecure(), {
      // ExecSync output is capped at 16 MiB per stream by the runtime (CVE-2022-31030); leave room for both.
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
      // Reconnect quickly when a supervised containerd comes back.
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 2000,
    });
  }

  /** One unary call; `timeoutMs` 0 = no deadline (image pulls). */
  call<Res = Record<string, unknown>>(rpc: RpcName, request: object, timeoutMs = this.#timeoutMs): Promise<Res> {
    const [service, requestName, responseName] = RPCS[rpc];
    const requestType = messageType(requestName);
    const responseType = messageType(responseName);
    const serialize = (value: object): Buffer => Buffer.from(requestType.encode(requestType.fromObject(value)).finish());
    const deserialize = (bytes: Buffer): Res => responseType.toObject(responseType.decode(bytes), TO_OBJECT) as Res;
    const options: grpc.CallOptions = timeoutMs > 0 ? { deadline: Date.now() + timeoutMs } : {};
    return new Promise((resolve, reject) => {
      this.#client.makeUnaryRequest(`/runtime.v1.${service}/${rpc}`, serialize, deserialize, request, new grpc.Metadata(), options, (err, value) => {
        if (err) reject(new CriCallError(rpc, err.code ?? grpc.status.UNKNOWN, err.details || err.message));
        else resolve(value as Res);
      });
    });
  }

  close(): void {
    this.#client.close();
  }
}
