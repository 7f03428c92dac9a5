import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { authForImage, parseRegistries, registryHostOf, renderHostsFiles } from './registries.js';

describe('registryHostOf', () => {
  for (const [image, host] of [
    ['busybox', 'docker.io'],
    ['library/busybox:1', 'docker.io'],
    ['docker.io/library/busybox', 'docker.io'],
    ['quay.io/org/app:v1', 'quay.io'],
    ['127.0.0.1:5000/app', '127.0.0.1:5000'],
    ['localhost/app', 'localhost'],
    ['registry:5000/app@sha256:abc', 'registry:5000'],
  ]) {
    test(`${image} -> ${host}`, () => assert.equal(registryHostOf(image), host));
  }
});

describe('parseRegistries', () => {
  test('k3s example: mirrors with endpoint lists, configs with auth and tls', () => {
    const config = parseRegistries(`
mirrors:
  docker.io:
    endpoint:
      - "https://mirror.example.com:5000"
      - "registry.example.com/some/path"
configs:
  "mirror.example.com:5000":
    auth: { username: u, password: p }
    tls: { ca_file: /etc/ca.pem, cert_file: /etc/c.pem, key_file: /etc/k.pem, insecure_skip_verify: true }
  registry.example.com:
    auth: { auth: dTpw, identity_token: tok }
`);
    assert.deepEqual(config.mirrors, { 'docker.io': { endpoint: ['https://mirror.example.com:5000', 'https://registry.example.com/some/path'] } });
    assert.deepEqual(config.configs['mirror.example.com:5000'], {
      auth: { username: 'u', password: 'p', auth: undefined, identityToken: undefined },
      tls: { caFile: '/etc/ca.pem', certFile: '/etc/c.pem', keyFile: '/etc/k.pem', insecureSkipVerify: true },
    });
    assert.equal(config.configs['registry.example.com'].auth?.identityToken, 'tok');
  });

  test('empty file: no mirrors, no configs', () => assert.deepEqual(parseRegistries(''), { mirrors: {}, configs: {} }));

  for (const [yaml, message] of [
    ['mirrors: [a]', /reg.yaml: mirrors: must be a mapping/],
    ['mirrors:\n  docker.io:\n    endpoint: http://x', /mirrors\.docker\.io\.endpoint: must be a list/],
    ['mirrors:\n  docker.io:\n    endpoint: ["ftp://x"]', /not an http\(s\) URL: "ftp:\/\/x"/],
    ['configs:\n  r:\n    tls: { insecure_skip_verify: "yes" }', /configs\.r\.tls\.insecure_skip_verify: must be true or false/],
    ['configs:\n  r:\n    auth: { username: 5 }', /configs\.r\.auth\.username: must be a string, got 5/],
    ['mirrors: {', /reg.yaml: not valid YAML/],
  ] as const) {
    test(`refuses ${JSON.stringify(yaml)}`, () => assert.throws(() => parseRegistries(yaml, 'reg.yaml'), message));
  }
});

describe('renderHostsFiles', () => {
  test('mirrors in order, path endpoints with override_path, TLS per endpoint host, plain HTTP as the registry\'s own server', () => {
    const files = renderHostsFiles(
      parseRegistries(`
mirrors:
  docker.io:
    endpoint: ["http://127.0.0.1:5000", "https://m.example.com/prefix/"]
  "127.0.0.1:5001":
    endpoint: ["http://127.0.0.1:5001"]
  "*":
    endpoint: ["https://all.example.com"]
configs:
  m.example.com:
    tls: { ca_file: /ca.pem, cert_file: /c.pem, key_file: /k.pem }
  private.example.com:
    tls: { insecure_skip_verify: true }
`),
    );
    assert.deepEqual([...files.keys()].sort(), ['127.0.0.1:5001', '_default', 'docker.io', 'm.example.com', 'private.example.com']);
    assert.equal(
      files.get('docker.io'),
      [
        'server = "https://registry-1.docker.io"',
        '',
        '[host."http://127.0.0.1:5000"]',
        '  capabilities = ["pull", "resolve"]',
        '',
        '[host."https://m.example.com/prefix/v2"]',
        '  capabilities = ["pull", "resolve"]',
        '  override_path = true',
        '  ca = "/ca.pem"',
        '  client = [["/c.pem", "/k.pem"]]',
        '',
      ].join('\n'),
    );
    assert.equal(files.get('127.0.0.1:5001'), 'server = "http://127.0.0.1:5001"\n');
    assert.equal(files.get('_default'), '[host."https://all.example.com"]\n  capabilities = ["pull", "resolve"]\n');
    assert.equal(files.get('private.example.com'), 'server = "https://private.example.com"\nskip_verify = true\n');
  });
});

describe('authForImage', () => {
  const config = parseRegistries(`
mirrors:
  docker.io:
    endpoint: ["https://open.example.com", "https://locked.example.com:5000"]
configs:
  "locked.example.com:5000":
    auth: { username: m, password: mp }
  quay.io:
    auth: { username: q, password: qp }
`);
  for (const [image, expected] of [
    ['busybox', { username: 'm', password: 'mp', serverAddress: 'https://locked.example.com:5000' }],
    ['quay.io/org/app', { username: 'q', password: 'qp', serverAddress: 'https://quay.io' }],
    ['ghcr.io/org/app', undefined],
  ] as const) {
    test(`${image}`, () => {
      const auth = authForImage(config, image);
      assert.deepEqual(auth && { username: auth.username, password: auth.password, serverAddress: auth.serverAddress }, expected);
    });
  }
  test('no config, no credentials', () => assert.equal(authForImage(undefined, 'busybox'), undefined));
});
