// Which `openbolt` binary the extension starts, and whether it speaks our protocol. The order is
// rust-analyzer's: the `openbolt.server.path` setting (if set, it must work), then the server this
// platform's .vsix carries in `server/`, then `openbolt` on PATH (a development or `cargo install` build).
// Before it starts one, the extension asks it `openbolt version --json`.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The version of the `openbolt/…` protocol this extension speaks (the server's `PROTOCOL_VERSION`). */
export const PROTOCOL_VERSION = 1;

export type ServerSource = 'setting' | 'bundled' | 'path';

export type Located =
  | { found: true; path: string; source: ServerSource }
  | { found: false; message: string; openSettings: boolean };

function executable(candidate: string): boolean {
  try {
    fs.accessSync(candidate, fs.constants.X_OK);
    return fs.statSync(candidate).isFile();
  } catch {
    return false;
  }
}

/**
 * The server to start: `setting` (`~` expanded; when set it must be an executable file), else the binary in
 * `bundledDir`, else `openbolt` on PATH. Not found: the message the user sees.
 */
export function locateServer(setting: string, bundledDir: string, env: NodeJS.ProcessEnv = process.env): Located {
  const name = process.platform === 'win32' ? 'openbolt.exe' : 'openbolt';
  const configured = setting.trim();
  if (configured !== '') {
    // `~/.cargo/bin/openbolt` is what people type; VS Code does not expand it.
    const home = env.HOME ?? env.USERPROFILE;
    const expanded = home && (configured === '~' || configured.startsWith('~/')) ? path.join(home, configured.slice(1)) : configured;
    if (executable(expanded)) return { found: true, path: expanded, source: 'setting' };
    const why = fs.existsSync(expanded) ? 'is not an executable file' : 'does not exist';
    return {
      found: false,
      openSettings: true,
      message: `OpenBolt: openbolt.server.path is ${configured}, which ${why}. Correct the setting, or clear it to use the server this extension carries.`,
    };
  }
  const bundled = path.join(bundledDir, name);
  if (executable(bundled)) return { found: true, path: bundled, source: 'bundled' };
  for (const directory of (env.PATH ?? '').split(path.delimiter)) {
    if (directory === '') continue;
    const candidate = path.join(directory, name);
    if (executable(candidate)) return { found: true, path: candidate, source: 'path' };
  }
  return {
    found: false,
    openSettings: true,
    message: `OpenBolt: this build of the extension carries no server for ${process.platform}-${process.arch}, and there is no openbolt on your PATH. Install the extension for your platform, or the server (\`cargo install openbolt\`), or set openbolt.server.path.`,
  };
}

/** What `openbolt version --json` answered. */
export interface ServerVersion {
  version: string;
  protocol: number;
}

/** Asks `server` what it is. An answer that is not ours (an old build without `version`): an error. */
export function probeServer(server: string, timeoutMs = 10_000): Promise<ServerVersion> {
  return new Promise((resolve, reject) => {
    execFile(server, ['version', '--json'], { timeout: timeoutMs, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) {
        reject(new Error(`${server} version --json failed: ${(stderr || error.message).trim()}`));
        return;
      }
      try {
        resolve(parseVersion(stdout));
      } catch (parseError) {
        reject(parseError);
      }
    });
  });
}

export function parseVersion(stdout: string): ServerVersion {
  const answer: unknown = JSON.parse(stdout.trim().split('\n').pop() ?? '');
  if (
    typeof answer !== 'object' ||
    answer === null ||
    typeof (answer as ServerVersion).version !== 'string' ||
    typeof (answer as ServerVersion).protocol !== 'number'
  ) {
    throw new Error(`not the answer of an openbolt server: ${stdout.trim().slice(0, 200)}`);
  }
  return { version: (answer as ServerVersion).version, protocol: (answer as ServerVersion).protocol };
}

/** Whether to start the server `probe` describes: an error for the user, or lines for the server log. */
export type Verdict = { start: false; message: string; openSettings: boolean } | { start: true; log: string[] };

export function judge(
  located: { path: string; source: ServerSource },
  probe: ServerVersion | Error,
  extensionVersion: string,
): Verdict {
  const where = located.source === 'setting' ? `${located.path} (openbolt.server.path)` : located.path;
  const fix =
    located.source === 'setting'
      ? 'Point openbolt.server.path at a matching build, or clear it to use the server this extension carries.'
      : located.source === 'path'
        ? 'Update it (`cargo install openbolt`), or install the extension for your platform, which carries its server.'
        : 'Reinstall the extension.';
  if (probe instanceof Error) {
    return {
      start: false,
      openSettings: located.source === 'setting',
      message: `OpenBolt: the server ${where} did not say which protocol it speaks (an older or broken build?): ${probe.message}. ${fix}`,
    };
  }
  if (probe.protocol !== PROTOCOL_VERSION) {
    const age = probe.protocol < PROTOCOL_VERSION ? 'older' : 'newer';
    return {
      start: false,
      openSettings: located.source === 'setting',
      message: `OpenBolt: the server ${where} is openbolt ${probe.version}, which speaks protocol ${probe.protocol}; this extension (${extensionVersion}) speaks protocol ${PROTOCOL_VERSION}, so the server is ${age} than the extension. ${fix}`,
    };
  }
  const log = [`server: ${located.path} (${located.source}), openbolt ${probe.version}, protocol ${probe.protocol}`];
  if (located.source !== 'bundled' || probe.version !== extensionVersion) {
    log.push(`note: not the extension's own server (extension ${extensionVersion}); same protocol, so it is used`);
  }
  return { start: true, log };
}

export type Choice = { start: true; path: string; log: string[] } | { start: false; message: string; openSettings: boolean };

/** The server to start and what to log, or the one message that says why none starts. */
export async function chooseServer(
  setting: string,
  bundledDir: string,
  extensionVersion: string,
  env: NodeJS.ProcessEnv = process.env,
  probe: (server: string) => Promise<ServerVersion> = probeServer,
): Promise<Choice> {
  const located = locateServer(setting, bundledDir, env);
  if (!located.found) return { start: false, message: located.message, openSettings: located.openSettings };
  const verdict = judge(located, await probe(located.path).catch((error: Error) => error), extensionVersion);
  return verdict.start ? { ...verdict, path: located.path } : verdict;
}
