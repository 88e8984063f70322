// One VS Code terminal per server terminal, through a Pseudoterminal: output streams in with its colours,
// typing goes back to the process, the size is passed on, closing the terminal stops the process.
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { keepBacklog } from './backlog';
import * as ext from './lsp_ext';

interface ServerTerminal {
  terminal: vscode.Terminal | undefined;
  write: vscode.EventEmitter<string>;
  close: vscode.EventEmitter<number | void>;
  rename: vscode.EventEmitter<string>;
  /** Its command's first line, once an action update has named it. */
  name: string;
  /** The name the VS Code terminal has (output may create it before its action's update names it). */
  shownName?: string;
  /** Output kept until the terminal is opened (VS Code drops what is written before `open`), at most
   * BACKLOG_LIMIT characters: the newest. */
  backlog: string[];
  backlogSize: number;
  opened: boolean;
  running: boolean;
  /** The user closed it: what still comes for it (the end of its process) is not shown. */
  closed: boolean;
}

export class Terminals implements vscode.Disposable {
  private readonly terminals = new Map<number, ServerTerminal>();

  constructor(private readonly client: () => LanguageClient | undefined) {}

  /** Names the terminal after its command (first line, shortened). */
  name(id: number, command: string): void {
    const entry = this.entry(id);
    const first = command.split('\n')[0].trim();
    // The command alone (tab lists are narrow); the bolt icon says whose terminal it is.
    entry.name = first.length > 40 ? `${first.slice(0, 39)}…` : first;
    // VS Code renames a terminal only once it is open; `open` renames one that is not yet.
    if (entry.opened) this.showName(entry);
  }

  private showName(entry: ServerTerminal): void {
    if (entry.shownName !== entry.name) {
      entry.shownName = entry.name;
      entry.rename.fire(entry.name);
    }
  }

  output(id: number, data: string): void {
    const entry = this.entry(id);
    if (entry.closed) return;
    if (!entry.terminal) {
      this.create(id, entry, false);
    }
    if (entry.opened) {
      entry.write.fire(data);
    } else {
      entry.backlogSize = keepBacklog(entry.backlog, entry.backlogSize, data);
    }
  }

  exit(id: number, exitCode: number, signal?: string): void {
    const entry = this.entry(id);
    entry.running = false;
    if (entry.closed) {
      // The user closed it while it ran; its end is all that was still to come.
      this.terminals.delete(id);
      return;
    }
    const how = signal ? `ended by ${signal}` : `exited with code ${exitCode}`;
    this.output(id, `\r\n\x1b[2m[${how}]\x1b[0m\r\n`);
  }

  /** Shows a terminal (creating it if its output has not arrived yet). */
  show(id: number): void {
    const entry = this.entry(id);
    if (!entry.terminal) {
      this.create(id, entry, true);
    }
    entry.terminal?.show(true);
  }

  has(id: number): boolean {
    return this.terminals.has(id);
  }

  private entry(id: number): ServerTerminal {
    let entry = this.terminals.get(id);
    if (!entry) {
      entry = {
        terminal: undefined,
        write: new vscode.EventEmitter<string>(),
        close: new vscode.EventEmitter<number | void>(),
        rename: new vscode.EventEmitter<string>(),
        name: `OpenBolt: terminal ${id}`,
        backlog: [],
        backlogSize: 0,
        opened: false,
        running: true,
        closed: false,
      };
      this.terminals.set(id, entry);
    }
    return entry;
  }

  private create(id: number, entry: ServerTerminal, focus: boolean): void {
    const request = <P, R>(type: import('vscode-languageclient/node').RequestType<P, R, void>, params: P) => {
      this.client()?.sendRequest(type, params).catch(() => undefined);
    };
    const pty: vscode.Pseudoterminal = {
      onDidWrite: entry.write.event,
      onDidClose: entry.close.event,
      onDidChangeName: entry.rename.event,
      open: (dimensions) => {
        entry.opened = true;
        this.showName(entry);
        for (const data of entry.backlog.splice(0)) {
          entry.write.fire(data);
        }
        if (dimensions) {
          request(ext.terminalResize, { terminalId: id, cols: dimensions.columns, rows: dimensions.rows });
        }
      },
      close: () => {
        if (entry.running) {
          // Its end is still to come: keep the entry (closed) so that it does not open a new terminal.
          entry.closed = true;
          request(ext.terminalKill, { terminalId: id });
        } else {
          this.terminals.delete(id);
        }
      },
      handleInput: (data) => {
        if (entry.running) {
          request(ext.terminalInput, { terminalId: id, data });
        }
      },
      setDimensions: (dimensions) => {
        request(ext.terminalResize, { terminalId: id, cols: dimensions.columns, rows: dimensions.rows });
      },
    };
    entry.shownName = entry.name;
    entry.terminal = vscode.window.createTerminal({
      name: entry.name,
      pty,
      isTransient: true,
      iconPath: new vscode.ThemeIcon('zap'),
    });
    if (focus) {
      entry.terminal.show(true);
    }
  }

  dispose(): void {
    for (const entry of this.terminals.values()) {
      entry.terminal?.dispose();
    }
    this.terminals.clear();
  }
}
