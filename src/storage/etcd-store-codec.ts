/**
 * Protocol Buffers encoding of the few etcd v3 API messages EtcdStore uses (etcdserverpb.KV and .Watch, and
 * mvccpb.KeyValue/Event), written by hand so the store needs no .proto files and no protobuf runtime.
 *
 * Field numbers and types are those of etcd's api/etcdserverpb/rpc.proto and api/mvccpb/kv.proto (v3.4/3.5).
 * proto3 rules apply: zero scalars are left out when encoding and read as zero when absent, except the value
 * of a `oneof` member, which has presence and is always written (a Compare whose target value is missing
 * would compare against nothing and pass).
 *
 * int64 fields are JavaScript numbers: revisions stay far below 2^53. Fields this store never reads (cluster
 * and member ids, raft term, lease, ...) are skipped.
 */

/** mvccpb.KeyValue; key and value are views into the received message. */
export interface EtcdKeyValue {
  key: Buffer;
  value: Buffer;
  createRevision: number;
  modRevision: number;
  version: number;
}

export type EtcdEventType = 'put' | 'delete';

/** mvccpb.Event. */
export interface EtcdEvent {
  type: EtcdEventType;
  kv: EtcdKeyValue;
  prevKv?: EtcdKeyValue;
}

export interface RangeRequest {
  key: Buffer;
  /** Exclusive end; Buffer [0] means "every key >= key". Absent: the single key. */
  rangeEnd?: Buffer;
  /** 0 = no limit. */
  limit?: number;
  /** 0 = current. */
  revision?: number;
  countOnly?: boolean;
}

export interface RangeResponse {
  revision: number;
  kvs: EtcdKeyValue[];
  more: boolean;
  count: number;
}

export interface PutRequest {
  key: Buffer;
  value: Buffer;
  prevKv?: boolean;
}

export interface PutResponse {
  revision: number;
  prevKv?: EtcdKeyValue;
}

export interface DeleteRangeRequest {
  key: Buffer;
  rangeEnd?: Buffer;
  prevKv?: boolean;
}

export interface DeleteRangeResponse {
  revision: number;
  deleted: number;
  prevKvs: EtcdKeyValue[];
}

/** Compare.CompareTarget, restricted to what the store needs. */
export type CompareTarget = 'create' | 'mod';

/** A Txn guard: `target(key) == value` (Compare.CompareResult EQUAL). */
export interface Compare {
  key: Buffer;
  target: CompareTarget;
  equals: number;
}

export type RequestOp = { range: RangeRequest } | { put: PutRequest } | { deleteRange: DeleteRangeRequest };

export type ResponseOp = { range: RangeResponse } | { put: PutResponse } | { deleteRange: DeleteRangeResponse };

export interface TxnRequest {
  compare: Compare[];
  success: RequestOp[];
  failure: RequestOp[];
}

export interface TxnResponse {
  revision: number;
  succeeded: boolean;
  responses: ResponseOp[];
}

export interface CompactionRequest {
  revision: number;
  /** Wait until the compaction has been applied to the backend database. */
  physical?: boolean;
}

export interface WatchCreateRequest {
  key: Buffer;
  rangeEnd?: Buffer;
  /** First revision to deliver; 0 = from now on. */
  startRevision?: number;
  prevKv?: boolean;
}

export interface WatchResponse {
  revision: number;
  watchId: number;
  created: boolean;
  canceled: boolean;
  /** Set when the requested start revision has been compacted: etcd's compact revision. */
  compactRevision: number;
  cancelReason: string;
  events: EtcdEvent[];
}

// ---- encoding ----

const VARINT = 0;
const LEN = 2;

class Writer {
  private buf = Buffer.allocUnsafe(256);
  private pos = 0;

  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  private varint(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`etcd codec: cannot encode ${v} as a varint`);
    this.ensure(10);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
  }

  /** A varint field; zero is left out unless `always` (oneof members have presence). */
  uint(field: number, v: number | undefined, always = false): void {
    if (!v && !always) return;
    this.varint(field * 8 + VARINT);
    this.varint(v ?? 0);
  }

  bool(field: number, v: boolean | undefined): void {
    if (v) this.uint(field, 1);
  }

  bytes(field: number, v: Buffer | undefined): void {
    if (v === undefined || v.length === 0) return;
    this.varint(field * 8 + LEN);
    this.varint(v.length);
    this.ensure(v.length);
    v.copy(this.buf, this.pos);
    this.pos += v.length;
  }

  message(field: number, encode: (w: Writer) => void): void {
    const inner = new Writer();
    encode(inner);
    const b = inner.finish();
    this.varint(field * 8 + LEN);
    this.varint(b.length);
    this.ensure(b.length);
    b.copy(this.buf, this.pos);
    this.pos += b.length;
  }
}

function writeRange(w: Writer, r: RangeRequest): void {
  w.bytes(1, r.key);
  w.bytes(2, r.rangeEnd);
  w.uint(3, r.limit);
  w.uint(4, r.revision);
  w.bool(9, r.countOnly);
}

