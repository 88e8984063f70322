// Unit tests of the webview's pure rendering (node --test).
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import {
  StreamingMarkdown,
  actionAria,
  actionLabel,
  actionNote,
  expands,
  highlight,
  hitLabel,
  opensDiff,
  opensFile,
  pageCheckHtml,
  renderMarkdown,
  segments,
  stableBoundary,
  usageText,
} from '../webview/render';
import { mentionAt, rankMentions } from '../webview/mentions';

test('markdown renders, and HTML from the model is shown as text', () => {
  const html = renderMarkdown('Hello **there**\n\n<script>alert(1)</script>');
  assert.match(html, /<strong>there<\/strong>/);
  assert.doesNotMatch(html, /<script>/);
  assert.match(html, /&lt;script&gt;/);
});

test('code blocks are highlighted and escaped', () => {
  const html = renderMarkdown('```js\nconst a = "<b>"; // note\n```\n');
  assert.match(html, /<pre class="code"><code>/);
  assert.match(html, /<span class="tok-keyword">const<\/span>/);
  assert.match(html, /<span class="tok-string">&quot;&lt;b&gt;&quot;<\/span>/);
  assert.match(html, /<span class="tok-comment">\/\/ note<\/span>/);
  assert.equal(highlight('x < 2'), 'x &lt; <span class="tok-number">2</span>');
});

test('a half-streamed code fence renders without breaking the page', () => {
  const html = renderMarkdown('Here:\n\n```ts\nfunction a() {');
  assert.match(html, /<span class="tok-keyword">function<\/span>/);
});

test('action labels name the file or the command and a failed exit code', () => {
  assert.equal(actionLabel({ actionId: 0, artifactId: 'a', type: 'file', filePath: 'src/app.ts', status: 'complete' }), 'src/app.ts');
  assert.equal(
    actionLabel({ actionId: 1, artifactId: 'a', type: 'shell', command: 'npm install\nnpm test', status: 'failed', exitCode: 1 }),
    'shell npm install (exit 1)',
  );
  assert.equal(actionLabel({ actionId: 2, artifactId: 'a', type: 'start', command: 'npm run dev', status: 'running' }), 'start npm run dev');
  assert.equal(actionLabel({ actionId: 3, artifactId: 'a', type: 'start', status: 'pending' }), 'start …');
  assert.equal(
    actionLabel({ actionId: 4, artifactId: 'a', type: 'read', filePath: 'src/big.js', status: 'complete', summary: '412 lines' }),
    'read src/big.js (412 lines)',
  );
  assert.equal(actionLabel({ actionId: 5, artifactId: 'a', type: 'read', filePath: '.env', status: 'failed' }), 'read .env');
});

test('an applied edit shows its change; its label says how much and how it matched', () => {
  const edit = { actionId: 0, artifactId: 'a', type: 'edit', filePath: 'src/ledger.js', status: 'complete' as const, summary: '+1 −1, exact' };
  assert.equal(actionLabel(edit), 'edit src/ledger.js (+1 −1, exact)');
  assert.equal(opensDiff(edit), true);
  assert.equal(opensDiff({ ...edit, status: 'failed' }), false);
});

test('a search card names its query and count, and unfolds to what it found', () => {
  const search = {
    actionId: 0,
    artifactId: 'a',
    type: 'search',
    command: '"npm install" in app/**',
    status: 'complete' as const,
    summary: '2 matches in 1 file',
    found: [
      { path: 'app/a.ts', line: 12, text: "  run('npm install');" },
      { path: 'app/a.ts', line: 40, text: 'npm install --frozen' },
    ],
  };
  assert.equal(actionLabel(search), 'search "npm install" in app/** (2 matches in 1 file)');
  assert.equal(expands(search), true);
  assert.equal(opensFile(search), false);
  assert.match(actionAria(search), /activate to show what it found/);
  assert.equal(hitLabel(search.found[0]), "app/a.ts:12  run('npm install');");
  assert.equal(hitLabel({ path: 'src/index.ts' }), 'src/index.ts');
  assert.equal(expands({ ...search, found: [], summary: 'no matches' }), false);
});

