// Unit tests of the settings the server gets (node --test).
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import type * as vscode from 'vscode';
import { previewTarget, serverSettings } from '../src/config';
import { newErrors } from '../src/newErrors';

/** Settings the user set (`values`, in their user settings), over the extension's declared defaults. */
function configuration(values: Record<string, unknown>, defaults: Record<string, unknown> = DEFAULTS): vscode.WorkspaceConfiguration {
  return {
    get: (key: string, fallback?: unknown) => (key in values ? values[key] : key in defaults ? defaults[key] : fallback),
    inspect: (key: string) => ({ key, defaultValue: defaults[key], globalValue: values[key] }),
  } as unknown as vscode.WorkspaceConfiguration;
}

const DEFAULTS: Record<string, unknown> = {
  provider: '',
  model: '',
  baseUrl: '',
  contextTokens: 0,
  autoFix: 3,
  'approval.autoApprove': false,
  'approval.allow': [],
  'approval.deny': [],
  sandbox: 'auto',
  sandboxWritable: [],
  sandboxNetwork: true,
  mcpServers: {},
  mcpAllow: [],
};

test('only what the user set reaches the server; blank text is not set; the rest is trimmed', () => {
  // Nothing set: nothing sent, so the environment, the settings files and the server's defaults decide.
  assert.equal(JSON.stringify(serverSettings(configuration({}))), '{}');
  const settings = serverSettings(configuration({ provider: '  ', model: ' llama3.1 ', baseUrl: '', 'approval.allow': ['npm install'] }));
  assert.deepEqual(JSON.parse(JSON.stringify(settings)), { model: 'llama3.1', approval: { allow: ['npm install'] } });
  const sandboxed = serverSettings(configuration({ sandbox: 'required', sandboxWritable: ['/srv/shared'], sandboxNetwork: false }));
  assert.equal(sandboxed.sandbox, 'required');
  assert.equal(sandboxed.sandboxNetwork, false);
  assert.deepEqual(sandboxed.sandboxWritable, ['/srv/shared']);
  assert.equal(serverSettings(configuration({ contextTokens: 8192 })).contextTokens, 8192);
  assert.equal(serverSettings(configuration({ contextTokens: 0 })).contextTokens, undefined);
  // A value set to the default is still set: it beats the environment.
  assert.equal(serverSettings(configuration({ autoFix: 3 })).autoFix, 3);
  assert.equal(serverSettings(configuration({ autoFix: 0 })).autoFix, 0);
  assert.equal(serverSettings(configuration({})).autoFix, undefined);
  // The preview check: the mode as set, a blank browser path as not set.
  const page = serverSettings(configuration({ previewCheck: 'off', browserPath: ' /opt/chrome/chrome ' }));
  assert.deepEqual([page.previewCheck, page.browserPath], ['off', '/opt/chrome/chrome']);
  assert.equal(serverSettings(configuration({ browserPath: '' })).browserPath, undefined);
  // Screenshots and whether the model sees them: as set, and not sent when unset.
  const shots = serverSettings(configuration({ previewScreenshots: 'off', modelImages: 'true' }));
  assert.deepEqual([shots.previewScreenshots, shots.modelImages], ['off', 'true']);
  assert.deepEqual([serverSettings(configuration({})).previewScreenshots, serverSettings(configuration({})).modelImages], [undefined, undefined]);
  // MCP servers go to the server as configured; none configured sends none.
  const servers = { docs: { command: 'npx', args: ['-y', 'docs-mcp'] } };
  const mcp = serverSettings(configuration({ mcpServers: servers, mcpAllow: ['docs'] }));
  assert.deepEqual(mcp.mcpServers, servers);
  assert.deepEqual(mcp.mcpAllow, ['docs']);
  assert.equal(serverSettings(configuration({ mcpServers: {} })).mcpServers, undefined);
});

test('the preview opens in the Simple Browser unless set otherwise', () => {
  assert.equal(previewTarget(configuration({})), 'simpleBrowser');
  assert.equal(previewTarget(configuration({ 'preview.open': 'external' })), 'external');
});

test('the errors a turn brought, not those that were there, and none of a file being typed in', () => {
  const current = (filePath: string) =>
    filePath === 'a.ts'
      ? [
          { line: 0, message: 'old', key: '0:old' },
          { line: 3, message: "'x' is not defined", source: 'ts', key: "3:'x' is not defined" },
        ]
      : [{ line: 1, message: 'typing', key: '1:typing' }];
  const before = new Map([['a.ts', new Set(['0:old'])]]);
  assert.deepEqual(newErrors(['a.ts', 'b.ts'], current, before, (file) => file === 'b.ts'), [
    { filePath: 'a.ts', diagnostics: [{ line: 3, message: "'x' is not defined", source: 'ts' }] },
  ]);
});
