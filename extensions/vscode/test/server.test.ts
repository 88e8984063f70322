// Unit tests of which server the extension starts and whether it speaks our protocol (node --test).
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { chooseServer, judge, locateServer, parseVersion, probeServer, PROTOCOL_VERSION } from '../src/server';

function program(file: string, body = '#!/bin/sh\n'): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, body, { mode: 0o755 });
  return file;
}

function layout() {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'openbolt-server-'));
  const bundled = path.join(home, 'extension', 'server');
  const onPath = path.join(home, 'bin');
  const notExecutable = path.join(home, 'other');
  fs.mkdirSync(notExecutable);
  fs.writeFileSync(path.join(notExecutable, 'openbolt'), 'not a program', { mode: 0o644 });
  return { home, bundled, onPath, notExecutable };
}

test('the setting first (~ expanded), then the bundled server, then an executable openbolt on PATH', () => {
  const { home, bundled, onPath, notExecutable } = layout();
  const env = { HOME: home, PATH: [notExecutable, onPath].join(path.delimiter) };
  assert.deepEqual(locateServer('', bundled, env).found, false);
  program(path.join(onPath, 'openbolt'));
  assert.deepEqual(locateServer('', bundled, env), { found: true, path: path.join(onPath, 'openbolt'), source: 'path' });
  program(path.join(bundled, 'openbolt'));
  assert.deepEqual(locateServer('', bundled, env), { found: true, path: path.join(bundled, 'openbolt'), source: 'bundled' });
  assert.deepEqual(locateServer(' ~/bin/openbolt ', bundled, env), { found: true, path: path.join(onPath, 'openbolt'), source: 'setting' });
});

test('a setting that names nothing usable is one error naming it, never a fallback', () => {
  const { home, bundled, notExecutable } = layout();
  program(path.join(bundled, 'openbolt'));
  const missing = locateServer('/no/such/openbolt', bundled, { HOME: home, PATH: '' });
  assert.equal(missing.found, false);
  assert.match(!missing.found ? missing.message : '', /openbolt\.server\.path is \/no\/such\/openbolt, which does not exist/);
  const plain = locateServer(path.join(notExecutable, 'openbolt'), bundled, { HOME: home, PATH: '' });
  assert.match(!plain.found ? plain.message : '', /is not an executable file/);
  const none = locateServer('', path.join(home, 'nothing'), { HOME: home, PATH: notExecutable });
  assert.match(!none.found ? none.message : '', /carries no server for .* no openbolt on your PATH/);
});

test('another protocol is refused with a message; another build of ours is only logged', () => {
  const bundled = { path: '/ext/server/openbolt', source: 'bundled' as const };
  const setting = { path: '/dev/openbolt', source: 'setting' as const };
  const same = judge(bundled, { version: '0.1.0', protocol: PROTOCOL_VERSION }, '0.1.0');
  assert.deepEqual(same, { start: true, log: [`server: /ext/server/openbolt (bundled), openbolt 0.1.0, protocol ${PROTOCOL_VERSION}`] });
  const development = judge(setting, { version: '0.2.0-dev', protocol: PROTOCOL_VERSION }, '0.1.0');
  assert.equal(development.start, true);
  assert.match(development.start ? development.log[1] : '', /not the extension's own server/);
  const newer = judge(setting, { version: '9.0.0', protocol: PROTOCOL_VERSION + 1 }, '0.1.0');
  assert.equal(newer.start, false);
  assert.match(!newer.start ? newer.message : '', /\/dev\/openbolt \(openbolt\.server\.path\) is openbolt 9\.0\.0, which speaks protocol 2; this extension \(0\.1\.0\) speaks protocol 1, so the server is newer/);
  const old = judge({ path: '/usr/bin/openbolt', source: 'path' }, new Error('unrecognized subcommand'), '0.1.0');
  assert.match(!old.start ? old.message : '', /did not say which protocol .* unrecognized subcommand.*cargo install openbolt/);
});

test('the version answer is parsed strictly, and a real program is asked', async () => {
  assert.deepEqual(parseVersion('{"name":"openbolt","version":"0.1.0","protocol":1}\n'), { version: '0.1.0', protocol: 1 });
  assert.throws(() => parseVersion('{"version":1}'), /not the answer of an openbolt server/);
  assert.throws(() => parseVersion('openbolt 0.1.0'));
  const { home, bundled } = layout();
  const script = program(path.join(bundled, 'openbolt'), `#!/bin/sh\n[ "$1 $2" = "version --json" ] && echo '{"name":"openbolt","version":"7.0.0","protocol":7}'\n`);
  assert.deepEqual(await probeServer(script), { version: '7.0.0', protocol: 7 });
  const choice = await chooseServer('', bundled, '0.1.0', { HOME: home, PATH: '' });
  assert.equal(choice.start, false);
  assert.match(!choice.start ? choice.message : '', /speaks protocol 7/);
  const failing = program(path.join(home, 'failing'), '#!/bin/sh\necho "error: unrecognized subcommand" >&2\nexit 2\n');
  await assert.rejects(probeServer(failing), /version --json failed: error: unrecognized subcommand/);
});
