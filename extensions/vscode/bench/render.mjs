// What one animation frame of the chat panel costs while a long reply streams in: the reply grows by
// one delta (~40 bytes) per frame, and the changed message is rendered again. Compared, in the same run:
// rendering the whole text every frame (what the panel did before `StreamingMarkdown`) against rendering
// only the tail after the last finished block. A 60 Hz frame has 16.7 ms.
//
// Run: cd extensions/vscode && node bench/render.mjs
import * as esbuild from 'esbuild';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import * as fs from 'node:fs';

const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'openbolt-bench-')), 'render.cjs');
await esbuild.build({ entryPoints: ['webview/render.ts'], bundle: true, platform: 'node', format: 'cjs', outfile: out, logLevel: 'warning' });
const require = createRequire(import.meta.url);
const { renderMarkdown, StreamingMarkdown } = require(out);

// A reply as models write them: paragraphs, lists and fenced code, repeated to size.
const unit = [
  'Here is the **counter** app. It keeps its state in `localStorage` and works offline.\n\n',
  '- `index.html`: the page\n- `app.js`: the logic\n- `style.css`: the looks\n\n',
  '```js\nconst button = document.querySelector("#count");\nlet count = Number(localStorage.getItem("count") ?? 0);\n',
  'button.addEventListener("click", () => { count += 1; localStorage.setItem("count", String(count)); render(); });\n',
  'function render() { button.textContent = `Clicked ${count} times`; } // 42 < 43\n```\n\n',
].join('');

function median(times) {
  const sorted = [...times].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

// Per frame, once the reply is `kib` long: time to render after each of `frames` more deltas.
function perFrame(kib, frames, incremental) {
  const text = unit.repeat(Math.ceil(((kib + 4) * 1024) / unit.length));
  const start = kib * 1024;
  const streaming = new StreamingMarkdown();
  if (incremental) streaming.render(text.slice(0, start)); // the reply so far, already on screen
  const times = [];
  for (let frame = 1; frame <= frames; frame += 1) {
    const shown = text.slice(0, start + frame * 40);
    const begin = process.hrtime.bigint();
    if (incremental) streaming.render(shown);
    else renderMarkdown(shown);
    times.push(Number(process.hrtime.bigint() - begin) / 1e6);
  }
  return { median: median(times), worst: Math.max(...times) };
}

console.log(
  `${'reply'.padEnd(9)}${'whole p50 ms'.padStart(14)}${'tail p50 ms'.padStart(13)}${'tail max ms'.padStart(13)}${'tail/whole'.padStart(12)}`,
);
for (const kib of [4, 32, 128, 512]) {
  const frames = kib >= 128 ? 20 : 80;
  perFrame(kib, 5, false); // warm up
  perFrame(kib, 5, true);
  const whole = perFrame(kib, frames, false);
  const tail = perFrame(kib, frames, true);
  console.log(
    `${`${kib} KiB`.padEnd(9)}${whole.median.toFixed(3).padStart(14)}${tail.median.toFixed(3).padStart(13)}${tail.worst.toFixed(3).padStart(13)}${(tail.median / whole.median).toFixed(4).padStart(12)}`,
  );
}
