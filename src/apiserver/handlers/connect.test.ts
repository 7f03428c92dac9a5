import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isStatusError } from '../../api/status.js';
import { connectOptions } from './connect.js';

test("exec options read booleans as Go's ParseBool: True and 1 are true, yes is 400", () => {
  const opts = connectOptions('Pod', 'exec', new URLSearchParams('stdin=True&stdout=1&stderr=F&tty=false&command=sh')) as any;
  assert.deepEqual([opts.stdin, opts.stdout, opts.stderr, opts.tty], [true, true, undefined, undefined]);
  assert.throws(
    () => connectOptions('Pod', 'attach', new URLSearchParams('stdin=yes')),
    (err: unknown) => isStatusError(err) && err.code === 400 && /^stdin: .*strconv\.ParseBool/.test(err.message),
  );
});
