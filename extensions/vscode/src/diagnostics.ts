// The editor's own errors for the server's fix rounds: at each turn's start, the errors VS Code shows
// are noted; when the turn's actions are done (`openbolt/actionsDone`), once VS Code's diagnostics have
// settled, the errors in the turn's files that were not there before are sent (`openbolt/diagnostics`).
// OpenBolt's own diagnostics are left out (the server knows them), and so is a file with unsaved
// changes: the user is typing in it, and a half-typed line is not the AI's mistake.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { type ReportedFile, newErrors } from './newErrors';

export type { ReportedFile };

/** Diagnostics are settled when nothing changed for this long… */
const QUIET_MS = 700;
/** …or, at the most, after this long. */
const MAX_WAIT_MS = 4_000;

function key(diagnostic: vscode.Diagnostic): string {
  return `${diagnostic.range.start.line}:${diagnostic.message}`;
}

function errors(uri: vscode.Uri): vscode.Diagnostic[] {
  return vscode.languages
    .getDiagnostics(uri)
    .filter((diagnostic) => diagnostic.severity === vscode.DiagnosticSeverity.Error && diagnostic.source !== 'openbolt');
}

export class DiagnosticsReporter {
  /** Errors present when each turn began, by message id then file. */
  private readonly before = new Map<string, Map<string, Set<string>>>();
  private lastChange = Date.now();

  constructor(private readonly root: () => string | undefined) {
    vscode.languages.onDidChangeDiagnostics(() => {
      this.lastChange = Date.now();
    });
  }

  private uri(filePath: string): vscode.Uri | undefined {
    const root = this.root();
    return root ? vscode.Uri.file(path.join(root, filePath)) : undefined;
  }

  /** A turn began: note what is wrong already. */
  turnStarted(messageId: string): void {
    const snapshot = new Map<string, Set<string>>();
    const root = this.root();
    for (const [uri, diagnostics] of vscode.languages.getDiagnostics()) {
      if (!root || uri.scheme !== 'file') continue;
      const relative = path.relative(root, uri.fsPath).split(path.sep).join('/');
      snapshot.set(relative, new Set(diagnostics.filter((diagnostic) => diagnostic.severity === vscode.DiagnosticSeverity.Error).map(key)));
    }
    this.before.set(messageId, snapshot);
    // Only the recent turns matter.
    for (const old of [...this.before.keys()].slice(0, -8)) this.before.delete(old);
  }

  /** The turn's actions are done: the new errors of `files`, once diagnostics settle. */
  async collect(messageId: string, files: string[]): Promise<ReportedFile[]> {
    const started = Date.now();
    // Language tools need a moment after a file changes: wait until they are quiet.
    this.lastChange = Math.max(this.lastChange, started);
    while (Date.now() - this.lastChange < QUIET_MS && Date.now() - started < MAX_WAIT_MS) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const before = this.before.get(messageId) ?? new Map<string, Set<string>>();
    return newErrors(
      files,
      (filePath) => {
        const uri = this.uri(filePath);
        return uri
          ? errors(uri).map((diagnostic) => ({
              line: diagnostic.range.start.line,
              message: diagnostic.message,
              source: diagnostic.source,
              key: key(diagnostic),
            }))
          : [];
      },
      before,
      (filePath) => {
        const uri = this.uri(filePath);
        return vscode.workspace.textDocuments.some((document) => document.uri.toString() === uri?.toString() && document.isDirty);
      },
    );
  }
}
