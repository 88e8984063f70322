// What the end-to-end tests share: a real VS Code (code-server, in headless Chromium through
// playwright-core) with a fresh profile and the extension installed from a .vsix, and the helpers that
// drive it. Each scenario file runs its tests with `test` and ends with `finish()`, whose last line
// (`N passed, N failed`) the Rust test reads.
//
// Environment: CODE_SERVER (its entry.js), NODE24 (node binary), PLAYWRIGHT (playwright-core's
// directory), CHROMIUM, OPENBOLT_ARTIFACTS (screenshots).
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

const require = createRequire(import.meta.url);
const { chromium } = require(process.env.PLAYWRIGHT);
export const artifacts = process.env.OPENBOLT_ARTIFACTS;
fs.mkdirSync(artifacts, { recursive: true });
export const PATIENCE = 60_000;

export const results = { passed: 0, failed: 0 };
let currentPage;
export async function test(name, fn) {
  try {
    await fn();
    results.passed += 1;
    console.log(`ok   ${name}`);
  } catch (error) {
    results.failed += 1;
    console.log(`FAIL ${name}\n${error?.stack ?? error}`);
    const file = `failed-${results.failed}.png`;
    await currentPage?.screenshot({ path: path.join(artifacts, file) }).catch(() => undefined);
    console.log(`  screenshot: ${path.join(artifacts, file)}`);
  }
}

/** The last line, and the exit code. */
function finish() {
  console.log(`${results.passed} passed, ${results.failed} failed`);
  process.exit(results.failed === 0 ? 0 : 1);
}

/** Runs a scenario file's tests in `vscode` (from `startVsCode`), then stops it and exits with the tally. */
export async function run(vscode, scenarios) {
  try {
    await scenarios();
  } catch (error) {
    results.failed += 1;
    console.log(`FAIL setup\n${error?.stack ?? error}\ncode-server log:\n${vscode.codeServerLog().slice(-4000)}`);
  } finally {
    await vscode.close();
  }
  finish();
}

