import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeChannelMessage,
  encodeChannelMessage,
  negotiateChannelProtocol,
  parseProtocolHeader,
  PORT_FORWARD_PROTOCOLS,
  REMOTE_COMMAND_PROTOCOLS,
} from './channel-protocol.js';
import { encodeExitStatus, exitCodeStatus, successStatus } from './exec-status.js';
import { ResizeDecoder } from './resize-decoder.js';

describe('channel protocol negotiation', () => {
  const cases: Array<[string, string | undefined, string[], string | undefined]> = [
    ['kubectl 1.30+ offers only v5', 'v5.channel.k8s.io', [], 'v5.channel.k8s.io'],
    ['client-node offers v5..v1, the first supported wins', 'v5.channel.k8s.io, v4.channel.k8s.io, v3.channel.k8s.io, v2.channel.k8s.io, channel.k8s.io', [], 'v5.channel.k8s.io'],
    ['an unknown first offer is skipped', 'v9.channel.k8s.io,v4.base64.channel.k8s.io', [], 'v4.base64.channel.k8s.io'],
    ['no offer: the plain binary protocol', undefined, [], ''],
    ['nothing supported', 'SPDY/3.1+portforward.k8s.io', [], undefined],
  ];
  for (const [name, header, , want] of cases) {
    it(name, () => assert.equal(negotiateChannelProtocol(parseProtocolHeader(header), REMOTE_COMMAND_PROTOCOLS)?.name, want));
  }
  it('port-forward offers no v5 (kubelet serves v4 and v1)', () => {
    assert.equal(negotiateChannelProtocol(['v5.channel.k8s.io'], PORT_FORWARD_PROTOCOLS), undefined);
    assert.equal(negotiateChannelProtocol(['v5.channel.k8s.io', 'v4.channel.k8s.io'], PORT_FORWARD_PROTOCOLS)?.name, 'v4.channel.k8s.io');
  });
  it('joins repeated headers', () => assert.deepEqual(parseProtocolHeader(['a, b', 'c']), ['a', 'b', 'c']));
});

describe('channel framing', () => {
  const binary = REMOTE_COMMAND_PROTOCOLS.find((p) => p.name === 'v5.channel.k8s.io')!;
  const base64 = REMOTE_COMMAND_PROTOCOLS.find((p) => p.name === 'v4.base64.channel.k8s.io')!;
  it('binary: the channel byte, then the payload', () => {
    assert.deepEqual(encodeChannelMessage(binary, 1, Buffer.from('hi')), Buffer.from([1, 0x68, 0x69]));
    assert.deepEqual(decodeChannelMessage(binary, Buffer.from([0xff, 0x00]), true), { channel: 255, data: Buffer.from([0]) });
    assert.equal(decodeChannelMessage(binary, Buffer.alloc(0), true), undefined);
  });
  it('base64: a digit, then base64 text', () => {
    assert.equal(encodeChannelMessage(base64, 2, Buffer.from('err')), '2ZXJy');
    assert.deepEqual(decodeChannelMessage(base64, Buffer.from('0aGk='), false), { channel: 0, data: Buffer.from('hi') });
    assert.throws(() => decodeChannelMessage(base64, Buffer.from('xaGk='), false), /not a digit/);
  });
});

describe('exit status on the error stream', () => {
  it('v4+: metav1.Status JSON with the exit code as an ExitCode cause', () => {
    assert.equal(encodeExitStatus(5, successStatus()).toString(), '{"metadata":{},"status":"Success"}');
    const s = JSON.parse(encodeExitStatus(4, exitCodeStatus(3, ['sh', '-c', 'exit 3'])).toString());
    assert.equal(s.status, 'Failure');
    assert.equal(s.reason, 'NonZeroExitCode');
    assert.deepEqual(s.details.causes, [{ reason: 'ExitCode', message: '3' }]);
    assert.match(s.message, /^command terminated with non-zero exit code: /);
  });
  it('v1-v3: text, nothing on success', () => {
    assert.equal(encodeExitStatus(3, successStatus()).length, 0);
    assert.match(encodeExitStatus(2, exitCodeStatus(1, ['false'])).toString(), /exit code 1/);
  });
});

describe('ResizeDecoder', () => {
  it('splits objects however the transport cuts them', () => {
    const d = new ResizeDecoder();
    assert.deepEqual(d.push('{"Width":80,'), []);
    assert.deepEqual(d.push('"Height":24}\n{"Width":100,"Height":30}\n'), [
      { width: 80, height: 24 },
      { width: 100, height: 30 },
    ]);
    assert.deepEqual(d.push('{"Width":"x"}{"Width":1,"Height":2}'), [{ width: 1, height: 2 }]);
  });

  it('skips sizes that are not two uint16 (found by test/agent-api-fuzz.test.ts: 65536 and 1e308 reached the runtime)', () => {
    const d = new ResizeDecoder();
    const junk = ['{"Width":65536,"Height":24}', '{"Width":1e308,"Height":1e308}', '{"Width":-1,"Height":5}', '{"Width":80.5,"Height":24}', '{"Width":"80","Height":[24]}', '{"Width":null}'];
    assert.deepEqual(d.push(junk.join('')), []);
    assert.deepEqual(d.push('{"Width":65535,"Height":0}'), [{ width: 65535, height: 0 }]);
  });
});
