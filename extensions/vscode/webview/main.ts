// The chat webview: renders what the extension posts, sends back what the user does. It has no network
// access (CSP) and talks only to the extension.
//
// A reply is shown in the model's order: its prose up to an artifact, the artifact's action cards, the
// prose after. While it streams, only its last prose block is rendered again on a frame, and only the card
// that changed: a frame's cost does not grow with the conversation. A loaded session is built newest first
// (what shows at the bottom paints at once), older messages are added in chunks while the panel is idle,
// and messages off screen skip layout (`content-visibility`).
import {
  type ActionView,
  STATUS_ICONS,
  StreamingMarkdown,
  actionAria,
  actionLabel,
  actionNote,
  expands,
  hitLabel,
  escapeHtml,
  pageCheckHtml,
  opensDiff,
  opensFile,
  placeOf,
  renderMarkdown,
  segments,
  usageText,
} from './render';
import { mentionAt } from './mentions';
import type { FromWebview, ToWebview } from '../src/chat/messages';
import type { ShownVerdict } from '../src/chat/messages';

declare function acquireVsCodeApi(): { postMessage(message: FromWebview): void };
const vscode = acquireVsCodeApi();

/** A question the extension asks on a card: Run / Always for this session / Skip. */
interface Question {
  key: string;
  choices: string[];
}

interface Card extends ActionView {
  question?: Question;
  /** A search card shows what it found. */
  unfolded?: boolean;
}

interface Message {
  id: string;
  role: 'user' | 'assistant';
  text: string;
  actions: Map<number, Card>;
  notices: string[];
  previews: string[];
  /** What the page checks found (under the preview links). */
  pages: ShownVerdict[];
  /** Set when the turn has ended. */
  status?: string;
  /** What the turn waits for after this reply (its dev server, the editor's diagnostics). */
  checking?: string;
  error?: string;
  /** A prompt OpenBolt sent by itself (a fix round). */
  automatic?: boolean;
  element?: HTMLElement;
  /** While the reply streams: the prose after its last card, rendered again as it grows. */
  tail?: { element: HTMLElement; start: number; markdown: StreamingMarkdown };
  /** Something the incremental updates cannot place (a card between earlier prose): build it again. */
  rebuild?: boolean;
  /** Prose or the end changed since the last frame. */
  proseChanged?: boolean;
  endChanged?: boolean;
  /** Cards whose row changed since the last frame. */
  changedCards: Set<number>;
}

const conversation: Message[] = [];
const byKey = new Map<string, Message>();
const log = document.getElementById('log') as HTMLElement;
const input = document.getElementById('prompt') as HTMLTextAreaElement;
const send = document.getElementById('send') as HTMLButtonElement;
const stop = document.getElementById('stop') as HTMLButtonElement;
const footer = document.getElementById('usage') as HTMLElement;
let busy = false;
const dirty = new Set<Message>();
let frame = 0;

function message(id: string, role: 'user' | 'assistant'): Message {
  const key = `${role}:${id}`;
  let found = byKey.get(key);
  if (!found) {
    found = { id, role, text: '', actions: new Map(), notices: [], previews: [], pages: [], changedCards: new Set() };
    conversation.push(found);
    byKey.set(key, found);
  }
  return found;
}

/** Applies what changed, at most once per animation frame: no flicker, one layout. */
function schedule(entry: Message): void {
  dirty.add(entry);
  if (!frame) {
    frame = requestAnimationFrame(() => {
      frame = 0;
      const started = performance.now();
      const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
      for (const changed of dirty) {
        update(changed);
      }
      dirty.clear();
      if (atBottom) {
        log.scrollTop = log.scrollHeight;
      }
      // For the panel benchmark: what a frame cost us, layout included (scrollHeight forces it).
      performance.measure('openbolt-frame', { start: started, end: performance.now() });
    });
  }
}

