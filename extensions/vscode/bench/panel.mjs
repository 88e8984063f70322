// The chat panel in a real browser (headless Chromium): the webview's own bundle and styles in a page
// like VS Code's, with the extension played by this script. Measured, in the same run:
// - opening a 200-turn session (2,000 action cards): time to first paint (the newest messages, at the
//   bottom where the panel opens) and to idle (every message built; what a panel that builds it all
//   before painting would take to its first paint);
// - the cost of a frame while a reply streams (our rAF callback, layout included), at turn 1 of an empty
//   panel and at turn 201 of that session: the ratio is the point — a frame must not grow with the
//   conversation (target ≤ 1.2).
//
// Run: cd extensions/vscode && node bench/panel.mjs   (CHROMIUM=… to choose the browser)
import { execFileSync, execSync } from 'node:child_process';
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium } from 'playwright-core';

const here = path.dirname(new URL(import.meta.url).pathname);
const root = path.join(here, '..');
execFileSync(process.execPath, ['esbuild.mjs', '--production'], { cwd: root, stdio: 'inherit' });
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'openbolt-panel-'));
await esbuild.build({ entryPoints: [path.join(root, 'webview/page.ts')], bundle: true, platform: 'node', format: 'cjs', outfile: path.join(dir, 'page.cjs'), logLevel: 'warning' });
const { PAGE_BODY } = createRequire(import.meta.url)(path.join(dir, 'page.cjs'));
fs.copyFileSync(path.join(root, 'dist/webview.js'), path.join(dir, 'webview.js'));
fs.copyFileSync(path.join(root, 'dist/chat.css'), path.join(dir, 'chat.css'));
fs.writeFileSync(
  path.join(dir, 'index.html'),
  `<!DOCTYPE html><html><head><meta charset="UTF-8"><link rel="stylesheet" href="chat.css"></head><body>${PAGE_BODY}
<script>window.acquireVsCodeApi = () => ({ postMessage: (message) => (window.posted ??= []).push(message) });</script>
<script src="webview.js"></script></body></html>`,
);

const TURNS = Number(process.env.TURNS ?? 200);
const CARDS = 10;
const prose = (turn) =>
  `Turn ${turn}: here is the **counter** app. It keeps its state in \`localStorage\`.\n\n` +
  '```js\nconst button = document.querySelector("#count");\nlet count = 0; // 42\n```\n\n';
function assistant(turn) {
  const before = prose(turn);
  const text = `${before}Now run it and open the preview.\n\n`;
  const actions = Array.from({ length: CARDS }, (_, index) => ({
    artifactId: `a${turn}`,
    actionId: index,
    type: index < CARDS - 2 ? 'file' : 'shell',
    filePath: index < CARDS - 2 ? `src/part${index}.js` : undefined,
    command: index < CARDS - 2 ? undefined : 'npm install',
    status: 'complete',
    summary: index % 3 === 0 ? '+12 −3' : undefined,
    proseOffset: { utf8: before.length, utf16: before.length },
  }));
  return { messageId: `m${turn}`, role: 'assistant', text, actions, status: 'complete' };
}
const session = [];
for (let turn = 0; turn < TURNS; turn += 1) {
  session.push({ messageId: `m${turn}u`, role: 'user', text: `make change number ${turn}` });
  session.push(assistant(turn));
}

