import { strict as assert } from 'node:assert';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { formatCriRecord, formatRfc3339Nano, formatRfc3339NanoFixed, parseCriRecord, parseRfc3339Nano, type LogStream } from './cri-log-format.js';
import { ContainerLogWriter, rotatedFiles } from './container-log-writer.js';
import { readContainerLogs, type ReadContainerLogsOptions } from './container-log-reader.js';

const T0 = 1_700_000_000_123_456_789n; // 2023-11-14T22:13:20.123456789Z

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-logs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A clock that advances 1 ms per call, so every record has its own time. */
function stepClock(start = T0, stepNs = 1_000_000n): () => bigint {
  let now = start - stepNs;
  return () => (now += stepNs);
}

async function readAll(path: string, options: ReadContainerLogsOptions = {}): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of readContainerLogs(path, options)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

test('RFC 3339 with nanoseconds: Go RFC3339Nano trims zeros, kubelet output keeps nine digits', () => {
  const cases: Array<[bigint, string, string]> = [
    [T0, '2023-11-14T22:13:20.123456789Z', '2023-11-14T22:13:20.123456789Z'],
    [1_700_000_000_120_000_000n, '2023-11-14T22:13:20.12Z', '2023-11-14T22:13:20.120000000Z'],
    [1_700_000_000_000_000_000n, '2023-11-14T22:13:20Z', '2023-11-14T22:13:20.000000000Z'],
  ];
  for (const [ns, trimmed, fixed] of cases) {
    assert.equal(formatRfc3339Nano(ns), trimmed);
    assert.equal(formatRfc3339NanoFixed(ns), fixed);
    assert.equal(parseRfc3339Nano(trimmed), ns);
  }
  // containerd writes local time with an offset where TZ is set.
  assert.equal(parseRfc3339Nano('2023-11-15T00:13:20.123456789+02:00'), T0);
  assert.equal(parseRfc3339Nano('2023-11-14 22:13:20Z'), undefined);
});

test('parseCriRecord: records as containerd writes them, and lines that are not', () => {
  const cases: Array<[string, { stream: LogStream; partial: boolean; content: string } | 'error']> = [
    ['2016-10-06T00:17:09.669794202Z stdout F log content 1', { stream: 'stdout', partial: false, content: 'log content 1' }],
    ['2016-10-06T00:17:09.669794203Z stderr P part', { stream: 'stderr', partial: true, content: 'part' }],
    ['2016-10-06T00:17:09.669794203Z stderr F ', { stream: 'stderr', partial: false, content: '' }],
    ['2016-10-06T00:17:09.669794203Z stdout F', { stream: 'stdout', partial: false, content: '' }],
    ['2016-10-06T00:17:09.669794203Z stdout F:extra  two  spaces ', { stream: 'stdout', partial: false, content: ' two  spaces ' }],
    ['2016-10-06T00:17:09Z stdin F x', 'error'],
    ['not a time stdout F x', 'error'],
    ['2016-10-06T00:17:09Z stdout X x', 'error'],
    ['hello', 'error'],
  ];
  for (const [line, want] of cases) {
    const got = parseCriRecord(Buffer.from(line));
    if (want === 'error') {
      assert.ok(got instanceof Error, line);
      continue;
    }
    assert.ok(!(got instanceof Error), `${line}: ${String(got)}`);
    assert.deepEqual({ stream: got.stream, partial: got.partial, content: got.content.toString() }, want, line);
  }
  const record = { timeNs: T0, stream: 'stdout' as const, partial: false, content: Buffer.from('x y') };
  assert.equal(formatCriRecord(record).toString(), '2023-11-14T22:13:20.123456789Z stdout F x y\n');
});