/** One card's row: a button that opens what the action made, the reason below, and an open question. */
function cardHtml(messageId: string, card: Card): string {
  const note = actionNote(card);
  const full = [opensFile(card) || opensDiff(card) ? card.filePath : card.command, note].filter(Boolean).join('\n');
  const title = full ? ` title="${escapeHtml(full)}"` : '';
  let html =
    `<div class="action status-${card.status}" role="listitem" data-message="${escapeHtml(messageId)}" data-action="${card.actionId}">` +
    `<button class="open" aria-label="${escapeHtml(actionAria(card))}"${title}${expands(card) ? ` aria-expanded="${card.unfolded ? 'true' : 'false'}"` : ''}>` +
    `<span class="icon" aria-hidden="true">${STATUS_ICONS[card.status]}</span>` +
    `<span class="label">${escapeHtml(actionLabel(card))}</span></button>`;
  if (note) html += `<span class="reason">${escapeHtml(note)}</span>`;
  if (card.unfolded && expands(card)) {
    html += `<ul class="found" aria-label="Found">`;
    (card.found ?? []).forEach((hit, index) => {
      const label = hitLabel(hit);
      html += `<li><button class="hit" data-hit="${index}" title="${escapeHtml(label)}" aria-label="open ${escapeHtml(hit.line === undefined ? hit.path : `${hit.path} at line ${hit.line}`)}">${escapeHtml(label)}</button></li>`;
    });
    html += '</ul>';
  }
  if (card.question && card.status === 'approval') {
    const what = escapeHtml(actionLabel(card));
    html += `<div class="choices" role="group" aria-label="Approve ${what}">`;
    for (const choice of card.question.choices) {
      html += `<button class="choice" data-answer="${escapeHtml(choice)}" aria-label="${escapeHtml(choice)}: ${what}">${escapeHtml(choice)}</button>`;
    }
    html += '</div>';
  }
  return `${html}</div>`;
}

function groupHtml(messageId: string, offset: number, cards: Card[]): string {
  return `<div class="card" role="list" aria-label="Actions" data-offset="${offset}">${cards.map((card) => cardHtml(messageId, card)).join('')}</div>`;
}

/** Previews, notices and how the turn ended: below the reply. */
function endHtml(entry: Message): string {
  const parts: string[] = [];
  for (const url of entry.previews) {
    parts.push(`<a class="preview" href="#" data-url="${escapeHtml(url)}">Preview: ${escapeHtml(url)}</a>`);
  }
  for (const page of entry.pages) parts.push(pageCheckHtml(page));
  for (const notice of entry.notices) {
    parts.push(`<div class="notice">${escapeHtml(notice)}</div>`);
  }
  if (entry.checking) {
    parts.push(`<div class="checking" role="status">${escapeHtml(entry.checking)}…</div>`);
  }
  if (entry.status && entry.status !== 'complete') {
    parts.push(`<div class="ending ${entry.status}">${escapeHtml(entry.status === 'aborted' ? 'Stopped' : `Failed: ${entry.error ?? ''}`)}</div>`);
  }
  return parts.join('');
}

/** A whole message as HTML (its element's content). */
function messageHtml(entry: Message): string {
  if (entry.role === 'user') {
    return `<div class="bubble${entry.automatic ? ' automatic' : ''}">${escapeHtml(entry.text)}</div>`;
  }
  const parts: string[] = [];
  const cut = segments(entry.text, entry.actions.values());
  cut.forEach((segment, index) => {
    if (segment.kind === 'actions') {
      parts.push(groupHtml(entry.id, segment.offset, segment.actions));
    } else if (index < cut.length - 1 || entry.status !== undefined) {
      parts.push(`<div class="prose">${renderMarkdown(segment.text)}</div>`);
    } else {
      // The streaming tail: rendered by `update`.
      parts.push('<div class="prose tail"></div>');
    }
  });
  parts.push(`<div class="end">${endHtml(entry)}</div>`);
  return parts.join('');
}

function newElement(entry: Message): HTMLElement {
  const element = document.createElement('div');
  element.className = `message ${entry.role}`;
  element.setAttribute('aria-label', entry.role === 'user' ? (entry.automatic ? 'OpenBolt (automatic)' : 'You') : 'OpenBolt');
  return element;
}

/**
 * The group a new message joins. Messages live in groups of at most {@link GROUP} — the log's layout then
 * walks a few dozen boxes, not every message, and a group off screen is skipped whole.
 */
function openGroup(): HTMLElement {
  const last = log.lastElementChild as HTMLElement | null;
  if (last && last.childElementCount < GROUP) return last;
  const group = document.createElement('div');
  group.className = 'group';
  log.appendChild(group);
  return group;
}

/** Builds a message's DOM from its state; a streaming reply keeps its tail for the next deltas. */
function build(entry: Message): HTMLElement {
  const element = (entry.element ??= newElement(entry));
  element.innerHTML = messageHtml(entry);
  entry.rebuild = false;
  entry.tail = undefined;
  const tail = element.querySelector<HTMLElement>('.prose.tail');
  if (tail) {
    const places = [...entry.actions.values()].map((card) => placeOf(card, entry.text));
    const start = places.length > 0 ? Math.max(...places) : 0;
    entry.tail = { element: tail, start, markdown: new StreamingMarkdown() };
    tail.innerHTML = entry.tail.markdown.render(entry.text.slice(start));
  }
  entry.proseChanged = false;
  entry.endChanged = false;
  entry.changedCards.clear();
  return element;
}

