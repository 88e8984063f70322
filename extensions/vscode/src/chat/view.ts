// The chat side panel: a webview view that shows the conversation and forwards what the user does.
import * as vscode from 'vscode';
import { PAGE_BODY } from '../../webview/page';
import type { FromWebview, ToWebview } from './messages';

export type { FromWebview, ToWebview } from './messages';

export class ChatView implements vscode.WebviewViewProvider {
  public static readonly id = 'openbolt.chat';
  private view: vscode.WebviewView | undefined;
  /** Posted before the view existed or while it was hidden; replayed when it is ready. */
  private queue: ToWebview[] = [];
  private ready = false;
  private readonly visibility = new vscode.EventEmitter<boolean>();
  /** Fires when the panel comes on screen or goes off it. */
  readonly onDidChangeVisibility = this.visibility.event;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly onMessage: (message: FromWebview) => void,
  ) {}

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    this.ready = false;
    const dist = vscode.Uri.joinPath(this.extensionUri, 'dist');
    view.webview.options = { enableScripts: true, localResourceRoots: [dist] };
    const nonce = [...Array(32)].map(() => Math.floor(Math.random() * 36).toString(36)).join('');
    const script = view.webview.asWebviewUri(vscode.Uri.joinPath(dist, 'webview.js'));
    const style = view.webview.asWebviewUri(vscode.Uri.joinPath(dist, 'chat.css'));
    const csp = [
      "default-src 'none'",
      `style-src ${view.webview.cspSource}`,
      `script-src 'nonce-${nonce}'`,
      `img-src ${view.webview.cspSource} data:`,
      `font-src ${view.webview.cspSource}`,
    ].join('; ');
    view.webview.html = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style}">
<title>OpenBolt</title>
</head>
<body>
${PAGE_BODY}
<script nonce="${nonce}" src="${script}"></script>
</body>
</html>`;
    view.webview.onDidReceiveMessage((message: FromWebview) => {
      if (message.type === 'ready') {
        this.ready = true;
        for (const queued of this.queue.splice(0)) {
          void view.webview.postMessage(queued);
        }
      }
      this.onMessage(message);
    });
    view.onDidChangeVisibility(() => this.visibility.fire(view.visible));
    view.onDidDispose(() => {
      this.view = undefined;
      this.ready = false;
      this.visibility.fire(false);
    });
  }

  post(message: ToWebview): void {
    if (this.view && this.ready) {
      void this.view.webview.postMessage(message);
    } else {
      this.queue.push(message);
    }
  }

  /** Whether the panel is on screen. */
  get visible(): boolean {
    return this.view?.visible ?? false;
  }

  async reveal(): Promise<void> {
    await vscode.commands.executeCommand('openbolt.chat.focus');
  }
}
