// Settings: what the server gets (its `openbolt` section) and what only the extension uses.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as vscode from 'vscode';

export interface ServerSettings {
  provider?: string;
  model?: string;
  baseUrl?: string;
  /** The model's window when the server does not say; left out when 0 (unset). */
  contextTokens?: number;
  /** Automatic fix rounds after a turn with problems. */
  autoFix: number;
  approval: { autoApprove: boolean; allow: string[]; deny: string[] };
  sandbox: 'auto' | 'required' | 'off';
  sandboxWritable: string[];
  sandboxNetwork: boolean;
  /** MCP servers by name (left out when none). */
  mcpServers?: Record<string, unknown>;
  mcpAllow: string[];
}

/** The server's settings section: empty strings mean "from the environment" and are left out. */
export function serverSettings(config: vscode.WorkspaceConfiguration): ServerSettings {
  const text = (key: string): string | undefined => {
    const value = config.get<string>(key, '').trim();
    return value === '' ? undefined : value;
  };
  return {
    provider: text('provider'),
    model: text('model'),
    baseUrl: text('baseUrl'),
    contextTokens: config.get<number>('contextTokens', 0) > 0 ? config.get<number>('contextTokens', 0) : undefined,
    autoFix: config.get<number>('autoFix', 3),
    approval: {
      autoApprove: config.get<boolean>('approval.autoApprove', false),
      allow: config.get<string[]>('approval.allow', []),
      deny: config.get<string[]>('approval.deny', []),
    },
    sandbox: config.get<'auto' | 'required' | 'off'>('sandbox', 'auto'),
    sandboxWritable: config.get<string[]>('sandboxWritable', []),
    sandboxNetwork: config.get<boolean>('sandboxNetwork', true),
    mcpServers: Object.keys(config.get<Record<string, unknown>>('mcpServers', {}) ?? {}).length > 0 ? config.get<Record<string, unknown>>('mcpServers') : undefined,
    mcpAllow: config.get<string[]>('mcpAllow', []),
  };
}

export type PreviewTarget = 'simpleBrowser' | 'external' | 'none';

export function previewTarget(config: vscode.WorkspaceConfiguration): PreviewTarget {
  return config.get<PreviewTarget>('preview.open', 'simpleBrowser');
}

export type FollowFiles = 'none' | 'first' | 'all';

/** `openbolt.followFiles`: which files the AI writes open as they complete (an unknown value: none). */
export function followFiles(config: vscode.WorkspaceConfiguration): FollowFiles {
  const value = config.get<string>('followFiles', 'none');
  return value === 'first' || value === 'all' ? value : 'none';
}

/** The server binary: the setting, else `openbolt` found on PATH; undefined when neither exists. */
export function findServer(configured: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const setting = configured.trim();
  if (setting !== '') {
    // `~/.cargo/bin/openbolt` is what people type; VS Code does not expand it.
    const home = env.HOME ?? env.USERPROFILE;
    const expanded = home && (setting === '~' || setting.startsWith('~/')) ? path.join(home, setting.slice(1)) : setting;
    return fs.existsSync(expanded) ? expanded : undefined;
  }
  const names = process.platform === 'win32' ? ['openbolt.exe'] : ['openbolt'];
  for (const directory of (env.PATH ?? '').split(path.delimiter)) {
    for (const name of names) {
      const candidate = path.join(directory, name);
      try {
        fs.accessSync(candidate, fs.constants.X_OK);
        return candidate;
      } catch {
        // not here
      }
    }
  }
  return undefined;
}
