// Unit tests of the bounded terminal backlog (node --test).
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { keepBacklog } from '../src/backlog';

test('a backlog keeps the newest output within its limit', () => {
  const backlog: string[] = [];
  let size = 0;
  size = keepBacklog(backlog, size, 'aaaa', 10);
  size = keepBacklog(backlog, size, 'bbbb', 10);
  assert.deepEqual(backlog, ['aaaa', 'bbbb']);
  size = keepBacklog(backlog, size, 'cccc', 10);
  assert.deepEqual(backlog, ['bcccc']);
  assert.equal(size, 5);
  size = keepBacklog(backlog, size, 'dddddddddddddddd', 10);
  assert.deepEqual(backlog, ['ddddd']);
  assert.equal(size, 5);
});

test('a million writes to a terminal nobody opened stay within the limit', () => {
  const backlog: string[] = [];
  let size = 0;
  for (let index = 0; index < 1_000_000; index += 1) {
    size = keepBacklog(backlog, size, `line ${index}\r\n`);
  }
  assert.ok(size <= 256 * 1024, `kept ${size}`);
  assert.equal(backlog.join('').length, size);
  assert.ok(backlog[backlog.length - 1].startsWith('line 999999'));
});
