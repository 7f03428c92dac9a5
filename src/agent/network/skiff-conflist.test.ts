import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatConflist, renderSkiffConflist, writeFileIfChanged, type SkiffConflistOptions } from './skiff-conflist.js';

const base: SkiffConflistOptions = {
  networkName: 'skiff',
  bridgeName: 'skiff1a2b3c',
  podCidrs: ['10.42.3.0/24'],
  ipamDataDir: '/var/lib/skiff/agent/cni/ipam',
};

test('the conflist for one IPv4 podCIDR (golden)', () => {
  assert.equal(
    formatConflist(renderSkiffConflist(base)),
    `{
  "cniVersion": "1.0.0",
  "name": "skiff",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "skiff1a2b3c",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "/var/lib/skiff/agent/cni/ipam",
        "ranges": [
          [
            {
              "subnet": "10.42.3.0/24"
            }
          ]
        ],
        "routes": [
          {
            "dst": "0.0.0.0/0"
          }
        ]
      }
    },
    {
      "type": "portmap",
      "capabilities": {
        "portMappings": true
      },
      "snat": true
    }
  ]
}
`,
  );
});

test('dual stack: one range set per family and a default route for each; mtu when given', () => {
  const list = renderSkiffConflist({ ...base, podCidrs: ['10.42.3.0/24', 'fd00:42:3::/64'], mtu: 1450 });
  const bridge = list.plugins[0]!;
  assert.equal(bridge.mtu, 1450);
  assert.deepEqual(bridge.ipam, {
    type: 'host-local',
    dataDir: base.ipamDataDir,
    ranges: [[{ subnet: '10.42.3.0/24' }], [{ subnet: 'fd00:42:3::/64' }]],
    routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }],
  });
});

test('bad options are refused, naming the field and the value', () => {
  const cases: Array<[Partial<SkiffConflistOptions>, RegExp]> = [
    [{ bridgeName: 'a-bridge-name-too-long' }, /bridgeName: Invalid value: "a-bridge-name-too-long"/],
    [{ bridgeName: 'br/0' }, /bridgeName/],
    [{ bridgeName: '' }, /bridgeName/],
    [{ networkName: '-x' }, /networkName/],
    [{ podCidrs: [] }, /podCidrs: Invalid value: \[\]/],
    [{ podCidrs: ['10.42.3.0'] }, /podCidrs\[0\]: Invalid value: "10.42.3.0"/],
    [{ podCidrs: ['10.42.3.0/33'] }, /podCidrs\[0\]/],
    [{ podCidrs: ['10.42.3.0/31'] }, /podCidrs\[0\]/],
    [{ podCidrs: ['10.42.300.0/24'] }, /podCidrs\[0\]/],
    [{ podCidrs: ['10.42.3.0/24', '10.42.4.0/24'] }, /different families/],
    [{ ipamDataDir: 'relative/dir' }, /ipamDataDir/],
    [{ mtu: 100 }, /mtu: Invalid value: 100/],
  ];
  for (const [override, message] of cases) {
    assert.throws(() => renderSkiffConflist({ ...base, ...override }), message, JSON.stringify(override));
  }
});

test('writeFileIfChanged writes new or changed content only, leaving no temporary file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-conflist-'));
  try {
    const path = join(dir, 'net.d', '10-skiff.conflist');
    const content = formatConflist(renderSkiffConflist(base));
    assert.equal(await writeFileIfChanged(path, content), true);
    const first = await stat(path);
    assert.equal(await writeFileIfChanged(path, content), false);
    assert.equal((await stat(path)).ino, first.ino, 'unchanged content: the same file');
    const changed = formatConflist(renderSkiffConflist({ ...base, podCidrs: ['10.42.4.0/24'] }));
    assert.equal(await writeFileIfChanged(path, changed), true);
    assert.equal(await readFile(path, 'utf8'), changed);
    assert.notEqual((await stat(path)).ino, first.ino, 'replaced by rename, never rewritten in place');
    assert.equal((await stat(path)).mode & 0o777, 0o644);
    assert.deepEqual(await readdir(join(dir, 'net.d')), ['10-skiff.conflist']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