test('ContainerLogWriter splits lines as containerd does', async (t) => {
  const cases: Array<{ name: string; writes: Array<[LogStream, string] | ['end', LogStream]>; maxLineBytes?: number; want: string[] }> = [
    { name: 'two lines in one chunk', writes: [['stdout', 'a\nb\n']], want: ['stdout F a', 'stdout F b'] },
    { name: 'a line across chunks', writes: [['stdout', 'hel'], ['stdout', 'lo\n']], want: ['stdout F hello'] },
    { name: 'CRLF loses its CR', writes: [['stdout', 'dos\r\n']], want: ['stdout F dos'] },
    { name: 'empty line', writes: [['stderr', '\n']], want: ['stderr F '] },
    {
      name: 'streams keep their own pending line',
      writes: [['stdout', 'out-'], ['stderr', 'err\n'], ['stdout', 'line\n']],
      want: ['stderr F err', 'stdout F out-line'],
    },
    { name: 'a long line is cut into P records', maxLineBytes: 4, writes: [['stdout', 'abcdefghij\n']], want: ['stdout P abcd', 'stdout P efgh', 'stdout F ij'] },
    { name: 'exactly the limit is one record (containerd splits only longer lines)', maxLineBytes: 4, writes: [['stdout', 'abcd\n']], want: ['stdout F abcd'] },
    { name: 'stream closed mid-line: P', writes: [['stdout', 'no newline'], ['end', 'stdout']], want: ['stdout P no newline'] },
    { name: 'end of a stream with nothing pending writes nothing', writes: [['stdout', 'x\n'], ['end', 'stdout']], want: ['stdout F x'] },
  ];
  const dir = tempDir(t);
  for (const [i, c] of cases.entries()) {
    const path = join(dir, `c${i}`, '0.log');
    const writer = new ContainerLogWriter({ path, maxLineBytes: c.maxLineBytes, clock: stepClock() });
    for (const [what, arg] of c.writes) {
      if (what === 'end') writer.endStream(arg as LogStream);
      else writer.write(what, Buffer.from(arg));
    }
    const lines = readFileSync(path, 'utf8').split('\n').slice(0, -1);
    assert.deepEqual(
      lines.map((l) => l.slice(l.indexOf(' ') + 1)),
      c.want,
      c.name,
    );
    assert.ok(lines.every((l) => parseRfc3339Nano(l.slice(0, l.indexOf(' '))) !== undefined), c.name);
    writer.close();
  }
});

test('ContainerLogWriter rotates at maxSizeBytes and keeps maxFiles files', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'app', '0.log');
  // Records are 45 bytes ("2023-11-14T22:13:20.123456789Z stdout F line-NN\n" is 47); 100-byte files hold two.
  const writer = new ContainerLogWriter({ path, maxSizeBytes: 100, maxFiles: 3, clock: stepClock() });
  for (let i = 0; i < 10; i++) writer.write('stdout', Buffer.from(`line-${String(i).padStart(2, '0')}\n`));
  writer.close();
  const names = readdirSync(join(dir, 'app')).sort();
  assert.equal(names.length, 3, names.join(' '));
  assert.ok(names.includes('0.log'));
  const rotated = rotatedFiles(path);
  assert.equal(rotated.length, 2);
  // Same second: the collision suffix keeps them in order.
  assert.match(rotated[0]!, /0\.log\.20231114-221320(-\d+)?$/);
  const all = [...rotated, path].map((f) => readFileSync(f, 'utf8')).join('');
  assert.deepEqual(
    all.split('\n').slice(0, -1).map((l) => l.split(' ')[3]),
    ['line-04', 'line-05', 'line-06', 'line-07', 'line-08', 'line-09'],
  );
  for (const f of [...rotated, path]) assert.ok(readFileSync(f).length <= 100);
});

function writeLog(path: string, records: Array<[number, LogStream, 'P' | 'F', string]>): void {
  writeFileSync(path, records.map(([ms, s, tag, c]) => `${formatRfc3339Nano(T0 + BigInt(ms) * 1_000_000n)} ${s} ${tag} ${c}\n`).join(''));
}

