// The language client: starts `openbolt lsp`, declares what this extension does itself (saving the
// documents the server edits, opening previews), and routes the server's notifications.
import * as vscode from 'vscode';
import {
  ApplyWorkspaceEditRequest,
  LanguageClient,
  type LanguageClientOptions,
  type ServerOptions,
  TransportKind,
} from 'vscode-languageclient/node';
import { serverSettings } from './config';

export function createClient(serverPath: string, output: vscode.OutputChannel): LanguageClient {
  const serverOptions: ServerOptions = {
    run: { command: serverPath, args: ['lsp'], transport: TransportKind.stdio },
    debug: { command: serverPath, args: ['lsp'], transport: TransportKind.stdio },
  };
  const config = vscode.workspace.getConfiguration('openbolt');
  const clientOptions: LanguageClientOptions = {
    // Every file: the server keeps the editor's unsaved text for the model's context.
    documentSelector: [{ scheme: 'file' }],
    outputChannel: output,
    initializationOptions: { savesEdits: true, handlesPreview: true, sendsDiagnostics: true, openbolt: serverSettings(config) },
    synchronize: { configurationSection: 'openbolt' },
    middleware: {
      workspace: {
        // The server reads `openbolt.*` as one section; send the shape it documents.
        configuration: () => [serverSettings(vscode.workspace.getConfiguration('openbolt'))],
      },
    },
  };
  return new LanguageClient('openbolt', 'OpenBolt', serverOptions, clientOptions);
}

/**
 * Applies the server's edits like VS Code does, then saves each document they touched: we declared
 * `savesEdits`, so the server waits for our `didSave` before its next action, and VS Code never sees a
 * file changed on disk under an open editor.
 */
export function handleApplyEdit(client: LanguageClient): void {
  client.onRequest(ApplyWorkspaceEditRequest.type, async (params) => {
    const edit = await client.protocol2CodeConverter.asWorkspaceEdit(params.edit);
    const applied = await vscode.workspace.applyEdit(edit);
    if (!applied) {
      return { applied: false, failureReason: 'VS Code did not apply the edit' };
    }
    for (const [uri] of edit.entries()) {
      const document = vscode.workspace.textDocuments.find((open) => open.uri.toString() === uri.toString());
      if (document?.isDirty) {
        await document.save();
      }
    }
    return { applied: true };
  });
}
