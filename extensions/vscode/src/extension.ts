// OpenBolt for VS Code: a thin client of `openbolt lsp` — the chat panel, terminals, previews, commands.
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { ChatView, type FromWebview, type ToWebview } from './chat/view';

type ToWebviewReset = Extract<ToWebview, { type: 'reset' }>;
import { createClient, handleApplyEdit } from './client';
import { previewTarget } from './config';
import { chooseServer } from './server';
import * as ext from './lsp_ext';
import { Terminals } from './terminal';
import { rankMentions } from '../webview/mentions';
import { DiagnosticsReporter } from './diagnostics';
import { Approvals } from './approvals';
import { followFiles } from './config';
import { isScreenshotPath, shown, withThumbnails } from './screenshots';

let client: LanguageClient | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel('OpenBolt Server');
  const terminals = new Terminals(() => client);
  const reporter = new DiagnosticsReporter(() => vscode.workspace.workspaceFolders?.[0]?.uri.fsPath);
  const status = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 100);
  status.text = '$(loading~spin) OpenBolt';
  status.tooltip = 'OpenBolt is replying — click to stop';
  status.command = 'openbolt.stop';
  let sessionId: string | undefined;
  /** The running turn: its session (chosen here for a new chat, so Stop can name it at once). */
  let running: { sessionId: string; cancel: vscode.CancellationTokenSource } | undefined;
  let starting: Promise<LanguageClient | undefined> | undefined;
  /** Why the server did not start, when it did not. */
  let startError: string | undefined;

  const chatView = new ChatView(context.extensionUri, (message) => void onWebview(message));
  const approvals = new Approvals(chatView);
  context.subscriptions.push(approvals.disposable);
  /** Files opened for `openbolt.followFiles` since the user's last prompt. */
  let followed = 0;
  context.subscriptions.push(
    output,
    terminals,
    status,
    vscode.window.registerWebviewViewProvider(ChatView.id, chatView, {
      webviewOptions: { retainContextWhenHidden: true },
    }),
  );

  async function start(): Promise<LanguageClient | undefined> {
    const setting = vscode.workspace.getConfiguration('openbolt').get<string>('server.path', '');
    const choice = await chooseServer(setting, context.asAbsolutePath('server'), String(context.extension.packageJSON.version));
    if (!choice.start) {
      output.appendLine(`error: ${choice.message}`);
      // Once per cause (each prompt tries again; the panel says why): not awaited, so the panel and the
      // commands go on while the message waits for the user.
      if (choice.message !== startError) {
        void vscode.window.showErrorMessage(choice.message, ...(choice.openSettings ? ['Open Settings'] : [])).then((picked) => {
          if (picked) void vscode.commands.executeCommand('workbench.action.openSettings', 'openbolt.server.path');
        });
      }
      startError = choice.message;
      return undefined;
    }
    startError = undefined;
    for (const line of choice.log) output.appendLine(line);
    const server = choice.path;
    const created = createClient(server, output);
    created.onNotification(ext.turnStart, (start) => {
      reporter.turnStarted(start.messageId);
      if (start.fixRound && start.sessionId === sessionId) {
        chatView.post({ type: 'fixRound', messageId: start.messageId, text: ext.fixRoundText(start.fixRound) });
      }
    });
    created.onNotification(ext.actionsDone, async (done) => {
      const files = await reporter.collect(done.messageId, done.files);
      await created.sendNotification(ext.diagnostics, { sessionId: done.sessionId, messageId: done.messageId, files });
    });
    created.onNotification(ext.chatDelta, (delta) => chatView.post({ type: 'delta', ...delta }));
    created.onNotification(ext.actionUpdate, (update) => {
      if (update.terminalId !== undefined && update.command) {
        terminals.name(update.terminalId, update.command);
      }
      chatView.post({ type: 'action', update });
      if (update.sessionId === sessionId) void follow(update);
    });
    created.onNotification(ext.notice, (notice) => chatView.post({ type: 'notice', ...notice }));
    created.onNotification(ext.checking, (check) => chatView.post({ type: 'checking', ...check }));
    created.onNotification(ext.pageCheck, async (check) => {
      output.appendLine(ext.pageCheckText(check));
      chatView.post({ type: 'pageCheck', ...(await shown(check)) });
    });
    created.onNotification(ext.terminalOutput, (event) => terminals.output(event.terminalId, event.data));
    created.onNotification(ext.terminalExit, (event) => terminals.exit(event.terminalId, event.exitCode, event.signal));
    created.onNotification(ext.preview, (event) => {
      chatView.post({ type: 'preview', url: event.url });
      void openPreview(event.url);
    });
    created.onNotification(ext.serverError, (event) => output.appendLine(`error: ${event.message}`));
    handleApplyEdit(created);
    approvals.register(created);
    try {
      await created.start();
    } catch (error) {
      void vscode.window.showErrorMessage(`OpenBolt: the server did not start: ${String(error)}`);
      return undefined;
    }
    return created;
  }

  /** The client, started once: callers that arrive while it starts wait for the same start. */
  async function ensureClient(): Promise<LanguageClient | undefined> {
    if (client) return client;
    starting ??= start().then((started) => {
      client = started;
      starting = undefined;
      return started;
    });
    return starting;
  }

  async function openPreview(url: string): Promise<void> {
    const target = previewTarget(vscode.workspace.getConfiguration('openbolt'));
    if (target === 'external') {
      await vscode.env.openExternal(vscode.Uri.parse(url));
    } else if (target === 'simpleBrowser') {
      await vscode.commands.executeCommand('simpleBrowser.show', url);
    }
  }

  /** `openbolt.followFiles`: shows a file the AI wrote or edited as it completes, focus left where it is. */
  async function follow(update: ext.ActionUpdate): Promise<void> {
    const mode = followFiles(vscode.workspace.getConfiguration('openbolt'));
    const root = vscode.workspace.workspaceFolders?.[0]?.uri;
    if (
      mode === 'none' ||
      !root ||
      update.status !== 'complete' ||
      (update.type !== 'file' && update.type !== 'edit') ||
      !update.filePath ||
      (mode === 'first' && followed > 0)
    ) {
      return;
    }
    followed += 1;
    const document = await vscode.workspace.openTextDocument(vscode.Uri.joinPath(root, update.filePath));
    await vscode.window.showTextDocument(document, { preview: true, preserveFocus: true, viewColumn: vscode.ViewColumn.One });
  }

  async function send(prompt: string): Promise<void> {
    const connected = await ensureClient();
    if (!connected) {
      const why = startError?.replace(/^OpenBolt: /, '');
      chatView.post({ type: 'done', error: why ? `the server is not running: ${why}` : 'the server is not running' });
      return;
    }
    chatView.post({ type: 'user', text: prompt });
    followed = 0;
    sessionId ??= newSessionId();
    const turn = { sessionId, cancel: new vscode.CancellationTokenSource() };
    running = turn;
    status.show();
    const editor = vscode.window.activeTextEditor;
    const context = editor && editor.document.uri.scheme === 'file'
      ? {
          uri: editor.document.uri.toString(),
          range: editor.selection.isEmpty ? undefined : connected.code2ProtocolConverter.asRange(editor.selection),
        }
      : undefined;
    try {
      const result = await connected.sendRequest(ext.chat, { prompt, sessionId, context }, turn.cancel.token);
      chatView.post({ type: 'done', result });
    } catch (error) {
      chatView.post({ type: 'done', error: error instanceof Error ? error.message : String(error) });
    } finally {
      turn.cancel.dispose();
      if (running === turn) {
        running = undefined;
        status.hide();
      }
    }
  }

  /** Stops this chat's turn only. A turn the server has not begun yet is stopped by cancelling its request. */
  async function stop(): Promise<void> {
    const turn = running;
    if (!client || !turn) {
      return;
    }
    const stopped = await client.sendRequest(ext.abort, { sessionId: turn.sessionId }).catch(() => false);
    if (!stopped) {
      turn.cancel.cancel();
    }
  }

  async function pickSession(): Promise<void> {
    const connected = await ensureClient();
    if (!connected) return;
    const list = await connected.sendRequest(ext.sessions);
    if (list.length === 0) {
      void vscode.window.showInformationMessage('OpenBolt: no sessions in this workspace yet.');
      return;
    }
    const chosen = await vscode.window.showQuickPick(
      list.map((session) => ({ label: session.title || session.sessionId, description: `${session.messageCount} messages`, session })),
      { placeHolder: 'Open an OpenBolt session' },
    );
    if (!chosen) return;
    const transcript = await connected.sendRequest(ext.loadSession, { sessionId: chosen.session.sessionId });
    show(transcript.sessionId, await withThumbnails(transcript.messages));
  }

  /** Shows a session in the panel (none: a new chat); questions asked on the old cards move to
   * notifications. */
  function show(session: string | undefined, messages: ToWebviewReset['messages']): void {
    sessionId = session;
    chatView.post({ type: 'reset', messages });
    approvals.panelReset();
  }

  // The workspace's files for `@` completion, listed at most every few seconds.
  let listed: { at: number; files: string[] } | undefined;
  async function workspaceFiles(): Promise<string[]> {
    if (listed && Date.now() - listed.at < 5_000) return listed.files;
    const found = await vscode.workspace.findFiles('**/*', '{**/node_modules/**,**/.git/**,**/target/**,**/dist/**,**/.venv/**}', 20_000);
    const files = found.map((uri) => vscode.workspace.asRelativePath(uri, false)).sort();
    listed = { at: Date.now(), files };
    return files;
  }

  // Before/after texts of a turn's change, served to VS Code's diff view.
  const diffTexts = new Map<string, string>();
  context.subscriptions.push(
    vscode.workspace.registerTextDocumentContentProvider('openbolt-diff', {
      provideTextDocumentContent: (uri) => diffTexts.get(uri.toString()) ?? '',
    }),
  );
  async function openDiff(messageId: string, filePath: string): Promise<void> {
    const connected = await ensureClient();
    if (!connected) return;
    const diff = await connected.sendRequest(ext.fileDiff, { messageId, filePath });
    const side = (which: 'before' | 'after') =>
      vscode.Uri.from({ scheme: 'openbolt-diff', path: `/${which}/${filePath}`, query: messageId });
    const before = side('before');
    const after = side('after');
    diffTexts.set(before.toString(), diff.before ?? '');
    diffTexts.set(after.toString(), diff.after ?? '');
    await vscode.commands.executeCommand('vscode.diff', before, after, `${filePath} (OpenBolt's change)`);
  }

  async function onWebview(message: FromWebview): Promise<void> {
    switch (message.type) {
      case 'send':
        await send(message.prompt);
        break;
      case 'stop':
        await stop();
        break;
      case 'newChat':
        show(undefined, []);
        break;
      case 'pickSession':
        await pickSession();
        break;
      case 'openFile': {
        const root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
        if (root) {
          const document = await vscode.workspace.openTextDocument(path.join(root, message.path));
          // A search's match opens at its line (1-based on the wire).
          const at = message.line !== undefined ? new vscode.Position(Math.max(0, message.line - 1), 0) : undefined;
          await vscode.window.showTextDocument(document, {
            preview: false,
            selection: at ? new vscode.Range(at, at) : undefined,
          });
        }
        break;
      }
      case 'openDiff':
        await openDiff(message.messageId, message.path);
        break;
      case 'showTerminal':
        terminals.show(message.terminalId);
        break;
      case 'openPreview':
        await openPreview(message.url);
        break;
      case 'openScreenshot':
        // Full size, in VS Code's image viewer.
        if (isScreenshotPath(message.path)) await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(message.path));
        break;
      case 'complete':
        chatView.post({ type: 'completions', prefix: message.prefix, items: rankMentions(await workspaceFiles(), message.prefix) });
        break;
      case 'answer':
        approvals.answer(message.key, message.choice);
        break;
      case 'ready':
        break;
    }
  }

  context.subscriptions.push(
    vscode.commands.registerCommand('openbolt.focusChat', async () => {
      await chatView.reveal();
      chatView.post({ type: 'focusPrompt' });
    }),
    vscode.commands.registerCommand('openbolt.newChat', async () => {
      show(undefined, []);
      await chatView.reveal();
    }),
    vscode.commands.registerCommand('openbolt.stop', stop),
    vscode.commands.registerCommand('openbolt.pickSession', pickSession),
    vscode.commands.registerCommand('openbolt.revertLastTurn', async () => {
      const connected = await ensureClient();
      if (!connected || !sessionId) {
        void vscode.window.showInformationMessage('OpenBolt: nothing to revert in this chat.');
        return;
      }
      try {
        const request = connected.sendRequest(ext.revert, { sessionId });
        // A turn being checked is waited for (one still replying is refused): say so meanwhile.
        const result =
          running?.sessionId === sessionId
            ? await vscode.window.withProgress(
                { location: vscode.ProgressLocation.Notification, title: 'OpenBolt: the revert waits for the running turn to end…' },
                () => request,
              )
            : await request;
        const conflicts = result.files.filter((file) => file.status === 'conflict');
        const summary = `OpenBolt: reverted ${result.reverted.length} turn(s), ${result.files.length - conflicts.length} file(s)`;
        void vscode.window.showInformationMessage(
          conflicts.length === 0
            ? summary
            : `${summary}; left alone: ${conflicts.map((file) => `${file.path} (${file.reason ?? 'changed'})`).join(', ')}`,
        );
      } catch (error) {
        void vscode.window.showWarningMessage(`OpenBolt: ${error instanceof Error ? error.message : String(error)}`);
      }
    }),
    vscode.commands.registerCommand('openbolt.showServerLog', () => output.show(true)),
    vscode.commands.registerCommand('openbolt.mcpServers', async () => {
      const connected = await ensureClient();
      if (!connected) return;
      const servers = await connected.sendRequest(ext.mcpServers);
      if (servers.length === 0) {
        void vscode.window.showInformationMessage(
          'OpenBolt: no MCP servers are configured (.openbolt/mcp.json, ~/.config/openbolt/mcp.json or the openbolt.mcpServers setting).',
        );
        return;
      }
      await vscode.window.showQuickPick(
        servers.map((server) => ({
          label: `${server.state === 'ready' ? '$(check)' : server.state === 'failed' ? '$(error)' : '$(circle-outline)'} ${server.name}`,
          description: mcpStateText(server),
          detail: server.error ?? (server.tools.length > 0 ? server.tools.join(', ') : `${server.transport}, from ${server.source}`),
        })),
        { placeHolder: 'MCP servers of this workspace', matchOnDescription: true, matchOnDetail: true },
      );
    }),
    vscode.commands.registerCommand('openbolt.restartServer', async () => {
      const previous = client ?? (await starting);
      client = undefined;
      // Asked for: say again why it cannot start.
      startError = undefined;
      await previous?.stop().catch(() => undefined);
      const restarted = await ensureClient();
      if (restarted) {
        void vscode.window.showInformationMessage('OpenBolt: the server was restarted.');
      }
    }),
    vscode.commands.registerCommand('openbolt.sendPrompt', (prompt: string) => send(prompt)),
  );

  await ensureClient();
}

/** A server's state in words. */
function mcpStateText(server: ext.McpServerStatus): string {
  if (server.state === 'ready') return `ready, ${server.tools.length} tool${server.tools.length === 1 ? '' : 's'}`;
  if (server.state === 'failed') return 'failed to start';
  return 'not started (starts with the next turn)';
}

/** A new chat's session id, chosen by the client. */
function newSessionId(): string {
  return `vscode-${randomUUID()}`;
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}