/** Brings a message's DOM up to date, touching only what changed. */
function update(entry: Message): void {
  if (!entry.element) {
    openGroup().appendChild(build(entry));
    return;
  }
  if (entry.rebuild || entry.role === 'user') {
    build(entry);
    return;
  }
  for (const id of entry.changedCards) {
    const card = entry.actions.get(id);
    const row = entry.element.querySelector<HTMLElement>(`.action[data-action="${id}"]`);
    if (!card || !row) {
      build(entry);
      return;
    }
    const focused = row.contains(document.activeElement) ? (document.activeElement as HTMLElement).className : undefined;
    row.outerHTML = cardHtml(entry.id, card);
    if (focused) {
      // Keep the keyboard where it was: the same row's button (the open button once a question is answered).
      const fresh = entry.element.querySelector<HTMLElement>(`.action[data-action="${id}"]`);
      (fresh?.querySelector<HTMLElement>(`.${focused.split(' ')[0]}`) ?? fresh?.querySelector<HTMLElement>('.open'))?.focus();
    }
  }
  entry.changedCards.clear();
  if (entry.proseChanged && entry.tail) {
    if (entry.status === undefined) {
      entry.tail.element.innerHTML = entry.tail.markdown.render(entry.text.slice(entry.tail.start));
    } else {
      entry.tail.element.innerHTML = renderMarkdown(entry.text.slice(entry.tail.start));
      entry.tail.element.classList.remove('tail');
      entry.tail = undefined;
    }
  }
  entry.proseChanged = false;
  if (entry.endChanged) {
    const end = entry.element.querySelector<HTMLElement>(':scope > .end');
    if (end) end.innerHTML = endHtml(entry);
    entry.endChanged = false;
  }
}

/** A new card at the end of the prose (the live case): the tail so far is final, the card follows it. */
function placeNewCard(entry: Message, card: Card): void {
  const place = placeOf(card, entry.text);
  const tail = entry.tail;
  if (!entry.element || !tail || entry.rebuild || place < tail.start) {
    entry.rebuild = entry.element !== undefined;
    return;
  }
  const previous = tail.element.previousElementSibling as HTMLElement | null;
  if (place === tail.start && previous?.classList.contains('card') && previous.dataset.offset === String(place)) {
    // Another action of the same artifact.
    previous.insertAdjacentHTML('beforeend', cardHtml(entry.id, card));
    return;
  }
  tail.element.innerHTML = renderMarkdown(entry.text.slice(tail.start, place));
  tail.element.classList.remove('tail');
  tail.element.insertAdjacentHTML('afterend', groupHtml(entry.id, place, [card]));
  const group = tail.element.nextElementSibling as HTMLElement;
  const next = document.createElement('div');
  next.className = 'prose tail';
  group.after(next);
  entry.tail = { element: next, start: place, markdown: new StreamingMarkdown() };
  entry.proseChanged = true;
}

function setBusy(value: boolean): void {
  busy = value;
  stop.disabled = !value;
  send.disabled = value;
  document.body.classList.toggle('busy', value);
}

function submit(): void {
  const text = input.value.trim();
  if (!text || busy) return;
  vscode.postMessage({ type: 'send', prompt: text });
  input.value = '';
}

