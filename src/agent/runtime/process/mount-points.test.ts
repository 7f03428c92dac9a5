import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { HostMountPoints, mountPointsInAnyNamespace } from './mount-points.js';

const isRoot = process.getuid?.() === 0;
const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'skiff-mount-points-'));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const nothingStarting = () => false;

describe('HostMountPoints', () => {
  it('creates missing mount points (directory or empty file by source), records them, and removes exactly what it made', () => {
    const root = tempDir();
    const state = tempDir();
    const source = join(root, 'source-dir');
    const sourceFile = join(root, 'source-file');
    mkdirSync(source);
    writeFileSync(sourceFile, 'x');
    mkdirSync(join(root, 'existing'));
    mkdirSync(join(root, 'other'));
    const points = new HostMountPoints(state);
    const made = points.prepare([
      { containerPath: join(root, 'a/b/serviceaccount'), hostPath: source },
      { containerPath: join(root, 'existing/termination-log'), hostPath: sourceFile },
      { containerPath: join(root, 'other'), hostPath: source }, // exists: not made, not recorded
      { containerPath: join(root, 'a/b/serviceaccount/inner'), hostPath: source }, // inside another target: the init's
    ]);
    assert.deepEqual(
      made.map((r) => [r.target, r.top, r.kind]),
      [
        [join(root, 'a/b/serviceaccount'), join(root, 'a'), 'dir'],
        [join(root, 'existing/termination-log'), join(root, 'existing/termination-log'), 'file'],
      ],
    );
    assert.equal(readFileSync(join(root, 'existing/termination-log'), 'utf8'), '');
    assert.ok(!existsSync(join(root, 'a/b/serviceaccount/inner')));
    // Recorded on disk: a restarted supervisor finds them.
    assert.equal(new HostMountPoints(state).list().length, 2);

    const result = points.sweep(nothingStarting);
    assert.deepEqual(result.removed.sort(), [join(root, 'a/b/serviceaccount'), join(root, 'existing/termination-log')]);
    assert.ok(!existsSync(join(root, 'a')), 'the created parents went too');
    assert.ok(existsSync(join(root, 'existing')) && existsSync(join(root, 'other')), 'what existed before stays');
    assert.ok(!existsSync(join(state, 'mount-points.json')), 'nothing left to remember');
  });

  it('keeps a mount point a starting container is about to use; never removes content someone put there', () => {
    const root = tempDir();
    const source = tempDir();
    const points = new HostMountPoints(tempDir());
    points.prepare([
      { containerPath: join(root, 'busy/x'), hostPath: source },
      { containerPath: join(root, 'filled/y'), hostPath: source },
    ]);
    writeFileSync(join(root, 'filled/y/data'), 'keep me');
    const result = points.sweep((path) => path === join(root, 'busy/x'));
    assert.deepEqual(result.busy, [join(root, 'busy/x')]);
    assert.ok(existsSync(join(root, 'busy/x')));
    assert.equal(readFileSync(join(root, 'filled/y/data'), 'utf8'), 'keep me');
    // The busy one goes on a later sweep, once no longer in use.
    assert.deepEqual(points.sweep(nothingStarting).removed, [join(root, 'busy/x')]);
    assert.ok(!existsSync(join(root, 'busy')));
  });

  it('records canonical paths: a target below a symlinked directory (as /var/run → /run)', () => {
    const root = tempDir();
    mkdirSync(join(root, 'run'));
    symlinkSync(join(root, 'run'), join(root, 'varrun'));
    const points = new HostMountPoints(tempDir());
    const [made] = points.prepare([{ containerPath: join(root, 'varrun/secrets/token'), hostPath: tempDir() }]);
    assert.deepEqual([made!.target, made!.top], [join(root, 'run/secrets/token'), join(root, 'run/secrets')]);
    points.sweep(nothingStarting);
    assert.ok(!existsSync(join(root, 'run/secrets')));
    assert.ok(existsSync(join(root, 'run')));
  });

  it('keeps a mount point while anything on the machine has a mount there (a bind mount in the host namespace here)', { skip: isRoot ? false : 'mounting needs root' }, () => {
    const root = tempDir();
    const source = tempDir();
    const points = new HostMountPoints(tempDir());
    points.prepare([{ containerPath: join(root, 'm/point'), hostPath: source }]);
    execFileSync('mount', ['--bind', source, join(root, 'm/point')]);
    try {
      assert.ok(mountPointsInAnyNamespace().has(join(root, 'm/point')));
      const result = points.sweep(nothingStarting);
      assert.deepEqual(result, { removed: [], busy: [join(root, 'm/point')] });
      assert.ok(existsSync(join(root, 'm/point')));
    } finally {
      execFileSync('umount', [join(root, 'm/point')]);
    }
    // A mount namespace made meanwhile by anything else on the machine (a pod of a test running beside this one)
    // copied the bind mount and holds it until it exits: then the point is rightly kept. Wait a little for that.
    const target = join(root, 'm/point');
    let swept = points.sweep(nothingStarting);
    for (let i = 0; i < 50 && swept.busy.length > 0; i++) {
      execFileSync('sleep', ['0.1']);
      swept = points.sweep(nothingStarting);
    }
    if (swept.busy.length > 0) {
      assert.deepEqual(swept.busy, [target]);
      assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${target} `), 'our own namespace no longer has it: another one holds it');
      return;
    }
    assert.deepEqual(swept.removed, [target]);
    assert.ok(!existsSync(join(root, 'm')));
  });
});