function writePut(w: Writer, r: PutRequest): void {
  w.bytes(1, r.key);
  w.bytes(2, r.value);
  w.bool(4, r.prevKv);
}

function writeDeleteRange(w: Writer, r: DeleteRangeRequest): void {
  w.bytes(1, r.key);
  w.bytes(2, r.rangeEnd);
  w.bool(3, r.prevKv);
}

function writeRequestOp(w: Writer, op: RequestOp): void {
  if ('range' in op) w.message(1, (m) => writeRange(m, op.range));
  else if ('put' in op) w.message(2, (m) => writePut(m, op.put));
  else w.message(3, (m) => writeDeleteRange(m, op.deleteRange));
}

export function encodeRangeRequest(r: RangeRequest): Buffer {
  const w = new Writer();
  writeRange(w, r);
  return w.finish();
}

export function encodePutRequest(r: PutRequest): Buffer {
  const w = new Writer();
  writePut(w, r);
  return w.finish();
}

export function encodeDeleteRangeRequest(r: DeleteRangeRequest): Buffer {
  const w = new Writer();
  writeDeleteRange(w, r);
  return w.finish();
}

export function encodeTxnRequest(r: TxnRequest): Buffer {
  const w = new Writer();
  for (const c of r.compare) {
    w.message(1, (m) => {
      // result (1) is EQUAL = 0, the default. target (2): CREATE = 1, MOD = 2. The compared value sits in the
      // oneof target_union: create_revision = 5, mod_revision = 6.
      m.uint(2, c.target === 'create' ? 1 : 2);
      m.bytes(3, c.key);
      m.uint(c.target === 'create' ? 5 : 6, c.equals, true);
    });
  }
  for (const op of r.success) w.message(2, (m) => writeRequestOp(m, op));
  for (const op of r.failure) w.message(3, (m) => writeRequestOp(m, op));
  return w.finish();
}

export function encodeCompactionRequest(r: CompactionRequest): Buffer {
  const w = new Writer();
  w.uint(1, r.revision);
  w.bool(2, r.physical);
  return w.finish();
}

/**
 * A WatchRequest carrying a create_request (field 1). EtcdStore opens one stream per watch and ends a watch by
 * cancelling its stream, so it never sends cancel_request.
 */
export function encodeWatchCreateRequest(c: WatchCreateRequest): Buffer {
  const w = new Writer();
  w.message(1, (m) => {
    m.bytes(1, c.key);
    m.bytes(2, c.rangeEnd);
    m.uint(3, c.startRevision);
    m.bool(6, c.prevKv);
  });
  return w.finish();
}

// ---- decoding ----

/** Walks the fields of one message in buf[start, end). */
class Reader {
  pos: number;
  field = 0;
  wire = 0;

  constructor(readonly buf: Buffer, start = 0, readonly end = buf.length) {
    this.pos = start;
  }

  /** Reads the next tag; false at the end of the message. */
  next(): boolean {
    if (this.pos >= this.end) return false;
    const tag = this.varint();
    this.field = Math.floor(tag / 8);
    this.wire = tag % 8;
    return true;
  }

  varint(): number {
    let result = 0;
    let scale = 1;
    for (;;) {
      if (this.pos >= this.end) throw new RangeError('etcd codec: truncated varint');
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 0x80;
      if (scale > 2 ** 63) throw new RangeError('etcd codec: varint longer than 10 bytes');
    }
  }

  /** The [start, end) of a length-delimited field's payload. */
  span(): [number, number] {
    const len = this.varint();
    const start = this.pos;
    this.pos += len;
    if (this.pos > this.end) throw new RangeError('etcd codec: truncated field');
    return [start, this.pos];
  }

  bytes(): Buffer {
    const [s, e] = this.span();
    return this.buf.subarray(s, e);
  }

  /** A nested message, as a reader over its bytes. */
  message(): Reader {
    const [s, e] = this.span();
    return new Reader(this.buf, s, e);
  }

  skip(): void {
    switch (this.wire) {
      case 0:
        this.varint();
        return;
      case 1:
        this.pos += 8;
        return;
      case 2:
        this.span();
        return;
      case 5:
        this.pos += 4;
        return;
      default:
        throw new RangeError(`etcd codec: unsupported wire type ${this.wire} (field ${this.field})`);
    }
  }
}

const EMPTY = Buffer.alloc(0);

/** etcdserverpb.ResponseHeader: only the revision (field 3) matters here. */
function readHeaderRevision(r: Reader): number {
  let revision = 0;
  while (r.next()) {
    if (r.field === 3 && r.wire === VARINT) revision = r.varint();
    else r.skip();
  }
  return revision;
}

