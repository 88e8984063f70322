// The chat webview: renders what the extension posts, sends back what the user does. It has no network
// access (CSP) and talks only to the extension.
import {
  type ActionView,
  STATUS_ICONS,
  StreamingMarkdown,
  actionLabel,
  actionNote,
  escapeHtml,
  opensDiff,
  opensFile,
  renderMarkdown,
  usageText,
} from './render';
import { mentionAt } from './mentions';

declare function acquireVsCodeApi(): { postMessage(message: unknown): void };
const vscode = acquireVsCodeApi();

interface Message {
  id: string;
  role: 'user' | 'assistant';
  text: string;
  actions: ActionView[];
  notices: string[];
  previews: string[];
  /** Set when the turn has ended. */
  status?: string;
  error?: string;
  element?: HTMLElement;
  /** A prompt OpenBolt sent by itself (a fix round). */
  automatic?: boolean;
  /** While the reply streams: renders only what changed since the last frame. */
  streaming?: StreamingMarkdown;
}

const conversation: Message[] = [];
const log = document.getElementById('log') as HTMLElement;
const input = document.getElementById('prompt') as HTMLTextAreaElement;
const send = document.getElementById('send') as HTMLButtonElement;
const stop = document.getElementById('stop') as HTMLButtonElement;
const footer = document.getElementById('usage') as HTMLElement;
let busy = false;
const dirty = new Set<Message>();
let frame = 0;

function message(id: string, role: 'user' | 'assistant'): Message {
  let found = conversation.find((entry) => entry.id === id && entry.role === role);
  if (!found) {
    found = { id, role, text: '', actions: [], notices: [], previews: [] };
    conversation.push(found);
  }
  return found;
}

/** Re-renders only the messages that changed, at most once per animation frame: no flicker. */
function schedule(entry: Message): void {
  dirty.add(entry);
  if (!frame) {
    frame = requestAnimationFrame(() => {
      frame = 0;
      const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
      for (const changed of dirty) {
        render(changed);
      }
      dirty.clear();
      if (atBottom) {
        log.scrollTop = log.scrollHeight;
      }
    });
  }
}

function render(entry: Message): void {
  if (!entry.element) {
    entry.element = document.createElement('div');
    entry.element.className = `message ${entry.role}`;
    log.appendChild(entry.element);
  }
  if (entry.role === 'user') {
    entry.element.innerHTML = `<div class="bubble${entry.automatic ? ' automatic' : ''}">${escapeHtml(entry.text)}</div>`;
    return;
  }
  let prose: string;
  if (entry.status === undefined) {
    entry.streaming ??= new StreamingMarkdown();
    prose = entry.streaming.render(entry.text);
  } else {
    entry.streaming = undefined;
    prose = renderMarkdown(entry.text);
  }
  const parts = [`<div class="prose">${prose}</div>`];
  if (entry.actions.length > 0) {
    parts.push('<div class="card" role="list">');
    for (const action of [...entry.actions].sort((a, b) => a.actionId - b.actionId)) {
      // The label is cut to one line; the tooltip holds the whole command and any error.
      const note = actionNote(action);
      const full = [opensFile(action) || opensDiff(action) ? action.filePath : action.command, note].filter(Boolean).join('\n');
      const title = full ? ` title="${escapeHtml(full)}"` : '';
      parts.push(
        `<button class="action status-${action.status}" role="listitem" data-action="${action.actionId}"${title}>` +
          `<span class="icon" aria-label="${action.status}">${STATUS_ICONS[action.status]}</span>` +
          `<span class="label">${escapeHtml(actionLabel(action))}</span>` +
          (note ? `<span class="reason">${escapeHtml(note)}</span>` : '') +
          '</button>',
      );
    }
    parts.push('</div>');
  }
  for (const url of entry.previews) {
    parts.push(`<a class="preview" href="#" data-url="${escapeHtml(url)}">Preview: ${escapeHtml(url)}</a>`);
  }
  for (const notice of entry.notices) {
    parts.push(`<div class="notice">${escapeHtml(notice)}</div>`);
  }
  if (entry.status && entry.status !== 'complete') {
    parts.push(`<div class="ending ${entry.status}">${escapeHtml(entry.status === 'aborted' ? 'Stopped' : `Failed: ${entry.error ?? ''}`)}</div>`);
  }
  entry.element.innerHTML = parts.join('');
  entry.element.querySelectorAll<HTMLButtonElement>('button.action').forEach((button) => {
    const action = entry.actions.find((candidate) => String(candidate.actionId) === button.dataset.action);
    button.onclick = () => {
      if (!action) return;
      if (opensDiff(action) && action.filePath) {
        vscode.postMessage({ type: 'openDiff', messageId: entry.id, path: action.filePath });
      } else if (opensFile(action) && action.filePath) {
        vscode.postMessage({ type: 'openFile', path: action.filePath });
      } else if (action.terminalId !== undefined) {
        vscode.postMessage({ type: 'showTerminal', terminalId: action.terminalId });
      }
    };
  });
  entry.element.querySelectorAll<HTMLAnchorElement>('a.preview').forEach((link) => {
    link.onclick = (event) => {
      event.preventDefault();
      vscode.postMessage({ type: 'openPreview', url: link.dataset.url });
    };
  });
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
  }
});
send.onclick = submit;
stop.onclick = () => vscode.postMessage({ type: 'stop' });
(document.getElementById('new') as HTMLButtonElement).onclick = () => vscode.postMessage({ type: 'newChat' });
(document.getElementById('history') as HTMLButtonElement).onclick = () => vscode.postMessage({ type: 'pickSession' });

let pendingUser = 0;
window.addEventListener('message', (event: MessageEvent) => {
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
      schedule(entry);
      break;
    }
    case 'action': {
      const entry = message(data.update.messageId, 'assistant');
      const index = entry.actions.findIndex((action) => action.actionId === data.update.actionId);
      if (index >= 0) entry.actions[index] = data.update;
      else entry.actions.push(data.update);
      schedule(entry);
      break;
    }
    case 'notice': {
      const entry = message(data.messageId, 'assistant');
      entry.notices.push(data.text);
      schedule(entry);
      break;
    }
    case 'preview': {
      const last = [...conversation].reverse().find((entry) => entry.role === 'assistant');
      if (last) {
        last.previews.push(data.url);
        schedule(last);
      }
      break;
    }
    case 'done': {
      setBusy(false);
      if (data.result) {
        const entry = message(data.result.messageId, 'assistant');
        entry.status = data.result.status;
        entry.error = data.result.error;
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
    case 'reset': {
      conversation.splice(0);
      log.innerHTML = '';
      footer.textContent = '';
      setBusy(false);
      for (const past of data.messages ?? []) {
        const entry = message(past.messageId, past.role);
        entry.text = past.text;
        entry.actions = past.actions ?? [];
        entry.status = past.status;
        schedule(entry);
      }
      break;
    }
  }
});

setBusy(false);
vscode.postMessage({ type: 'ready' });
// For tests and styles: the composer works from here on.
document.body.dataset.ready = 'true';
input.focus();