// Cards, choices and previews: one listener for the whole log.
log.addEventListener('click', (event) => {
  const target = event.target as HTMLElement;
  const link = target.closest<HTMLAnchorElement>('a.preview');
  if (link) {
    event.preventDefault();
    if (link.dataset.url) vscode.postMessage({ type: 'openPreview', url: link.dataset.url });
    return;
  }
  const screenshot = target.closest<HTMLAnchorElement>('a.screenshot');
  if (screenshot) {
    event.preventDefault();
    if (screenshot.dataset.path) vscode.postMessage({ type: 'openScreenshot', path: screenshot.dataset.path });
    return;
  }
  const row = target.closest<HTMLElement>('.action');
  if (!row) return;
  const entry = byKey.get(`assistant:${row.dataset.message}`);
  const card = entry?.actions.get(Number(row.dataset.action));
  if (!entry || !card) return;
  const choice = target.closest<HTMLButtonElement>('button.choice');
  if (choice) {
    if (card.question) {
      vscode.postMessage({ type: 'answer', key: card.question.key, choice: choice.dataset.answer });
      card.question = undefined;
      entry.changedCards.add(card.actionId);
      schedule(entry);
    }
    return;
  }
  const hit = target.closest<HTMLButtonElement>('button.hit');
  if (hit) {
    const found = card.found?.[Number(hit.dataset.hit)];
    if (found) vscode.postMessage({ type: 'openFile', path: found.path, line: found.line });
    return;
  }
  if (!target.closest('button.open')) return;
  if (expands(card)) {
    card.unfolded = !card.unfolded;
    entry.changedCards.add(card.actionId);
    schedule(entry);
  } else if (opensDiff(card) && card.filePath) {
    vscode.postMessage({ type: 'openDiff', messageId: entry.id, path: card.filePath });
  } else if (opensFile(card) && card.filePath) {
    vscode.postMessage({ type: 'openFile', path: card.filePath });
  } else if (card.terminalId !== undefined) {
    vscode.postMessage({ type: 'showTerminal', terminalId: card.terminalId });
  }
});

// The keyboard in the log: arrows move between the cards' buttons, Escape goes back to the prompt.
log.addEventListener('keydown', (event) => {
  const buttons = Array.from(log.querySelectorAll<HTMLElement>('button, a.preview, a.screenshot'));
  const at = buttons.indexOf(document.activeElement as HTMLElement);
  if (event.key === 'Escape') {
    event.preventDefault();
    input.focus();
  } else if ((event.key === 'ArrowDown' || event.key === 'ArrowUp') && at >= 0) {
    event.preventDefault();
    buttons[Math.max(0, Math.min(buttons.length - 1, at + (event.key === 'ArrowDown' ? 1 : -1)))]?.focus();
  }
});

/** The newest open question's first choice, else the newest card: where Alt+Up in the prompt goes. */
function latestCardButton(): HTMLElement | undefined {
  const questions = log.querySelectorAll<HTMLElement>('.choices');
  const asking = questions[questions.length - 1]?.querySelector<HTMLElement>('button.choice');
  if (asking) return asking;
  const cards = log.querySelectorAll<HTMLElement>('button.open');
  return cards[cards.length - 1];
}

// `@path` completion: the extension lists the workspace's files that match what follows the `@`.
const mentions = document.getElementById('mentions') as HTMLUListElement;
let choices: string[] = [];
let chosen = 0;

function closeMentions(): void {
  choices = [];
  mentions.hidden = true;
  mentions.innerHTML = '';
}

function showMentions(items: string[]): void {
  choices = items;
  chosen = 0;
  if (items.length === 0) {
    closeMentions();
    return;
  }
  mentions.innerHTML = items
    .map((item, index) => `<li role="option" id="mention-${index}" aria-selected="${index === chosen}">${escapeHtml(item)}</li>`)
    .join('');
  mentions.hidden = false;
  mentions.querySelectorAll<HTMLLIElement>('li').forEach((item, index) => {
    item.onmousedown = (event) => {
      event.preventDefault();
      accept(index);
    };
  });
}

function highlightChoice(next: number): void {
  chosen = (next + choices.length) % choices.length;
  mentions.querySelectorAll<HTMLLIElement>('li').forEach((item, index) => {
    item.setAttribute('aria-selected', String(index === chosen));
    if (index === chosen) item.scrollIntoView({ block: 'nearest' });
  });
  input.setAttribute('aria-activedescendant', `mention-${chosen}`);
}

function accept(index: number): void {
  const mention = mentionAt(input.value, input.selectionStart ?? input.value.length);
  const file = choices[index];
  if (mention && file !== undefined) {
    const caret = input.selectionStart ?? input.value.length;
    const inserted = `@${file} `;
    input.value = input.value.slice(0, mention.start) + inserted + input.value.slice(caret);
    const at = mention.start + inserted.length;
    input.setSelectionRange(at, at);
  }
  closeMentions();
  input.focus();
}

input.addEventListener('input', () => {
  const mention = mentionAt(input.value, input.selectionStart ?? input.value.length);
  if (mention) vscode.postMessage({ type: 'complete', prefix: mention.prefix });
  else closeMentions();
});
input.addEventListener('blur', () => closeMentions());