test('file and read cards open their file', () => {
  assert.equal(opensFile({ actionId: 0, artifactId: 'a', type: 'read', filePath: 'src/a.js', status: 'complete' }), true);
  assert.equal(opensFile({ actionId: 0, artifactId: 'a', type: 'shell', command: 'ls', status: 'complete' }), false);
});

test('an action waiting for approval says so, a failed one says why', () => {
  assert.match(actionNote({ actionId: 0, artifactId: 'a', type: 'shell', command: 'ls', status: 'approval' }) ?? '', /waiting for your approval/);
  assert.equal(actionNote({ actionId: 0, artifactId: 'a', type: 'shell', command: 'ls', status: 'skipped', error: 'not approved' }), 'not approved');
  assert.equal(actionNote({ actionId: 0, artifactId: 'a', type: 'shell', command: 'ls', status: 'complete' }), undefined);
});

test('usage reads like a sentence', () => {
  assert.equal(usageText({ inputTokens: 1200, outputTokens: 321, cacheReadTokens: 1000 }), 'tokens: 1200 in (1000 cached), 321 out');
  assert.equal(usageText({ inputTokens: 5, outputTokens: 6, cacheReadTokens: 0 }), 'tokens: 5 in, 6 out');
});

test('a streaming reply is cut only after a blank line outside code', () => {
  const text = 'One.\n\n```js\nconst a = 1;\n\nconst b = 2;\n```\n\nTwo and a half';
  // The blank line inside the fence is not a place to cut; the one after it is.
  assert.equal(stableBoundary(text, 0), text.indexOf('Two'));
  assert.equal(stableBoundary('One.\n\n```js\nconst a = 1;\n\nconst', 0), 'One.\n\n'.length);
  assert.equal(stableBoundary('no blank line yet\nstill', 0), 0);
});

test('streamed in small pieces, a reply renders as it does whole', () => {
  const reply =
    'Here is the **app**.\n\n```ts\nconst count = 1; // one\n\nexport default count;\n```\n\n' +
    'Run `npm start`, then open the page.\n\n# Next\n\nMore to come: see <https://example.com>.\n';
  const streaming = new StreamingMarkdown();
  let html = '';
  for (let end = 1; end <= reply.length; end += 7) {
    html = streaming.render(reply.slice(0, end));
  }
  html = streaming.render(reply);
  assert.equal(html, renderMarkdown(reply));
  // One code block, not two halves of one.
  assert.equal(html.match(/<pre class="code">/g)?.length, 1);
});

test('a text that is not a continuation starts over', () => {
  const streaming = new StreamingMarkdown();
  streaming.render('First paragraph.\n\nSecond');
  assert.equal(streaming.render('Other text.\n\nEnd'), renderMarkdown('Other text.\n\nEnd'));
});

test('an @path being typed is found at the caret, and files complete it best first', () => {
  assert.deepEqual(mentionAt('fix @src/le', 11), { start: 4, prefix: 'src/le' });
  assert.deepEqual(mentionAt('@', 1), { start: 0, prefix: '' });
  assert.equal(mentionAt('mail me@example.com', 19), undefined);
  assert.equal(mentionAt('fix @src/a.js now', 17), undefined);
  const files = ['src/ledger.js', 'lib/old-ledger.js', 'ledger.md', 'src/app.js', 'docs/LEDGER-notes.txt'];
  assert.deepEqual(rankMentions(files, 'led'), ['ledger.md', 'src/ledger.js', 'docs/LEDGER-notes.txt', 'lib/old-ledger.js']);
  assert.deepEqual(rankMentions(files, 'src/'), ['src/app.js', 'src/ledger.js']);
  assert.equal(rankMentions(files, '', 2).length, 2);
});

