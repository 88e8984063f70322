// Unit tests of how the panel gets a page check's screenshot (node --test).
import { strict as assert } from 'node:assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isScreenshotPath, thumbnail, withThumbnails } from '../src/screenshots';

const dir = mkdtempSync(join(tmpdir(), 'openbolt-shots-'));
const jpeg = join(dir, 'm1-1.jpg');
writeFileSync(jpeg, Buffer.from([0xff, 0xd8, 0xff, 0xe0]));
const shot = (path: string, mediaType = 'image/jpeg') => ({ path, mediaType, width: 1280, height: 713, bytes: 4, millis: 40 });

test('a kept screenshot becomes a data URL; a missing file or another type does not', async () => {
  assert.equal(await thumbnail(shot(jpeg)), 'data:image/jpeg;base64,/9j/4A==');
  assert.equal(await thumbnail(shot(join(dir, 'gone.jpg'))), undefined);
  assert.equal(await thumbnail(shot(jpeg, 'text/html')), undefined);
  assert.equal(await thumbnail(undefined), undefined);
});

test("a loaded session's verdicts get their thumbnails, other messages stay as they are", async () => {
  const user = { messageId: 'u', role: 'user' as const, text: 'go', actions: [], reverted: false };
  const reply = {
    messageId: 'm',
    role: 'assistant' as const,
    text: 'done',
    actions: [],
    reverted: false,
    pages: [{ url: 'http://x/', problems: [], settled: true, millis: 700, screenshot: shot(jpeg) }],
  };
  const [first, second] = await withThumbnails([user, reply]);
  assert.deepEqual(first, user);
  assert.equal(second.pages?.[0].thumbnail, 'data:image/jpeg;base64,/9j/4A==');
});

test('only absolute image paths are opened', () => {
  assert.ok(isScreenshotPath('/home/u/.local/share/openbolt/screenshots/s/m-1.jpg'));
  assert.ok(isScreenshotPath('/x/m-1.PNG'));
  assert.ok(!isScreenshotPath('relative/m-1.jpg'));
  assert.ok(!isScreenshotPath('/etc/passwd'));
});
