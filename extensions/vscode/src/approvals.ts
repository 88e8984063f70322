// Approvals on the chat's cards. The server asks with the standard `window/showMessageRequest`, each item
// naming the action asking (`sessionId`, `messageId`, `actionId`); the panel shows Run / Always for this
// session / Skip on that action's card, and a notification asks too while the panel is hidden. Whichever
// is answered first answers the server; the other stops asking.
import * as vscode from 'vscode';
import type { ToWebview } from './chat/messages';
import { type LanguageClient, type MessageActionItem, MessageType, ShowMessageRequest } from 'vscode-languageclient/node';

/** The action an item names (the server's extra properties). */
interface Asking {
  messageId?: string;
  actionId?: number;
  command?: string;
}

/** What the panel needs: to ask on a card, to be told a question was answered, whether anyone sees it. */
export interface Panel {
  post(message: ToWebview): void;
  readonly visible: boolean;
  onDidChangeVisibility(listener: (visible: boolean) => void): vscode.Disposable;
}

interface Open {
  settle(choice: string | undefined): void;
  /** Asks in a notification (once). */
  notify(): void;
}

export class Approvals {
  private next = 0;
  private readonly open = new Map<string, Open>();
  readonly disposable: vscode.Disposable;

  constructor(private readonly panel: Panel) {
    // The panel went away with questions open: ask where the user looks.
    this.disposable = panel.onDidChangeVisibility((visible) => {
      if (!visible) for (const question of this.open.values()) question.notify();
    });
  }

  /** Takes over the client's `window/showMessageRequest`. */
  register(client: LanguageClient): void {
    client.onRequest(ShowMessageRequest.type, (params, token) => this.ask(params.type, params.message, params.actions ?? [], token));
  }

  /** The panel was emptied or shows another session: its cards are gone, so the open questions are
   * asked in notifications (a turn must never wait on a card nobody can see). */
  panelReset(): void {
    for (const question of this.open.values()) question.notify();
  }

  /** The panel's answer to question `key`. */
  answer(key: string, choice: string | undefined): void {
    this.open.get(key)?.settle(choice);
  }

  private ask(type: MessageType, message: string, items: MessageActionItem[], token: vscode.CancellationToken): Promise<MessageActionItem | null> {
    const asking = items[0] as Asking | undefined;
    if (asking?.messageId === undefined || asking.actionId === undefined) {
      // Not about an action: VS Code's own way.
      return Promise.resolve(notify(type, message, items)).then((item) => item ?? null);
    }
    const { messageId, actionId } = asking;
    const key = `q${this.next++}`;
    return new Promise((resolve) => {
      const settle = (choice: string | undefined) => {
        if (!this.open.delete(key)) return;
        this.panel.post({ type: 'answered', key });
        resolve(items.find((item) => item.title === choice) ?? null);
      };
      let notified = false;
      const ask = () => {
        if (notified) return;
        notified = true;
        // Dismissing the notification leaves the card asking.
        void Promise.resolve(notify(type, message, items)).then((item) => {
          if (item) settle(item.title);
        });
      };
      this.open.set(key, { settle, notify: ask });
      // The server stopped asking (the turn was stopped): so does the card.
      token.onCancellationRequested(() => settle(undefined));
      this.panel.post({
        type: 'ask',
        key,
        messageId,
        actionId,
        command: asking.command,
        choices: items.map((item) => item.title),
      });
      if (!this.panel.visible) ask();
    });
  }
}

function notify(type: MessageType, message: string, items: MessageActionItem[]): Thenable<MessageActionItem | undefined> {
  if (type === MessageType.Error) return vscode.window.showErrorMessage(message, ...items);
  if (type === MessageType.Warning) return vscode.window.showWarningMessage(message, ...items);
  return vscode.window.showInformationMessage(message, ...items);
}
