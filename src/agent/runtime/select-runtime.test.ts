import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { selectRuntime } from './select-runtime.js';

describe('selectRuntime', () => {
  const cases: Array<[string, Parameters<typeof selectRuntime>, { runtime: string; endpoint?: string; reason: RegExp } | RegExp]> = [
    ['auto with containerd installed', ['auto', { containerdPath: '/usr/bin/containerd' }], { runtime: 'cri', reason: /containerd is installed \(\/usr\/bin\/containerd\): skiff starts/ }],
    ['auto without containerd', ['auto', {}], { runtime: 'process', reason: /containerd is not installed/ }],
    ['auto with an endpoint', ['auto', { endpoint: 'unix:///run/containerd.sock' }], { runtime: 'cri', endpoint: 'unix:///run/containerd.sock', reason: /endpoint/ }],
    ['cri with containerd', ['cri', { containerdPath: '/usr/bin/containerd' }], { runtime: 'cri', reason: /--runtime cri/ }],
    ['cri without containerd', ['cri', {}], /--runtime cri needs containerd/],
    ['process even with containerd', ['process', { containerdPath: '/usr/bin/containerd' }], { runtime: 'process', reason: /--runtime process/ }],
    ['process with an endpoint', ['process', { endpoint: 'unix:///x.sock' }], /needs the cri runtime/],
  ];
  for (const [name, args, want] of cases) {
    it(name, () => {
      if (want instanceof RegExp) {
        assert.throws(() => selectRuntime(...args), want);
        return;
      }
      const got = selectRuntime(...args);
      assert.equal(got.runtime, want.runtime);
      assert.equal(got.endpoint, want.endpoint);
      assert.match(got.reason, want.reason);
    });
  }
});
