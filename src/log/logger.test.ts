import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { configureLogging, createLogger, type LoggingOptions } from './logger.js';

function capture(options: Omit<LoggingOptions, 'destination'>): string[] {
  const lines: string[] = [];
  configureLogging({ ...options, destination: { write: (line: string) => lines.push(line) } });
  return lines;
}

describe('createLogger', () => {
  afterEach(() => configureLogging({ level: 'silent' }));

  it('writes one text line with time, level, component, message and key=value fields', () => {
    const lines = capture({ format: 'text' });
    createLogger('deployment-controller').warn('error syncing', { key: 'default/web', attempt: 3, reason: 'quota exceeded', labels: { app: 'web' } });
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARN  deployment-controller: error syncing key=default\/web attempt=3 reason="quota exceeded" labels="{\\"app\\":\\"web\\"}"\n$/);
  });

  it('keeps a multi-line message on one line', () => {
    const lines = capture({ format: 'text' });
    createLogger('x').info('first\nsecond', { detail: 'a\nb' });
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /x: first\\nsecond detail="a\\nb"\n$/);
  });

  it('binds late: a logger made before configureLogging follows it', () => {
    const log = createLogger('scheduler');
    const lines = capture({ format: 'json', level: 'warn' });
    log.info('dropped');
    log.error('kept', { pod: 'default/p' });
    assert.equal(lines.length, 1);
    const entry = JSON.parse(lines[0]!);
    assert.equal(entry.level, 'error');
    assert.equal(entry.component, 'scheduler');
    assert.equal(entry.msg, 'kept');
    assert.equal(entry.pod, 'default/p');
    assert.match(entry.time, /Z$/);
  });

  it('keeps the component when a field has the same name', () => {
    const lines = capture({ format: 'json' });
    createLogger('scheduler').info('x', { component: 'other' });
    assert.equal(JSON.parse(lines[0]!).component, 'scheduler');
  });

  it('drops debug entries unless the level is debug', () => {
    const log = createLogger('informer');
    let lines = capture({});
    log.debug('hidden');
    assert.equal(log.isDebugEnabled(), false);
    assert.deepEqual(lines, []);
    lines = capture({ level: 'debug' });
    log.debug('shown');
    assert.equal(log.isDebugEnabled(), true);
    assert.match(lines[0]!, /DEBUG informer: shown/);
  });

  it('logs an error under err: its message in text, its stack in JSON and in text at debug level', () => {
    const log = createLogger('compactor');
    const err = Object.assign(new Error('disk full'), { code: 'ENOSPC' });
    let lines = capture({ format: 'text' });
    log.error('compaction failed', { err });
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /ERROR compactor: compaction failed err="disk full"\n$/);
    lines = capture({ format: 'text', level: 'debug' });
    log.error('compaction failed', { err });
    assert.match(lines[0]!, /err="disk full"\n {4}Error: disk full\n {8}at /);
    lines = capture({ format: 'json' });
    log.error('compaction failed', { err });
    const entry = JSON.parse(lines[0]!);
    assert.equal(entry.err.message, 'disk full');
    assert.equal(entry.err.code, 'ENOSPC');
    assert.match(entry.err.stack, /^Error: disk full/);
  });
});
