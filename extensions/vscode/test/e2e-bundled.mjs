// The platform .vsix in a real VS Code, as a new user has it: no openbolt on PATH, no openbolt.server.path —
// the server the extension carries runs a turn (a file, a command in the required sandbox). Then
// openbolt.server.path names a missing file, then a program of another protocol: one clear message each,
// and the panel says why. Run by tests/vscode.rs, which reads the last line, `N passed, N failed`.
//
// Environment: VSIX (target/vsix/openbolt-linux-x64.vsix), WORKSPACE, ANTHROPIC_BASE_URL, OTHER_PROTOCOL
// (a script answering `version --json` with protocol 2), and what test/harness.mjs needs.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { artifacts, run, startVsCode, test, waitFor } from './harness.mjs';

const workspace = process.env.WORKSPACE;
const vscode = await startVsCode({
  workspace,
  vsix: process.env.VSIX,
  settings: {
    'openbolt.model': 'e2e-model',
    'openbolt.approval.autoApprove': true,
    // The command runs only if the bundled sandbox helper works.
    'openbolt.sandbox': 'required',
    'openbolt.preview.open': 'none',
  },
});
const { page, runCommand, chatFrame, composerFree, webviewText, notification, serverLogText, editUserSettings } = vscode;

/** The programs running from the installed extension's server/ directory. */
function bundledProcesses() {
  const server = path.join(vscode.extensionDir, 'server');
  const running = [];
  for (const pid of fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const exe = fs.readlinkSync(`/proc/${pid}/exe`);
      if (exe.startsWith(server + path.sep)) running.push(exe);
    } catch {
      // gone, or not ours
    }
  }
  return running;
}

const toasts = async (text) => (await page.$$(`.notification-toast:has-text("${text}")`)).length;

await run(vscode, async () => {
  await test('with no openbolt on PATH and no openbolt.server.path, the bundled server runs a turn in the sandbox', async () => {
    for (const binary of ['openbolt', 'openbolt-sandbox']) {
      if (!fs.existsSync(path.join(vscode.extensionDir, 'server', binary))) throw new Error(`the .vsix has no server/${binary}`);
    }
    await runCommand('OpenBolt: Focus Chat');
    const frame = await chatFrame();
    await frame.fill('#prompt', 'build a page and note that the command ran');
    await frame.press('#prompt', 'Enter');
    await waitFor('the turn to end', async () => (await webviewText(frame)).includes('Bundled done.') && (await composerFree(frame)));
    await waitFor('the file on disk', async () => fs.readFileSync(path.join(workspace, 'bundled.html'), 'utf8') === '<h1>Bundled</h1>\n');
    await waitFor("the command's file", async () => fs.readFileSync(path.join(workspace, 'ran.txt'), 'utf8') === 'ran in the sandbox\n');
    const log = serverLogText();
    const expected = `server: ${path.join(vscode.extensionDir, 'server', 'openbolt')} (bundled), openbolt 0.1.0, protocol 1`;
    if (!log.includes(expected)) throw new Error(`the server log does not say "${expected}":\n${log}`);
    if (log.includes("not the extension's own server")) throw new Error(`the bundled server was taken for another build:\n${log}`);
    if (!log.includes('commands run in a sandbox')) throw new Error(`the server log does not say commands are sandboxed:\n${log}`);
    const running = bundledProcesses();
    if (!running.some((exe) => exe.endsWith(`${path.sep}openbolt`))) throw new Error(`the bundled server is not running: ${JSON.stringify(running)}`);
    // The picture of a turn for the extension's README (docs/screenshot.png): the file and the terminal.
    await frame.click('.action:has-text("bundled.html") .open');
    await waitFor('bundled.html in an editor', async () => page.$('.tabs-container .tab[aria-label*="bundled.html"]'));
    await frame.click('.action:has-text("echo ran") .open');
    await waitFor("the command's output in its terminal", async () =>
      (await page.$$eval('.xterm-rows', (rows) => rows.map((row) => row.textContent).join('\n'))).includes('ran in the sandbox'),
    );
    await page.screenshot({ path: path.join(artifacts, 'bundled-turn.png') });
  });

  await test('openbolt.server.path naming a missing file: one message names it; the panel says why and nothing else breaks', async () => {
    const missing = path.join(vscode.home, 'no-such', 'openbolt');
    await editUserSettings((settings) => ({ ...settings, 'openbolt.server.path': missing }));
    await runCommand('OpenBolt: Restart Server');
    const message = `openbolt.server.path is ${missing}, which does not exist`;
    await notification(message);
    const frame = await chatFrame();
    await frame.click('#new');
    await waitFor('the composer to be free', () => composerFree(frame));
    await frame.fill('#prompt', 'anyone there?');
    await frame.press('#prompt', 'Enter');
    await waitFor('the panel to say why', async () => (await webviewText(frame)).includes(`the server is not running: ${message}`));
    await waitFor('the composer to be free again', () => composerFree(frame));
    const shown = await toasts(message);
    if (shown !== 1) throw new Error(`${shown} messages about the missing server`);
    await waitFor('the bundled server to stop', async () => bundledProcesses().length === 0);
    await page.screenshot({ path: path.join(artifacts, 'bundled-missing-server.png') });
  });

  await test('openbolt.server.path naming a server of another protocol: the mismatch message', async () => {
    await editUserSettings((settings) => ({ ...settings, 'openbolt.server.path': process.env.OTHER_PROTOCOL }), { waitForServer: false });
    await runCommand('OpenBolt: Restart Server');
    await notification('is openbolt 9.0.0, which speaks protocol 2; this extension (0.1.0) speaks protocol 1, so the server is newer than the extension');
    if (!serverLogText().includes('speaks protocol 2')) throw new Error('the server log does not say it');
    await page.screenshot({ path: path.join(artifacts, 'bundled-other-protocol.png') });
  });
});