function freePort() {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export async function waitFor(what, condition, timeout = PATIENCE) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    try {
      const value = await condition();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ''}`);
}

/**
 * code-server with an isolated profile (`settings` are the user's settings), the extension installed from
 * `vsix` the way a user installs it, `workspace` open in headless Chromium. `env` adds to code-server's
 * environment (the extension host inherits it). Returns the page and the helpers that drive it.
 */
export async function startVsCode({ settings, vsix, workspace, env = {} }) {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'openbolt-vscode-'));
  const userData = path.join(home, 'data');
  const extensions = path.join(home, 'extensions');
  fs.mkdirSync(path.join(userData, 'User'), { recursive: true });
  fs.writeFileSync(
    path.join(userData, 'User', 'settings.json'),
    JSON.stringify({
      'workbench.startupEditor': 'none',
      // Desktop VS Code's default. In the browser it is "afterDelay": the undone text a test leaves in an
      // editor would be saved a second later, racing the test's own revert.
      'files.autoSave': 'off',
      'chat.disableAIFeatures': true,
      'extensions.autoUpdate': false,
      'telemetry.telemetryLevel': 'off',
      'update.mode': 'none',
      'security.workspace.trust.enabled': false,
      // The DOM renderer, whose rows the test reads (the GPU renderers draw to a canvas).
      'terminal.integrated.gpuAcceleration': 'off',
      ...settings,
    }),
  );
  fs.writeFileSync(path.join(home, 'config.yaml'), 'auth: none\n');
  const codeServerEnv = { ...process.env, ...env, HOME: home };
  const codeServerArgs = [
    process.env.CODE_SERVER,
    '--config', path.join(home, 'config.yaml'),
    '--user-data-dir', userData,
    '--extensions-dir', extensions,
  ];
  const install = spawnSync(process.env.NODE24, [...codeServerArgs, '--install-extension', vsix], { encoding: 'utf8', env: codeServerEnv });
  const installed = fs.existsSync(extensions) ? fs.readdirSync(extensions).find((name) => name.startsWith('openbolt.openbolt-')) : undefined;
  if (install.status !== 0 || !installed) {
    console.log(`FAIL setup: installing ${vsix}\n${install.stdout}\n${install.stderr}\n0 passed, 1 failed`);
    process.exit(1);
  }
  const port = await freePort();
  const codeServer = spawn(
    process.env.NODE24,
    [
      ...codeServerArgs,
      '--bind-addr', `127.0.0.1:${port}`,
      '--auth', 'none',
      '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--disable-getting-started-override',
    ],
    { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: codeServerEnv },
  );
  let serverLog = '';
  codeServer.stdout.on('data', (chunk) => (serverLog += chunk));
  codeServer.stderr.on('data', (chunk) => (serverLog += chunk));
  const stopCodeServer = () => {
    try {
      process.kill(-codeServer.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  };
  process.on('exit', stopCodeServer);

  let browser;
  const fail = async (error) => {
    console.log(`FAIL setup\n${error?.stack ?? error}\ncode-server log:\n${serverLog.slice(-4000)}\n0 passed, 1 failed`);
    await browser?.close().catch(() => undefined);
    process.exit(1);
  };
  let page;
  try {
    await waitFor('code-server', async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok, 120_000);
    browser = await chromium.launchPersistentContext(path.join(home, 'chromium'), {
      executablePath: process.env.CHROMIUM,
      headless: true,
      viewport: { width: 1400, height: 900 },
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    currentPage = page;
    await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`);
    await page.waitForSelector('.monaco-workbench', { timeout: 120_000 });
  } catch (error) {
    await fail(error);
  }

  // The palette lists what is registered when it opens; right after start-up the extension's commands may
  // not be there yet, so close it and ask again until the command shows up.
  const runCommand = (title) =>
    waitFor(`the command ${title}`, async () => {
      await page.keyboard.press('Escape');
      await page.keyboard.press('F1');
      // Short: if the palette did not open (the focus on its way somewhere), Escape and F1 again.
      const input = await page.waitForSelector('.quick-input-widget input', { state: 'visible', timeout: 5_000 });
      // F1 prefills '>' (typing it too races the prefill): replace the whole value.
      await input.fill(`>${title}`);
      const row = await page
        .waitForSelector(`.quick-input-list .monaco-list-row[aria-label*="${title}"]`, { timeout: 3_000 })
        .catch(() => null);
      if (!row) return false;
      // Enter on the palette's input itself: the focus may be on its way to a webview just revealed.
      await input.press('Enter');
      return true;
    });
  const chatFrame = () =>
    waitFor('the chat webview', async () => {
      for (const frame of page.frames()) {
        // The page is there before its script has wired up the composer.
        if (await frame.$('body[data-ready] #prompt').catch(() => null)) return frame;
      }
      return null;
    });
  // Editors and terminals render spaces as no-break spaces.
  const visible = (text) => (text ?? '').replace(/\u00a0/g, ' ');
  const terminalText = async () => visible(await page.$$eval('.xterm-rows', (rows) => rows.map((row) => row.textContent).join('\n')));
  const composerFree = async (frame) => !(await frame.$eval('#send', (button) => button.disabled));
  // textContent, not innerText: messages off screen skip rendering (content-visibility) but keep their text.
  const webviewText = async (frame) => (await frame.$eval('#log', (log) => log.textContent)) ?? '';
  const notification = (text) => waitFor(`the notification "${text}"`, async () => page.$(`.notification-toast:has-text("${text}")`));

  /** The extension's server log (VS Code keeps output channels in files). */
  const serverLogText = () => {
    const found = [];
    const walk = (dir) => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        if (entry.isDirectory()) walk(path.join(dir, entry.name));
        else if (entry.name.includes('OpenBolt Server')) found.push(path.join(dir, entry.name));
      }
    };
    walk(path.join(userData, 'logs'));
    return found.map((file) => fs.readFileSync(file, 'utf8')).join('\n');
  };
  /**
   * Changes the user's settings the way a user does, in the settings editor (code-server does not watch
   * the file for changes made behind its back), and waits for the change to reach the server: it says
   * whether commands are sandboxed after each change of the `openbolt` settings, so that line's count
   * in the server log says when. With `waitForServer: false` (no server runs), it waits for the file only.
   */
  const editUserSettings = async (change, { waitForServer = true } = {}) => {
    const settingsChanges = () => serverLogText().split('commands run in a sandbox').length;
    const before = settingsChanges();
    if (waitForServer && before < 2) throw new Error('the server log is not where it was expected');
    const settingsFile = path.join(userData, 'User', 'settings.json');
    const settings = change(JSON.parse(fs.readFileSync(settingsFile, 'utf8')));
    await runCommand('Preferences: Open User Settings (JSON)');
    // (It may open as a tab or as a modal editor.)
    const settingsEditor = '.monaco-editor .view-lines:has-text("workbench.startupEditor")';
    await waitFor('the settings editor', async () => page.$(settingsEditor));
    await page.click(settingsEditor);
    await page.keyboard.press('Control+a');
    await page.keyboard.press('Delete');
    await page.keyboard.insertText(JSON.stringify(settings));
    // What the editor closed by itself (a bracket, a quote) after the cursor goes.
    await page.keyboard.press('Control+Shift+End');
    await page.keyboard.press('Delete');
    await page.keyboard.press('Control+s');
    if (waitForServer) {
      await waitFor('the settings change to reach the extension', async () => settingsChanges() > before);
    } else {
      await waitFor('the settings file to be saved', async () => JSON.stringify(JSON.parse(fs.readFileSync(settingsFile, 'utf8'))) === JSON.stringify(settings));
    }
    const saved = JSON.parse(fs.readFileSync(settingsFile, 'utf8'));
    if (JSON.stringify(saved) !== JSON.stringify(settings)) throw new Error(`settings.json was not saved as typed: ${JSON.stringify(saved)}`);
    await runCommand('View: Close Editor');
    await waitFor('the settings editor to close', async () => !(await page.$(settingsEditor)));
  };

  return {
    home,
    userData,
    extensionDir: path.join(extensions, installed),
    page,
    runCommand,
    chatFrame,
    visible,
    terminalText,
    composerFree,
    webviewText,
    notification,
    serverLogText,
    editUserSettings,
    codeServerLog: () => serverLog,
    close: async () => {
      await browser?.close().catch(() => undefined);
      stopCodeServer();
    },
  };
}
