// An ACP client that no one here wrote drives `openbolt acp`: the official TypeScript SDK's
// ClientSideConnection (npm @agentclientprotocol/sdk, installed by scripts/acp-test-deps). tests/acp.rs runs
// one scenario and asserts on the JSON this prints.
//
//   node tests/acp/client.mjs SCENARIO WORKSPACE
//
// Scenarios: `turn` (a prompt whose reply writes a file and runs two commands: the one whose command
// says "rejected" is rejected), `turn-fs` (the same, the client offering fs.writeTextFile), `cancel`
// (session/cancel once the reply's prose arrives), `fault` (the reply breaks off mid-stream), `raw` (bad
// JSON and an unknown method, then initialize), `close` (a turn that starts a dev server, then the client
// closes its pipe). The SDK's path is $ACP_SDK; the agent is $OPENBOLT_BIN.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import * as path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';

const [scenario, workspace] = process.argv.slice(2);
const acp = await import(pathToFileURL(path.join(process.env.ACP_SDK, 'dist/acp.js')).href);

const agent = spawn(process.env.OPENBOLT_BIN, ['acp'], { cwd: workspace, stdio: ['pipe', 'pipe', 'pipe'] });
let stderr = '';
agent.stderr.on('data', (data) => (stderr += data));
const exited = once(agent, 'exit');
const report = { scenario, pid: agent.pid };

if (scenario === 'raw') {
  // Below the SDK: what a broken client sends.
  const lines = [];
  let buffered = '';
  agent.stdout.on('data', (data) => {
    buffered += data;
    let end;
    while ((end = buffered.indexOf('\n')) >= 0) {
      lines.push(JSON.parse(buffered.slice(0, end)));
      buffered = buffered.slice(end + 1);
    }
  });
  const waitFor = async (predicate) => {
    const deadline = Date.now() + 20_000;
    while (!lines.some(predicate)) {
      if (Date.now() > deadline) throw new Error(`no answer; got ${JSON.stringify(lines)}; stderr ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return lines.find(predicate);
  };
  const send = (message) => agent.stdin.write(JSON.stringify({ jsonrpc: '2.0', ...message }) + '\n');
  agent.stdin.write('{this is not json\n');
  send({ id: 6, method: 'no/such/method', params: {} });
  report.beforeInitialize = await waitFor((line) => line.id === 6);
  send({ id: 7, method: 'initialize', params: { protocolVersion: 1, clientCapabilities: {} } });
  report.initialize = await waitFor((line) => line.id === 7);
  send({ id: 8, method: 'no/such/method', params: {} });
  report.unknown = await waitFor((line) => line.id === 8);
  send({ id: 9, method: 'session/new', params: { cwd: workspace, mcpServers: [] } });
  report.session = await waitFor((line) => line.id === 9);
  report.lines = lines;
  agent.stdin.end();
  report.exit = (await exited)[0];
  console.log(JSON.stringify(report));
  process.exit(0);
}

const updates = [];
const permissions = [];
const fsWrites = [];
let onUpdate = () => {};
const client = {
  async requestPermission(params) {
    permissions.push(params);
    const rejected = JSON.stringify(params.toolCall).includes('rejected');
    const option = params.options.find((candidate) => candidate.kind === (rejected ? 'reject_once' : 'allow_once'));
    return { outcome: { outcome: 'selected', optionId: option.optionId } };
  },
  async sessionUpdate(params) {
    updates.push(params.update);
    onUpdate(params.update);
  },
  async writeTextFile(params) {
    // A client that offers writes but does not do them: the agent must not depend on it.
    fsWrites.push(params);
    return {};
  },
  async readTextFile() {
    return { content: '' };
  },
};
const stream = acp.ndJsonStream(Writable.toWeb(agent.stdin), Readable.toWeb(agent.stdout));
const connection = new acp.ClientSideConnection(() => client, stream);

const started = performance.now();
report.initialize = await connection.initialize({
  protocolVersion: acp.PROTOCOL_VERSION,
  clientCapabilities: { fs: { readTextFile: scenario === 'turn-fs', writeTextFile: scenario === 'turn-fs' }, terminal: false },
  clientInfo: { name: 'acp-sdk-test', version: '1.0.0' },
});
report.initializeMillis = performance.now() - started;
const { sessionId } = await connection.newSession({ cwd: workspace, mcpServers: [] });
report.sessionId = sessionId;
try {
  // Another directory is another workspace: refused with a clear error.
  await connection.newSession({ cwd: path.dirname(workspace), mcpServers: [] });
  report.otherCwd = 'accepted';
} catch (error) {
  report.otherCwd = error.data ?? error.message;
}

const prompt = (text) => connection.prompt({ sessionId, prompt: [{ type: 'text', text }] });
if (scenario === 'cancel') {
  onUpdate = (update) => {
    if (update.sessionUpdate === 'agent_message_chunk') {
      onUpdate = () => {};
      void connection.cancel({ sessionId });
    }
  };
}
const prompted = performance.now();
let firstUpdateMillis;
const previous = onUpdate;
onUpdate = (update) => {
  firstUpdateMillis ??= performance.now() - prompted;
  previous(update);
};
try {
  const answer = await prompt('a page, and two commands');
  report.stopReason = answer.stopReason;
} catch (error) {
  report.error = { code: error.code, message: error.message, data: error.data };
}
report.firstUpdateMillis = firstUpdateMillis;
report.updates = updates;
report.permissions = permissions;
report.fsWrites = fsWrites;
// The agent lives on after each of these: a second prompt is answered.
if (scenario === 'fault') {
  report.after = (await prompt('again')).stopReason;
}
agent.stdin.end();
const timer = setTimeout(() => agent.kill('SIGKILL'), 20_000);
report.exit = (await exited)[0];
clearTimeout(timer);
report.stderr = stderr;
console.log(JSON.stringify(report));
process.exit(0);