input.addEventListener('keydown', (event) => {
  if (choices.length > 0) {
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      highlightChoice(chosen + (event.key === 'ArrowDown' ? 1 : -1));
      return;
    }
    if (event.key === 'Tab' || (event.key === 'Enter' && !event.shiftKey)) {
      event.preventDefault();
      accept(chosen);
      return;
    }
    if (event.key === 'Escape') {
      event.preventDefault();
      closeMentions();
      return;
    }
  }
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    submit();
  } else if (event.key === 'Backspace' && event.shiftKey && (event.ctrlKey || event.metaKey) && busy) {
    // Not Escape: VS Code users press it to close everything, and a reply is too much to lose to a reflex.
    event.preventDefault();
    vscode.postMessage({ type: 'stop' });
  } else if (event.key === 'ArrowUp' && event.altKey) {
    const target = latestCardButton();
    if (target) {
      event.preventDefault();
      target.focus();
    }
  }
});
send.onclick = submit;
stop.onclick = () => vscode.postMessage({ type: 'stop' });
(document.getElementById('new') as HTMLButtonElement).onclick = () => vscode.postMessage({ type: 'newChat' });
(document.getElementById('history') as HTMLButtonElement).onclick = () => vscode.postMessage({ type: 'pickSession' });

function clear(): void {
  conversation.splice(0);
  byKey.clear();
  dirty.clear();
  log.innerHTML = '';
}

/** How many messages a loaded session shows before its first paint; the rest follow in groups. */
const FIRST_CHUNK = 24;
const GROUP = 24;
let loading = 0;

/** Shows a loaded session: newest messages first, older ones prepended while the panel is idle. */
function load(messages: { messageId: string; role: 'user' | 'assistant'; text: string; actions?: ActionView[]; status?: string; pages?: ShownVerdict[] }[]): void {
  const generation = ++loading;
  const entries = messages.map((past) => {
    const entry = message(past.messageId, past.role);
    entry.text = past.text;
    entry.actions = new Map((past.actions ?? []).map((action) => [action.actionId, { ...action }]));
    entry.pages = past.pages ?? [];
    // No status: the reply is still streaming (its deltas continue into it).
    entry.status = past.role === 'assistant' ? past.status : undefined;
    return entry;
  });
  const attach = (chunk: Message[]) => {
    const group = document.createElement('div');
    group.className = 'group';
    for (const entry of chunk) {
      group.appendChild(build(entry));
    }
    return group;
  };
  let remaining = entries.length - FIRST_CHUNK;
  log.appendChild(attach(entries.slice(Math.max(0, remaining))));
  log.scrollTop = log.scrollHeight;
  const more = () => {
    if (generation !== loading) return;
    if (remaining <= 0) {
      delete document.body.dataset.loading;
      return;
    }
    const from = Math.max(0, remaining - GROUP);
    // Keep what the reader sees where it is: the same distance from the bottom (whether or not the
    // browser's scroll anchoring has moved it already) — the bottom itself until they scroll.
    const fromBottom = log.scrollHeight - log.scrollTop;
    log.prepend(attach(entries.slice(from, remaining)));
    log.scrollTop = readerMoved ? log.scrollHeight - fromBottom : log.scrollHeight;
    remaining = from;
    setTimeout(more, 0);
  };
  readerMoved = false;
  if (remaining > 0) {
    document.body.dataset.loading = 'true';
    setTimeout(more, 0);
  }
  // Messages get their real heights as they are first laid out (until then `contain-intrinsic-size`
  // guesses): stay at the bottom while they settle.
  let frames = 0;
  const settle = () => {
    if (generation !== loading || readerMoved) return;
    log.scrollTop = log.scrollHeight;
    if (frames++ < 10 || document.body.dataset.loading) requestAnimationFrame(settle);
  };
  requestAnimationFrame(settle);
}

/** The reader scrolled the log themselves since the last load: leave the scroll position to them. */
let readerMoved = false;
for (const kind of ['wheel', 'pointerdown', 'keydown', 'touchstart']) {
  log.addEventListener(kind, () => (readerMoved = true), { passive: true });
}