test('a reply is cut into its prose and the actions between it, in the order the model wrote them', () => {
  const text = 'Voilà, the page.\n\nThen the script 🚀.\n\nDone.';
  const first = 'Voilà, the page.\n\n'.length;
  const second = 'Voilà, the page.\n\nThen the script 🚀.\n\n'.length;
  const action = (actionId: number, utf16: number) => ({
    actionId,
    artifactId: 'a',
    type: 'file',
    filePath: `f${actionId}.js`,
    status: 'complete' as const,
    proseOffset: { utf8: utf16 + 99, utf16 },
  });
  const cut = segments(text, [action(2, second), action(1, first), action(0, first)]);
  assert.deepEqual(
    cut.map((segment) => (segment.kind === 'prose' ? segment.text : segment.actions.map((a) => a.actionId).join(','))),
    ['Voilà, the page.\n\n', '0,1', 'Then the script 🚀.\n\n', '2', 'Done.'],
  );
  // Without a place (an older server), actions go after the prose; a place past the end is the end.
  const { proseOffset: _, ...unplaced } = action(0, 0);
  assert.deepEqual(segments('All.', [unplaced, action(1, 500)]).map((segment) => segment.kind), ['prose', 'actions', 'prose']);
  assert.deepEqual(segments('', []), [{ kind: 'prose', text: '' }]);
});

test("a card's screen-reader label says what it is, its state and what activating it does", () => {
  assert.equal(
    actionAria({ actionId: 0, artifactId: 'a', type: 'file', filePath: 'index.html', status: 'complete' }),
    'index.html, complete. activate to open the file',
  );
  assert.equal(
    actionAria({ actionId: 1, artifactId: 'a', type: 'shell', command: 'npm test', status: 'approval' }),
    'shell npm test, waiting for your approval',
  );
});

test("a tool call's card: the call on its line, the result's first line below it", () => {
  const tool = { actionId: 2, artifactId: 'a', type: 'tool', command: 'everything · echo {"message":"hi"}', status: 'complete' as const, summary: 'Echo: hi' };
  assert.equal(actionLabel(tool), 'tool everything · echo {"message":"hi"}');
  assert.equal(actionNote(tool), '→ Echo: hi');
  assert.equal(actionNote({ ...tool, status: 'failed', error: 'the tool failed: no' }), 'the tool failed: no');
});

test('a page check shows its problems with their top frame, escaped, or says the page is sound', () => {
  const found = pageCheckHtml({
    url: 'http://127.0.0.1:5173/',
    settled: true,
    problems: [
      { kind: 'exception', message: "TypeError: Cannot read properties of undefined (reading 'name')", frames: ['render (src/main.js:3:54)'], count: 1 },
      { kind: 'console', message: '<b>failed</b>', count: 3 },
    ],
  });
  assert.match(found, /✗ Page check: 2 problems in the browser/);
  assert.match(found, /exception<\/span> TypeError: Cannot read properties of undefined \(reading &#39;name&#39;\)/);
  assert.match(found, /at render \(src\/main\.js:3:54\)/);
  assert.match(found, /&lt;b&gt;failed&lt;\/b&gt; \(×3\)/);
  assert.match(pageCheckHtml({ url: 'http://x/', settled: false, problems: [] }), /✓ Page check: no problems in the browser \(it did not settle in time\)/);
  assert.match(pageCheckHtml({ url: 'http://x/', settled: false, problems: [], error: 'no browser' }), /Page check of http:\/\/x\/ failed: no browser/);
});

test('a verdict with a screenshot shows its thumbnail, which opens the file; without a picture, its link', () => {
  const screenshot = { path: '/data/screenshots/s/m1-1.jpg', mediaType: 'image/jpeg', width: 1280, height: 713, bytes: 64540, millis: 45 };
  const drawn = pageCheckHtml({ url: 'http://x/', settled: true, problems: [], screenshot, thumbnail: 'data:image/jpeg;base64,/9j/' });
  assert.match(drawn, /<a class="screenshot" href="#" data-path="\/data\/screenshots\/s\/m1-1\.jpg"/);
  assert.match(drawn, /<img src="data:image\/jpeg;base64,\/9j\/" alt="Screenshot of http:\/\/x\/ \(1280×713\)"/);
  // A thumbnail that is not a picture is not drawn.
  const link = pageCheckHtml({ url: 'http://x/', settled: true, problems: [], screenshot, thumbnail: 'javascript:alert(1)' });
  assert.doesNotMatch(link, /<img/);
  assert.match(link, />Screenshot of http:\/\/x\/ \(1280×713\)<\/a>/);
  assert.doesNotMatch(pageCheckHtml({ url: 'http://x/', settled: true, problems: [] }), /screenshot/);
});
