// Unit tests of the server terminals' VS Code side, against the fake `vscode` (node --test).
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { Terminals } from '../src/terminal';
import { created } from './fake/vscode';

test('a terminal whose output comes before its action names it takes the command as its name', () => {
  const terminals = new Terminals(() => undefined);
  terminals.output(7, 'VITE ready\r\n');
  const terminal = created.at(-1)!;
  assert.equal(terminal.name, 'OpenBolt: terminal 7');
  terminal.open();
  terminals.name(7, 'npm run dev\n# the dev server');
  assert.equal(terminal.name, 'npm run dev');
  assert.equal(terminal.text, 'VITE ready\r\n');
});

test('named before it is opened, a terminal shows the name once VS Code opens it', () => {
  const terminals = new Terminals(() => undefined);
  terminals.output(8, 'listening\r\n');
  const terminal = created.at(-1)!;
  terminals.name(8, 'python3 -m http.server');
  terminal.open();
  assert.equal(terminal.name, 'python3 -m http.server');
});

test('a terminal named first is created with its name', () => {
  const terminals = new Terminals(() => undefined);
  terminals.name(9, 'cargo run');
  terminals.output(9, 'Compiling\r\n');
  assert.equal(created.at(-1)!.name, 'cargo run');
});