// Served cross-origin isolated: the page's clock then has microseconds, not the 0.1 ms of a file page.
const server = http.createServer((request, response) => {
  const file = path.join(dir, path.basename(new URL(request.url, 'http://x').pathname) || 'index.html');
  if (!fs.existsSync(file)) {
    response.writeHead(404).end();
    return;
  }
  const type = file.endsWith('.css') ? 'text/css' : file.endsWith('.js') ? 'text/javascript' : 'text/html';
  response.writeHead(200, { 'content-type': type, 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' });
  response.end(fs.readFileSync(file));
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const origin = `http://127.0.0.1:${server.address().port}`;

const executablePath = process.env.CHROMIUM ?? execSync('command -v chromium || command -v chromium-browser', { encoding: 'utf8' }).trim();
const browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
const context = await browser.newContext({ viewport: { width: 420, height: 900 } });

async function freshPage() {
  const page = await context.newPage();
  await page.goto(`${origin}/index.html`);
  if (!(await page.evaluate(() => self.crossOriginIsolated))) throw new Error('the page is not cross-origin isolated');
  await page.waitForSelector('body[data-ready]');
  if (process.env.EXTRA_CSS) await page.addStyleTag({ content: process.env.EXTRA_CSS });
  return page;
}

/** Opens the session: ms to the first paint and to idle (every message in the DOM). */
async function open(page, messages) {
  return page.evaluate(async (messages) => {
    const frame = () => new Promise((resolve) => requestAnimationFrame(() => resolve()));
    const start = performance.now();
    window.postMessage({ type: 'reset', messages }, '*');
    // The message event, then the frame that paints it.
    await new Promise((resolve) => setTimeout(resolve, 0));
    await frame();
    await frame();
    const painted = performance.now() - start;
    while (document.body.dataset.loading) await new Promise((resolve) => setTimeout(resolve, 1));
    await frame();
    const log = document.getElementById('log');
    return { painted, idle: performance.now() - start, cards: document.querySelectorAll('.action').length, fromBottom: log.scrollHeight - log.scrollTop - log.clientHeight };
  }, messages);
}

/** Streams one reply (prose, an artifact of 10 cards, more prose), a delta per frame: our frames' costs. */
async function stream(page, turn) {
  return page.evaluate(async (turn) => {
    const frame = () => new Promise((resolve) => requestAnimationFrame(() => resolve()));
    const post = (message) => window.postMessage(message, '*');
    const id = `live${turn}`;
    post({ type: 'user', text: 'one more change' });
    await frame();
    performance.clearMeasures('openbolt-frame');
    const words = 'Here is the change you asked for, with the `counter` kept in storage and a test. '.split(' ');
    let sent = '';
    const delta = async (text) => {
      sent += text;
      post({ type: 'delta', messageId: id, text });
      await frame();
    };
    for (let index = 0; index < 150; index += 1) await delta(`${words[index % words.length]} ${index % 25 === 24 ? '\n\n' : ''}`);
    await delta('\n\n');
    for (let action = 0; action < 10; action += 1) {
      const update = { messageId: id, artifactId: 'a', actionId: action, type: 'file', filePath: `src/f${action}.js`, proseOffset: { utf8: sent.length, utf16: sent.length } };
      post({ type: 'action', update: { ...update, status: 'pending' } });
      await frame();
      post({ type: 'action', update: { ...update, status: 'complete', summary: '+3 −1' } });
      await frame();
    }
    for (let index = 0; index < 150; index += 1) await delta(`${words[index % words.length]} `);
    post({ type: 'done', result: { messageId: id, status: 'complete' } });
    await frame();
    return performance.getEntriesByName('openbolt-frame').map((entry) => entry.duration);
  }, turn);
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const mean = (values) => values.reduce((sum, value) => sum + value, 0) / values.length;
const p95 = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length * 0.95)];
const RUNS = Number(process.env.RUNS ?? 5);
const opened = [];
const whole = [];
const first = [];
const late = [];
for (let run = 0; run < RUNS; run += 1) {
  // Both pages do the same work first — stream a reply, open the session — so the JIT is as warm in
  // each; then one starts over empty (turn 1), the other streams on after the session (turn 201).
  let page = await freshPage();
  await stream(page, 0);
  await open(page, session);
  await open(page, []);
  first.push(...(await stream(page, 1)));
  await page.close();
  page = await freshPage();
  await stream(page, 0);
  const result = await open(page, session);
  if (result.cards !== TURNS * CARDS) throw new Error(`the panel shows ${result.cards} cards, not ${TURNS * CARDS}`);
  if (process.env.DEBUG) console.log(result);
  opened.push(result.painted);
  whole.push(result.idle);
  late.push(...(await stream(page, TURNS + 1)));
  await page.close();
}
await browser.close();
server.close();

const frameAt1 = median(first);
const frameAt200 = median(late);
console.log(`panel: ${TURNS} turns, ${TURNS * CARDS} cards, ${RUNS} runs`);
console.log(`open the session: first paint ${median(opened).toFixed(1)} ms, idle (all built) ${median(whole).toFixed(1)} ms — first paint at ${(median(opened) / median(whole)).toFixed(2)}× of idle`);
console.log(`frame while streaming, turn 1: p50 ${frameAt1.toFixed(3)} ms, p95 ${p95(first).toFixed(3)} ms (${first.length} frames)`);
console.log(`frame while streaming, turn ${TURNS + 1}: p50 ${frameAt200.toFixed(3)} ms, p95 ${p95(late).toFixed(3)} ms (${late.length} frames)`);
console.log(`ratio turn ${TURNS + 1} / turn 1: p50 ${(frameAt200 / frameAt1).toFixed(2)} (target ≤ 1.2), mean ${(mean(late) / mean(first)).toFixed(2)}, p95 ${(p95(late) / p95(first)).toFixed(2)}`);
