/**
 * The two messages of grpc.health.v1.Health/Check, written by hand from the published health.proto
 * (grpc/grpc-proto grpc/health/v1/health.proto): HealthCheckRequest { string service = 1; } and
 * HealthCheckResponse { ServingStatus status = 1; }. Both directions are here so tests can serve them.
 */

export const HEALTH_CHECK_METHOD = '/grpc.health.v1.Health/Check';

export const SERVING_STATUS_NAMES: Record<number, string> = { 0: 'UNKNOWN', 1: 'SERVING', 2: 'NOT_SERVING', 3: 'SERVICE_UNKNOWN' };
export const SERVING = 1;

export interface HealthCheckRequest {
  service: string;
}

export interface HealthCheckResponse {
  status: number;
}

export function encodeHealthCheckRequest(request: HealthCheckRequest): Buffer {
  return request.service === '' ? Buffer.alloc(0) : encodeField1Bytes(Buffer.from(request.service, 'utf8'));
}

export function decodeHealthCheckRequest(data: Buffer): HealthCheckRequest {
  let service = '';
  for (const field of readFields(data)) if (field.number === 1 && field.bytes) service = field.bytes.toString('utf8');
  return { service };
}

export function encodeHealthCheckResponse(response: HealthCheckResponse): Buffer {
  if (response.status === 0) return Buffer.alloc(0);
  return Buffer.concat([Buffer.from([0x08]), encodeVarint(response.status)]);
}

export function decodeHealthCheckResponse(data: Buffer): HealthCheckResponse {
  let status = 0;
  for (const field of readFields(data)) if (field.number === 1 && field.varint !== undefined) status = toInt32(field.varint);
  return { status };
}

/** The name Go's generated String() gives a ServingStatus: its enum name, or the number for unknown values. */
export function servingStatusName(status: number): string {
  return SERVING_STATUS_NAMES[status] ?? String(status);
}

function encodeField1Bytes(bytes: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x0a]), encodeVarint(bytes.length), bytes]);
}

function encodeVarint(value: number): Buffer {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) byte |= 0x80;
    out.push(byte);
  } while (v !== 0n);
  return Buffer.from(out);
}

interface Field {
  number: number;
  varint?: bigint;
  bytes?: Buffer;
}

function* readFields(data: Buffer): Generator<Field> {
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (pos >= data.length) throw new Error('truncated varint');
      const byte = data[pos++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
    }
    throw new Error('varint longer than 10 bytes');
  };
  while (pos < data.length) {
    const key = Number(varint());
    const number = key >>> 3;
    switch (key & 7) {
      case 0:
        yield { number, varint: varint() };
        break;
      case 1:
        pos += 8;
        break;
      case 2: {
        const length = Number(varint());
        if (pos + length > data.length) throw new Error('truncated length-delimited field');
        yield { number, bytes: data.subarray(pos, pos + length) };
        pos += length;
        break;
      }
      case 5:
        pos += 4;
        break;
      default:
        throw new Error(`unsupported wire type ${key & 7}`);
    }
    if (pos > data.length) throw new Error('truncated field');
  }
}

function toInt32(v: bigint): number {
  return Number(BigInt.asIntN(32, v));
}
