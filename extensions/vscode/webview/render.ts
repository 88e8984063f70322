// Pure rendering for the chat webview: Markdown to HTML (no raw HTML from the model), a small code
// highlighter, and the texts of action cards. No DOM here, so it runs in unit tests under Node.
import MarkdownIt from 'markdown-it';

// Types only (erased from the bundle): the page shows what the protocol carries, typed in one place.
import type { ActionStatus, ActionUpdate, PageCheck } from '../src/lsp_ext';

/** An action as a card shows it: the protocol's update without its session and message. */
export type ActionView = Omit<ActionUpdate, 'sessionId' | 'messageId'>;

export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const KEYWORDS = new Set(
  (
    'const let var function return if else for while do switch case break continue new class extends ' +
    'import export from default async await try catch finally throw typeof instanceof in of this null ' +
    'undefined true false def elif pass lambda fn pub struct enum impl use mod match self Self mut ' +
    'interface type public private protected static void int string bool'
  ).split(' '),
);

/** Highlights code into `<span class="tok-…">` runs: comments, strings, numbers, keywords. */
export function highlight(code: string): string {
  const pattern =
    /(\/\/[^\n]*|#[^\n]*|\/\*[\s\S]*?\*\/)|("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.)*`)|(\b\d+(?:\.\d+)?\b)|([A-Za-z_$][\w$]*)/g;
  let out = '';
  let last = 0;
  for (const match of code.matchAll(pattern)) {
    const index = match.index ?? 0;
    out += escapeHtml(code.slice(last, index));
    const [text, comment, string, number, word] = match;
    if (comment !== undefined) {
      out += `<span class="tok-comment">${escapeHtml(text)}</span>`;
    } else if (string !== undefined) {
      out += `<span class="tok-string">${escapeHtml(text)}</span>`;
    } else if (number !== undefined) {
      out += `<span class="tok-number">${text}</span>`;
    } else if (word !== undefined && KEYWORDS.has(word)) {
      out += `<span class="tok-keyword">${text}</span>`;
    } else {
      out += escapeHtml(text);
    }
    last = index + text.length;
  }
  return out + escapeHtml(code.slice(last));
}

const markdown = new MarkdownIt({
  html: false,
  linkify: true,
  breaks: false,
  highlight: (code: string) => `<pre class="code"><code>${highlight(code)}</code></pre>`,
});

/** The model's prose as HTML. Raw HTML in it is shown as text. */
export function renderMarkdown(text: string): string {
  return markdown.render(text);
}

/**
 * Where a growing text can be cut so that what comes before renders the same on its own: after the last
 * blank line that is not inside a code fence. `from` must itself be such a place (or 0).
 */
export function stableBoundary(text: string, from: number): number {
  let boundary = from;
  let inFence = false;
  let lineStart = from;
  while (lineStart < text.length) {
    const end = text.indexOf('\n', lineStart);
    if (end < 0) break; // the last line is still being written
    const line = text.slice(lineStart, end);
    if (/^ {0,3}(```|~~~)/.test(line)) {
      inFence = !inFence;
    } else if (!inFence && line.trim() === '' && lineStart > from) {
      boundary = end + 1;
    }
    lineStart = end + 1;
  }
  return boundary;
}

/**
 * Renders a reply while it streams: the blocks before the last blank line outside code are rendered
 * once and kept, only the tail is rendered again on each update — so a frame costs the tail, not the
 * whole reply. Call {@link renderMarkdown} for the final text (a list split by a blank line may render
 * as two lists while streaming).
 */
export class StreamingMarkdown {
  private stable = '';
  private stableHtml = '';

  render(text: string): string {
    if (!text.startsWith(this.stable)) {
      this.stable = '';
      this.stableHtml = '';
    }
    const cut = stableBoundary(text, this.stable.length);
    if (cut > this.stable.length) {
      this.stableHtml += markdown.render(text.slice(this.stable.length, cut));
      this.stable = text.slice(0, cut);
    }
    return this.stableHtml + markdown.render(text.slice(cut));
  }
}

export const STATUS_ICONS: Record<ActionStatus, string> = {
  pending: '○',
  approval: '?',
  running: '◐',
  complete: '✓',
  failed: '✗',
  aborted: '■',
  skipped: '–',
};

/** The one line a card shows for an action. */
export function actionLabel(action: ActionView): string {
  let label: string;
  if (action.type === 'file') {
    label = action.filePath ?? 'file';
  } else if (action.type === 'read' || action.type === 'edit') {
    label = `${action.type} ${action.filePath ?? '…'}`;
  } else if (action.type === 'search') {
    label = `search ${action.command ?? action.filePath ?? '…'}`;
  } else {
    label = `${action.type} ${action.command?.split('\n')[0] ?? '…'}`;
  }
  if (action.exitCode !== undefined && action.status !== 'complete' && action.status !== 'running') {
    label += ` (exit ${action.exitCode})`;
  } else if (action.summary && action.type !== 'tool') {
    label += ` (${action.summary})`;
  }
  return label;
}

/** Whether clicking the card opens its file. */
export function opensFile(action: ActionView): boolean {
  return (action.type === 'file' || action.type === 'read') && action.filePath !== undefined;
}

/** Whether clicking the card unfolds what it found (a search's matches or files). */
export function expands(action: ActionView): boolean {
  return action.type === 'search' && (action.found?.length ?? 0) > 0;
}

/** One thing a search found, as its row reads: `src/app.ts:12  const x = 1`, or the path it listed. */
export function hitLabel(hit: { path: string; line?: number; text?: string }): string {
  if (hit.line === undefined) return hit.path;
  return `${hit.path}:${hit.line}  ${(hit.text ?? '').trim()}`;
}

/** Whether clicking the card shows the change it made (an applied edit): before and after, side by side. */
export function opensDiff(action: ActionView): boolean {
  return action.type === 'edit' && action.status === 'complete' && action.filePath !== undefined;
}

/** The line under an action's label: why it failed or was skipped, or what it waits for. */
export function actionNote(action: ActionView): string | undefined {
  if (action.status === 'approval') {
    return 'waiting for your approval';
  }
  // A tool's result gets a line of its own: the call (server · tool {arguments}) fills the label.
  if (action.type === 'tool' && action.status === 'complete' && action.summary) {
    return `→ ${action.summary}`;
  }
  return action.error;
}

/** What a screen reader says for a card: the action, its state, and what activating it does. */
export function actionAria(action: ActionView): string {
  const does = opensDiff(action)
    ? 'show the change'
    : expands(action)
      ? 'show what it found'
      : opensFile(action)
      ? 'open the file'
      : action.terminalId !== undefined
        ? 'show the terminal'
        : undefined;
  const status = action.status === 'approval' ? 'waiting for your approval' : action.status;
  return [`${actionLabel(action)}, ${status}`, action.error, does && `activate to ${does}`].filter(Boolean).join('. ');
}

/** A part of a reply as the panel shows it, in the model's order: prose, then the actions written there. */
export type Segment = { kind: 'prose'; text: string } | { kind: 'actions'; offset: number; actions: ActionView[] };

/** Where an action sits in the prose (UTF-16 units, as JavaScript indexes strings); an action from a
 * server that does not say sits at the end. */
export function placeOf(action: ActionView, text: string): number {
  const offset = action.proseOffset?.utf16;
  return offset === undefined ? text.length : Math.min(offset, text.length);
}

/**
 * A reply cut into prose and the groups of actions between it, in the order the model wrote them: the
 * prose before an action's place, its group (actions at one place, by index), the prose after — the
 * last segment is always prose (possibly empty: where the reply streams on).
 */
export function segments(text: string, actions: Iterable<ActionView>): Segment[] {
  const groups = new Map<number, ActionView[]>();
  for (const action of actions) {
    const place = placeOf(action, text);
    const group = groups.get(place);
    if (group) group.push(action);
    else groups.set(place, [action]);
  }
  const out: Segment[] = [];
  let from = 0;
  for (const offset of [...groups.keys()].sort((a, b) => a - b)) {
    out.push({ kind: 'prose', text: text.slice(from, offset) });
    out.push({ kind: 'actions', offset, actions: (groups.get(offset) ?? []).sort((a, b) => a.actionId - b.actionId) });
    from = offset;
  }
  out.push({ kind: 'prose', text: text.slice(from) });
  return out;
}

/** Token usage as the chat's footer shows it. */
export function usageText(usage: { inputTokens: number; outputTokens: number; cacheReadTokens: number }): string {
  const cached = usage.cacheReadTokens > 0 ? ` (${usage.cacheReadTokens} cached)` : '';
  return `tokens: ${usage.inputTokens} in${cached}, ${usage.outputTokens} out`;
}

/** A page check's verdict under its preview link: a headline, then each problem with its top frame. */
export function pageCheckHtml(check: Pick<PageCheck, 'url' | 'problems' | 'settled' | 'error' | 'screenshot'> & { thumbnail?: string }): string {
  const unsettled = check.settled ? '' : ' (it did not settle in time)';
  if (check.error) {
    return `<div class="page-check failed" role="status">Page check of ${escapeHtml(check.url)} failed: ${escapeHtml(check.error)}</div>`;
  }
  if (check.problems.length === 0) {
    return `<div class="page-check sound" role="status">✓ Page check: no problems in the browser${escapeHtml(unsettled)}</div>${screenshotHtml(check)}`;
  }
  const count = check.problems.length;
  let html = `<div class="page-check problems" role="status">✗ Page check: ${count} problem${count === 1 ? '' : 's'} in the browser${escapeHtml(unsettled)}</div><ul class="page-problems">`;
  for (const problem of check.problems) {
    const times = problem.count > 1 ? ` (×${problem.count})` : '';
    const frame = problem.frames?.[0] ? `<span class="frame">at ${escapeHtml(problem.frames[0])}</span>` : '';
    html += `<li><span class="kind">${escapeHtml(problem.kind)}</span> ${escapeHtml(problem.message)}${escapeHtml(times)}${frame}</li>`;
  }
  return `${html}</ul>${screenshotHtml(check)}`;
}

/** A verdict's screenshot: a thumbnail that opens the picture full size (its file's link when it cannot be drawn). */
function screenshotHtml(check: Pick<PageCheck, 'url' | 'screenshot'> & { thumbnail?: string }): string {
  const shot = check.screenshot;
  if (!shot) return '';
  const label = `Screenshot of ${check.url} (${shot.width}×${shot.height})`;
  const picture = check.thumbnail?.startsWith('data:image/')
    ? `<img src="${escapeHtml(check.thumbnail)}" alt="${escapeHtml(label)}" width="${shot.width}" height="${shot.height}">`
    : escapeHtml(label);
  return `<a class="screenshot" href="#" data-path="${escapeHtml(shot.path)}" title="Open the screenshot full size">${picture}</a>`;
}
