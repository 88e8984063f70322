// What the chat panel's webview and the extension say to each other, typed once for both sides
// (`chat/view.ts` posts and receives in the extension, `webview/main.ts` in the page). Types only: the
// page's bundle takes nothing else from the extension.
import type { ActionUpdate, ChatDelta, ChatResult, Checking, Notice, PageCheck, PageVerdict, TranscriptMessage } from '../lsp_ext';

/** A page check as the panel shows it: its screenshot (if any) as a `data:` URL to draw. */
export type ShownVerdict = PageVerdict & { thumbnail?: string };

/** From the extension to the page. */
export type ToWebview =
  | { type: 'user'; text: string }
  | { type: 'fixRound'; messageId: string; text: string }
  | ({ type: 'delta' } & ChatDelta)
  | { type: 'action'; update: ActionUpdate }
  | { type: 'ask'; key: string; messageId: string; actionId: number; command?: string; choices: string[] }
  | { type: 'answered'; key: string }
  | ({ type: 'notice' } & Notice)
  | ({ type: 'checking' } & Checking)
  | { type: 'preview'; url: string }
  | ({ type: 'pageCheck'; thumbnail?: string } & PageCheck)
  | { type: 'done'; result?: ChatResult; error?: string }
  | { type: 'completions'; prefix: string; items: string[] }
  | { type: 'focusPrompt' }
  | { type: 'reset'; messages: (Omit<TranscriptMessage, 'pages'> & { pages?: ShownVerdict[] })[] };

/** From the page to the extension. */
export type FromWebview =
  | { type: 'ready' }
  | { type: 'send'; prompt: string }
  | { type: 'stop' }
  | { type: 'newChat' }
  | { type: 'pickSession' }
  | { type: 'openFile'; path: string; line?: number }
  | { type: 'openDiff'; messageId: string; path: string }
  | { type: 'showTerminal'; terminalId: number }
  | { type: 'openPreview'; url: string }
  | { type: 'openScreenshot'; path: string }
  | { type: 'complete'; prefix: string }
  | { type: 'answer'; key: string; choice: string | undefined };
