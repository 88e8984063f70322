// The server's `openbolt/…` methods (docs/protocol.md), typed once for the extension.
import { NotificationType, RequestType, RequestType0 } from 'vscode-languageclient/node';

export type ActionStatus = 'pending' | 'approval' | 'running' | 'complete' | 'failed' | 'aborted' | 'skipped';
export type TurnStatus = 'complete' | 'aborted' | 'failed';

export interface ActionUpdate {
  sessionId: string;
  messageId: string;
  artifactId: string;
  actionId: number;
  type: 'file' | 'shell' | 'start' | 'read' | 'edit' | 'tool' | 'search' | string;
  filePath?: string;
  command?: string;
  status: ActionStatus;
  exitCode?: number;
  error?: string;
  terminalId?: number;
  /** A short result: `412 lines` for a read, `7 matches in 3 files` for a search. */
  summary?: string;
  /** What a search found, as the model was shown it: matching lines (1-based), or listed files. */
  found?: Hit[];
  /** Where the action sits in its reply's prose (the prose's length when it opened). */
  proseOffset?: { utf8: number; utf16: number };
}

export interface Hit {
  path: string;
  line?: number;
  text?: string;
}

export interface Usage {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
}

export interface ChatParams {
  prompt: string;
  sessionId?: string;
  context?: { uri?: string; range?: unknown };
}

export interface ChatResult {
  sessionId: string;
  messageId: string;
  status: TurnStatus;
  error?: string;
  usage?: Usage;
}

export interface ChatDelta {
  sessionId: string;
  messageId: string;
  text: string;
}

export interface Notice {
  sessionId: string;
  messageId: string;
  text: string;
}

/** `openbolt/checking`: the reply is over; the turn waits for a check before it ends or a fix round begins. */
export interface Checking {
  sessionId: string;
  messageId: string;
  check: 'devServer' | 'diagnostics' | 'page';
  text: string;
}

/** One thing a previewed page did wrong in the browser (repeats counted). */
export interface PageProblem {
  kind: 'exception' | 'rejection' | 'console' | 'request' | 'blank';
  message: string;
  frames?: string[];
  count: number;
}

/** `openbolt/pageCheck`: what the page check found when it loaded a preview the turn left running. */
export interface PageCheck {
  sessionId: string;
  messageId: string;
  url: string;
  terminalId?: number;
  problems: PageProblem[];
  /** The page loaded and went quiet within the check's bound. */
  settled: boolean;
  millis: number;
  /** The page could not be checked (the browser did not start). */
  error?: string;
  /** The settled page as it looked (`openbolt.previewScreenshots`). */
  screenshot?: Screenshot;
}

/** A picture of a checked page, kept as a file in OpenBolt's data directory. */
export interface Screenshot {
  /** The image file (absolute). */
  path: string;
  mediaType: string;
  width: number;
  height: number;
  bytes: number;
  millis: number;
}

/** A page check as a loaded session keeps it (its session and message are the message's). */
export type PageVerdict = Omit<PageCheck, 'sessionId' | 'messageId'>;

export interface TerminalOutput {
  terminalId: number;
  data: string;
}

export interface TerminalExit {
  terminalId: number;
  exitCode: number;
  signal?: string;
}

export interface Preview {
  url: string;
  port: number;
  terminalId?: number;
}

export interface SessionSummary {
  sessionId: string;
  title: string;
  messageCount: number;
  busy: boolean;
}

export interface TranscriptMessage {
  messageId: string;
  role: 'user' | 'assistant';
  text: string;
  actions: ActionUpdate[];
  status?: TurnStatus;
  reverted: boolean;
  /** The page checks of the previews the reply left running. */
  pages?: PageVerdict[];
}

export interface RevertResult {
  reverted: string[];
  files: { path: string; status: 'restored' | 'deleted' | 'conflict'; reason?: string }[];
}

export interface TurnStart {
  sessionId: string;
  messageId: string;
  /** Set for an automatic fix round. */
  fixRound?: { round: number; rounds: number; problems: number };
}

/** What the chat shows for an automatic fix round. */
export function fixRoundText(fix: { round: number; rounds: number; problems: number }): string {
  return `fix round ${fix.round} of ${fix.rounds}: ${fix.problems} problem${fix.problems === 1 ? '' : 's'} sent back to the model`;
}

/** A page check's verdict in one line (the server log). */
export function pageCheckText(check: Pick<PageCheck, 'url' | 'problems' | 'error' | 'millis' | 'screenshot'>): string {
  if (check.error) return `page check of ${check.url} failed: ${check.error}`;
  const found = check.problems.map((problem) => `${problem.kind}: ${problem.message.split('\n')[0]}`);
  const shot = check.screenshot ? `; screenshot: ${check.screenshot.path}` : '';
  return `page check of ${check.url} (${check.millis} ms): ${found.length === 0 ? 'no problems' : found.join('; ')}${shot}`;
}

export interface FileDiff {
  filePath: string;
  existed: boolean;
  before: string | null;
  after: string | null;
}

export interface McpServerStatus {
  name: string;
  transport: 'stdio' | 'http';
  state: 'idle' | 'ready' | 'failed';
  tools: string[];
  error?: string;
  source: string;
}

export const chat = new RequestType<ChatParams, ChatResult, void>('openbolt/chat');
export const mcpServers = new RequestType0<McpServerStatus[], void>('openbolt/mcpServers');
export const fileDiff = new RequestType<{ messageId: string; filePath: string }, FileDiff, void>('openbolt/fileDiff');
export const abort = new RequestType<{ sessionId: string }, boolean, void>('openbolt/abort');
export const sessions = new RequestType0<SessionSummary[], void>('openbolt/sessions');
export const loadSession = new RequestType<
  { sessionId: string },
  { sessionId: string; messages: TranscriptMessage[] },
  void
>('openbolt/loadSession');
export const revert = new RequestType<{ sessionId: string; messageId?: string }, RevertResult, void>(
  'openbolt/revert',
);
export const terminalInput = new RequestType<{ terminalId: number; data: string }, null, void>(
  'openbolt/terminalInput',
);
export const terminalResize = new RequestType<
  { terminalId: number; cols: number; rows: number },
  null,
  void
>('openbolt/terminalResize');
export const terminalKill = new RequestType<{ terminalId: number }, null, void>('openbolt/terminalKill');

export const turnStart = new NotificationType<TurnStart>('openbolt/turnStart');
export const actionsDone = new NotificationType<{ sessionId: string; messageId: string; files: string[] }>(
  'openbolt/actionsDone',
);
export const diagnostics = new NotificationType<{
  sessionId: string;
  messageId: string;
  files: { filePath: string; diagnostics: { line: number; message: string; source?: string }[] }[];
}>('openbolt/diagnostics');
export const chatDelta = new NotificationType<ChatDelta>('openbolt/chatDelta');
export const actionUpdate = new NotificationType<ActionUpdate>('openbolt/actionUpdate');
export const notice = new NotificationType<Notice>('openbolt/notice');
export const checking = new NotificationType<Checking>('openbolt/checking');
export const pageCheck = new NotificationType<PageCheck>('openbolt/pageCheck');
export const terminalOutput = new NotificationType<TerminalOutput>('openbolt/terminalOutput');
export const terminalExit = new NotificationType<TerminalExit>('openbolt/terminalExit');
export const preview = new NotificationType<Preview>('openbolt/preview');
export const serverError = new NotificationType<{ sessionId?: string; message: string }>('openbolt/error');
