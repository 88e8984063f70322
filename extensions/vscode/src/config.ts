// Settings: what the server gets (its `openbolt` section) and what only the extension uses.
import type * as vscode from 'vscode';

export interface ServerSettings {
  provider?: string;
  model?: string;
  baseUrl?: string;
  /** The model's window when the server does not say; left out when 0 (unset). */
  contextTokens?: number;
  /** Automatic fix rounds after a turn with problems. */
  autoFix?: number;
  approval?: { autoApprove?: boolean; allow?: string[]; deny?: string[] };
  sandbox?: 'auto' | 'required' | 'off';
  sandboxWritable?: string[];
  sandboxNetwork?: boolean;
  sandboxDenyRead?: string[];
  sandboxAllowRead?: string[];
  sandboxAllowGitHooks?: boolean;
  /** MCP servers by name (left out when none). */
  mcpServers?: Record<string, unknown>;
  mcpAllow?: string[];
  /** Check previews in a headless browser after a turn. */
  previewCheck?: 'auto' | 'off';
  /** The browser for that check (left out when blank). */
  browserPath?: string;
  /** Keep a screenshot of each checked page. */
  previewScreenshots?: 'auto' | 'off';
  /** Whether the model takes images. */
  modelImages?: 'auto' | 'true' | 'false';
}

/**
 * The server's settings section: only what the user set (in their settings, the workspace's or a
 * folder's), so that for the rest the environment, the settings files and the server's defaults decide —
 * one precedence in every front end. Blank text and a 0 window count as not set.
 */
export function serverSettings(config: vscode.WorkspaceConfiguration): ServerSettings {
  const isSet = (key: string): boolean => {
    const inspected = config.inspect(key);
    return (
      inspected !== undefined &&
      (inspected.globalValue !== undefined ||
        inspected.workspaceValue !== undefined ||
        inspected.workspaceFolderValue !== undefined ||
        inspected.globalLanguageValue !== undefined ||
        inspected.workspaceLanguageValue !== undefined ||
        inspected.workspaceFolderLanguageValue !== undefined)
    );
  };
  const value = <T>(key: string): T | undefined => (isSet(key) ? config.get<T>(key) : undefined);
  const text = (key: string): string | undefined => {
    const set = value<string>(key)?.trim();
    return set === '' ? undefined : set;
  };
  const contextTokens = value<number>('contextTokens');
  const approval = {
    autoApprove: value<boolean>('approval.autoApprove'),
    allow: value<string[]>('approval.allow'),
    deny: value<string[]>('approval.deny'),
  };
  const mcpServers = value<Record<string, unknown>>('mcpServers');
  return {
    provider: text('provider'),
    model: text('model'),
    baseUrl: text('baseUrl'),
    contextTokens: contextTokens !== undefined && contextTokens > 0 ? contextTokens : undefined,
    autoFix: value<number>('autoFix'),
    approval: Object.values(approval).some((member) => member !== undefined) ? approval : undefined,
    sandbox: value<'auto' | 'required' | 'off'>('sandbox'),
    sandboxWritable: value<string[]>('sandboxWritable'),
    sandboxNetwork: value<boolean>('sandboxNetwork'),
    sandboxDenyRead: value<string[]>('sandboxDenyRead'),
    sandboxAllowRead: value<string[]>('sandboxAllowRead'),
    sandboxAllowGitHooks: value<boolean>('sandboxAllowGitHooks'),
    mcpServers: mcpServers && Object.keys(mcpServers).length > 0 ? mcpServers : undefined,
    mcpAllow: value<string[]>('mcpAllow'),
    previewCheck: value<'auto' | 'off'>('previewCheck'),
    browserPath: text('browserPath'),
    previewScreenshots: value<'auto' | 'off'>('previewScreenshots'),
    modelImages: value<'auto' | 'true' | 'false'>('modelImages'),
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