test('readContainerLogs: tail, since, timestamps, limitBytes, streams, partial lines', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, '0.log');
  writeLog(path, [
    [0, 'stdout', 'F', 'one'],
    [1, 'stderr', 'F', 'two'],
    [2, 'stdout', 'P', 'thr'],
    [3, 'stderr', 'F', 'four'],
    [4, 'stdout', 'F', 'ee'],
    [5, 'stdout', 'F', 'five'],
  ]);
  writeFileSync(path, 'garbage that kubelet skips\n', { flag: 'a' });
  writeFileSync(path, `${formatRfc3339Nano(T0 + 6_000_000n)} stdout P tail-without-newline\n`, { flag: 'a' });
  const t0ms = Number(T0 / 1_000_000n);
  const cases: Array<[string, ReadContainerLogsOptions, string]> = [
    ['all', {}, 'one\ntwo\nfour\nthree\nfive\ntail-without-newline'],
    ['stdout only', { stream: 'stdout' }, 'one\nthree\nfive\ntail-without-newline'],
    ['stderr only', { stream: 'stderr' }, 'two\nfour\n'],
    ['tail 2', { tailLines: 2 }, 'five\ntail-without-newline'],
    ['tail 0', { tailLines: 0 }, ''],
    ['tail -1 is all', { tailLines: -1 }, 'one\ntwo\nfour\nthree\nfive\ntail-without-newline'],
    ['since keeps lines at or after', { sinceTime: t0ms + 3 }, 'four\nfive\ntail-without-newline'],
    ['since counts a joined line at its first record', { sinceTime: T0 + 2_000_000n, stream: 'stdout' }, 'three\nfive\ntail-without-newline'],
    ['sinceSeconds', { sinceSeconds: 1, now: () => t0ms + 1004 }, 'five\ntail-without-newline'],
    ['limitBytes cuts mid-line', { limitBytes: 6 }, 'one\ntw'],
    ['timestamps', { tailLines: 1, stream: 'stderr', timestamps: true }, '2023-11-14T22:13:20.126456789Z four\n'],
  ];
  for (const [name, options, want] of cases) assert.equal(await readAll(path, options), want, name);
  assert.equal(await readAll(join(dir, 'missing.log')), '');
});

test('readContainerLogs reads rotated files oldest first; tail skips what it does not need', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, '0.log');
  writeLog(`${path}.20231114-221320`, [[0, 'stdout', 'F', 'a'], [1, 'stdout', 'P', 'b']]);
  writeLog(`${path}.20231114-221320-1`, [[2, 'stdout', 'F', 'c']]);
  writeLog(path, [[3, 'stdout', 'F', 'd']]);
  assert.equal(await readAll(path), 'a\nbc\nd\n');
  assert.equal(await readAll(path, { tailLines: 2 }), 'bc\nd\n');
});

test('readContainerLogs follow: new lines, rotation while following, end when the container exits', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'ctr', '0.log');
  let running = true;
  const writer = new ContainerLogWriter({ path, maxSizeBytes: 120, maxFiles: 5 });
  t.after(() => writer.close());
  writer.write('stdout', Buffer.from('before\n'));
  const stream = readContainerLogs(path, { follow: true, tailLines: 1, pollIntervalMs: 20, isRunning: () => running });
  const got: string[] = [];
  const done = (async () => {
    for await (const chunk of stream) got.push(String(chunk));
  })();
  const waitFor = async (text: string) => {
    for (let i = 0; i < 200 && !got.join('').includes(text); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(got.join('').includes(text), `waited for ${JSON.stringify(text)}, got ${JSON.stringify(got.join(''))}`);
  };
  await waitFor('before\n');
  // Each record is ~40 bytes: the writer rotates every three lines, twice in a burst the reader may sleep through.
  for (let i = 0; i < 8; i++) writer.write(i % 2 === 0 ? 'stdout' : 'stderr', Buffer.from(`l${i}\n`));
  await waitFor('l7\n');
  assert.ok(rotatedFiles(path).length >= 2, 'the writer rotated');
  writer.write('stdout', Buffer.from('last words'));
  writer.endStream('stdout');
  running = false;
  await done;
  assert.equal(got.join(''), 'before\nl0\nl1\nl2\nl3\nl4\nl5\nl6\nl7\nlast words');
});

test('readContainerLogs follow stops when the reader is destroyed', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, '0.log');
  writeLog(path, [[0, 'stdout', 'F', 'x']]);
  const stream = readContainerLogs(path, { follow: true, pollIntervalMs: 10 });
  const first = await new Promise<string>((resolve) => stream.once('data', (c) => resolve(String(c))));
  assert.equal(first, 'x\n');
  const closed = new Promise((resolve) => stream.once('close', resolve));
  stream.destroy();
  await closed;
});