let pendingUser = 0;
/** Questions that arrived before their card, by message and action. */
const early = new Map<string, Question>();
/** The turn's checks are over (it ended, or a fix round began). */
function checked(): void {
  for (const entry of conversation) {
    if (entry.checking) {
      entry.checking = undefined;
      entry.endChanged = true;
      schedule(entry);
    }
  }
}
window.addEventListener('message', (event: MessageEvent<ToWebview>) => {
  const data = event.data;
  switch (data.type) {
    case 'user': {
      const entry = message(`user-${pendingUser++}`, 'user');
      entry.text = data.text;
      schedule(entry);
      setBusy(true);
      break;
    }
    case 'fixRound': {
      checked();
      // OpenBolt's own prompt: the problems of the last turn, sent back to the model.
      const entry = message(`fix-${data.messageId}`, 'user');
      entry.text = data.text;
      entry.automatic = true;
      schedule(entry);
      break;
    }
    case 'delta': {
      const entry = message(data.messageId, 'assistant');
      entry.text += data.text;
      entry.proseChanged = true;
      schedule(entry);
      break;
    }
    case 'action': {
      const entry = message(data.update.messageId, 'assistant');
      const known = entry.actions.get(data.update.actionId);
      const card: Card = { ...data.update, proseOffset: known?.proseOffset ?? data.update.proseOffset };
      if (known) {
        card.question = known.question;
        card.unfolded = known.unfolded;
        entry.actions.set(card.actionId, card);
        entry.changedCards.add(card.actionId);
      } else {
        if (card.proseOffset === undefined) {
          // A server that does not place actions: here, at the end of the prose so far.
          const utf16 = entry.text.length;
          card.proseOffset = { utf8: utf16, utf16 };
        }
        const question = early.get(`${entry.id}/${card.actionId}`);
        if (question) {
          early.delete(`${entry.id}/${card.actionId}`);
          card.question = question;
        }
        entry.actions.set(card.actionId, card);
        placeNewCard(entry, card);
      }
      schedule(entry);
      break;
    }
    case 'ask': {
      // The extension asks on the card: Run / Always / Skip (it may also show a notification).
      const entry = message(data.messageId, 'assistant');
      const question = { key: data.key, choices: data.choices };
      const card = entry.actions.get(data.actionId);
      if (card) {
        card.question = question;
        card.status = 'approval';
        // The question may overtake the update that names the command.
        card.command ??= data.command;
        entry.changedCards.add(card.actionId);
        schedule(entry);
      } else {
        // The question overtook the card's first update (they travel apart): it waits for the card.
        early.set(`${data.messageId}/${data.actionId}`, question);
      }
      break;
    }
    case 'answered': {
      // Answered elsewhere (the notification): the card stops asking.
      for (const [place, question] of early) if (question.key === data.key) early.delete(place);
      for (const entry of conversation) {
        for (const card of entry.actions.values()) {
          if (card.question?.key === data.key) {
            card.question = undefined;
            entry.changedCards.add(card.actionId);
            schedule(entry);
          }
        }
      }
      break;
    }
    case 'notice': {
      const entry = message(data.messageId, 'assistant');
      entry.notices.push(data.text);
      entry.endChanged = true;
      schedule(entry);
      break;
    }
    case 'preview': {
      const last = [...conversation].reverse().find((entry) => entry.role === 'assistant');
      if (last) {
        last.previews.push(data.url);
        last.endChanged = true;
        schedule(last);
      }
      break;
    }
    case 'pageCheck': {
      const entry = message(data.messageId, 'assistant');
      entry.pages.push(data);
      entry.endChanged = true;
      schedule(entry);
      break;
    }
    case 'checking': {
      const entry = message(data.messageId, 'assistant');
      entry.checking = data.text;
      entry.endChanged = true;
      schedule(entry);
      break;
    }
    case 'done': {
      setBusy(false);
      checked();
      if (data.result) {
        const entry = message(data.result.messageId, 'assistant');
        entry.status = data.result.status;
        entry.error = data.result.error;
        entry.proseChanged = true;
        entry.endChanged = true;
        schedule(entry);
        // A stopped turn may report nothing used: keep the last figures then.
        const usage = data.result.usage;
        if (usage && usage.inputTokens + usage.outputTokens > 0) footer.textContent = usageText(usage);
      } else if (data.error) {
        const entry = message(`error-${Date.now()}`, 'assistant');
        entry.status = 'failed';
        entry.error = data.error;
        schedule(entry);
      }
      break;
    }
    case 'completions': {
      const mention = mentionAt(input.value, input.selectionStart ?? input.value.length);
      // Answers to what was typed before are dropped.
      if (mention && mention.prefix === data.prefix && document.activeElement === input) showMentions(data.items);
      break;
    }
    case 'focusPrompt':
      input.focus();
      break;
    case 'reset': {
      clear();
      footer.textContent = '';
      setBusy(false);
      load(data.messages ?? []);
      break;
    }
  }
});

setBusy(false);
vscode.postMessage({ type: 'ready' });
// For tests and styles: the composer works from here on.
document.body.dataset.ready = 'true';
input.focus();