function readKeyValue(r: Reader): EtcdKeyValue {
  const kv: EtcdKeyValue = { key: EMPTY, value: EMPTY, createRevision: 0, modRevision: 0, version: 0 };
  while (r.next()) {
    switch (r.field) {
      case 1:
        kv.key = r.bytes();
        break;
      case 2:
        kv.createRevision = r.varint();
        break;
      case 3:
        kv.modRevision = r.varint();
        break;
      case 4:
        kv.version = r.varint();
        break;
      case 5:
        kv.value = r.bytes();
        break;
      default:
        r.skip();
    }
  }
  return kv;
}

function readEvent(r: Reader): EtcdEvent {
  let type: EtcdEventType = 'put';
  let kv: EtcdKeyValue | undefined;
  let prevKv: EtcdKeyValue | undefined;
  while (r.next()) {
    if (r.field === 1 && r.wire === VARINT) type = r.varint() === 1 ? 'delete' : 'put';
    else if (r.field === 2) kv = readKeyValue(r.message());
    else if (r.field === 3) prevKv = readKeyValue(r.message());
    else r.skip();
  }
  if (!kv) throw new RangeError('etcd codec: watch event without kv');
  return prevKv ? { type, kv, prevKv } : { type, kv };
}

function readRange(r: Reader): RangeResponse {
  const res: RangeResponse = { revision: 0, kvs: [], more: false, count: 0 };
  while (r.next()) {
    switch (r.field) {
      case 1:
        res.revision = readHeaderRevision(r.message());
        break;
      case 2:
        res.kvs.push(readKeyValue(r.message()));
        break;
      case 3:
        res.more = r.varint() !== 0;
        break;
      case 4:
        res.count = r.varint();
        break;
      default:
        r.skip();
    }
  }
  return res;
}

function readPut(r: Reader): PutResponse {
  const res: PutResponse = { revision: 0 };
  while (r.next()) {
    if (r.field === 1) res.revision = readHeaderRevision(r.message());
    else if (r.field === 2) res.prevKv = readKeyValue(r.message());
    else r.skip();
  }
  return res;
}

function readDeleteRange(r: Reader): DeleteRangeResponse {
  const res: DeleteRangeResponse = { revision: 0, deleted: 0, prevKvs: [] };
  while (r.next()) {
    if (r.field === 1) res.revision = readHeaderRevision(r.message());
    else if (r.field === 2 && r.wire === VARINT) res.deleted = r.varint();
    else if (r.field === 3) res.prevKvs.push(readKeyValue(r.message()));
    else r.skip();
  }
  return res;
}

function readResponseOp(r: Reader): ResponseOp {
  let op: ResponseOp | undefined;
  while (r.next()) {
    if (r.field === 1) op = { range: readRange(r.message()) };
    else if (r.field === 2) op = { put: readPut(r.message()) };
    else if (r.field === 3) op = { deleteRange: readDeleteRange(r.message()) };
    else r.skip();
  }
  if (!op) throw new RangeError('etcd codec: empty ResponseOp');
  return op;
}

export function decodeRangeResponse(buf: Buffer): RangeResponse {
  return readRange(new Reader(buf));
}

export function decodePutResponse(buf: Buffer): PutResponse {
  return readPut(new Reader(buf));
}

export function decodeDeleteRangeResponse(buf: Buffer): DeleteRangeResponse {
  return readDeleteRange(new Reader(buf));
}

export function decodeTxnResponse(buf: Buffer): TxnResponse {
  const r = new Reader(buf);
  const res: TxnResponse = { revision: 0, succeeded: false, responses: [] };
  while (r.next()) {
    if (r.field === 1) res.revision = readHeaderRevision(r.message());
    else if (r.field === 2 && r.wire === VARINT) res.succeeded = r.varint() !== 0;
    else if (r.field === 3) res.responses.push(readResponseOp(r.message()));
    else r.skip();
  }
  return res;
}

/** CompactionResponse has only a header. */
export function decodeCompactionResponse(buf: Buffer): { revision: number } {
  const r = new Reader(buf);
  let revision = 0;
  while (r.next()) {
    if (r.field === 1) revision = readHeaderRevision(r.message());
    else r.skip();
  }
  return { revision };
}

export function decodeWatchResponse(buf: Buffer): WatchResponse {
  const r = new Reader(buf);
  const res: WatchResponse = {
    revision: 0,
    watchId: 0,
    created: false,
    canceled: false,
    compactRevision: 0,
    cancelReason: '',
    events: [],
  };
  while (r.next()) {
    switch (r.field) {
      case 1:
        res.revision = readHeaderRevision(r.message());
        break;
      case 2:
        res.watchId = r.varint();
        break;
      case 3:
        res.created = r.varint() !== 0;
        break;
      case 4:
        res.canceled = r.varint() !== 0;
        break;
      case 5:
        res.compactRevision = r.varint();
        break;
      case 6:
        res.cancelReason = r.bytes().toString('utf8');
        break;
      case 11:
        res.events.push(readEvent(r.message()));
        break;
      default:
        r.skip();
    }
  }
  return res;
}