test('readContainerLogs reads gzip-compressed rotated files (the cri runtime, kubelet-rotated) in order, with tail', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, '0.log');
  writeLog(`${path}.20231114-221320`, [[0, 'stdout', 'F', 'a'], [1, 'stdout', 'F', 'b']]);
  writeFileSync(`${path}.20231114-221320.gz`, gzipSync(readFileSync(`${path}.20231114-221320`)));
  rmSync(`${path}.20231114-221320`);
  writeLog(`${path}.20231114-221330`, [[2, 'stderr', 'F', 'c']]);
  writeLog(path, [[3, 'stdout', 'F', 'd']]);
  assert.deepEqual(rotatedFiles(path).map((f) => f.slice(path.length)), ['.20231114-221320.gz', '.20231114-221330']);
  assert.equal(await readAll(path), 'a\nb\nc\nd\n');
  assert.equal(await readAll(path, { tailLines: 3 }), 'b\nc\nd\n');
  assert.equal(await readAll(path, { stream: 'stdout' }), 'a\nb\nd\n');
});

test('readContainerLogs follow across a containerd-style rotation: rename, late writes to the renamed file, then the new file', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, '0.log');
  const clock = stepClock();
  const record = (text: string) => formatCriRecord({ timeNs: clock(), stream: 'stdout', partial: false, content: Buffer.from(text) });
  // containerd keeps its file open; the kubelet renames it, and until ReopenContainerLog swaps files it writes on.
  const old = openSync(path, 'a');
  writeSync(old, record('one'));
  let running = true;
  const got: string[] = [];
  const done = (async () => {
    for await (const chunk of readContainerLogs(path, { follow: true, pollIntervalMs: 10, isRunning: () => running })) got.push(String(chunk));
  })();
  const waitFor = async (text: string) => {
    for (let i = 0; i < 300 && !got.join('').includes(text); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(got.join('').includes(text), `waited for ${JSON.stringify(text)}, got ${JSON.stringify(got.join(''))}`);
  };
  await waitFor('one\n');
  renameSync(path, `${path}.20231114-221320`);
  writeSync(old, record('two'));
  await new Promise((r) => setTimeout(r, 40));
  // The new file appears (containerd opened it) a moment before the old one gets its last write.
  const fresh = openSync(path, 'a');
  writeSync(old, record('three'));
  closeSync(old);
  writeSync(fresh, record('four'));
  await waitFor('four\n');
  writeSync(fresh, record('five'));
  closeSync(fresh);
  running = false;
  await done;
  assert.equal(got.join(''), 'one\ntwo\nthree\nfour\nfive\n');
});

test('readContainerLogs follow, a slow reader: its file rotated again and compressed meanwhile, the files after it are still read', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, '0.log');
  const clock = stepClock();
  const records = (prefix: string, n: number) => Buffer.concat(Array.from({ length: n }, (_, i) => formatCriRecord({ timeNs: clock(), stream: 'stdout', partial: false, content: Buffer.from(`${prefix}${i}`) })));
  writeFileSync(path, records('a', 2000)); // ~80 KiB: more than the stream buffers before its reader reads
  let running = true;
  const stream = readContainerLogs(path, { follow: true, pollIntervalMs: 10, isRunning: () => running });
  stream.pause();
  stream.read(0); // the generator starts, fills the buffer and waits at a yield
  await new Promise((r) => setTimeout(r, 100));
  // First rotation (containerd goes on in a new file), then the next one compresses the first rotated file.
  renameSync(path, `${path}.20231114-221320`);
  writeFileSync(path, records('b', 10));
  writeFileSync(`${path}.20231114-221320.gz`, gzipSync(readFileSync(`${path}.20231114-221320`)));
  rmSync(`${path}.20231114-221320`);
  renameSync(path, `${path}.20231114-221330`);
  writeFileSync(path, records('c', 10));
  setTimeout(() => (running = false), 300);
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  const lines = Buffer.concat(chunks).toString().split('\n').filter(Boolean);
  const expected = [...Array.from({ length: 2000 }, (_, i) => `a${i}`), ...Array.from({ length: 10 }, (_, i) => `b${i}`), ...Array.from({ length: 10 }, (_, i) => `c${i}`)];
  assert.deepEqual(lines, expected);
});
