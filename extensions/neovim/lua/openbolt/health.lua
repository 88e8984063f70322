-- `:checkhealth openbolt`: the server binary, where it came from and its version, the provider settings,
-- the endpoint, the sandbox, the page check's browser, the MCP servers.
local M = {}

local function reachable(url)
  local host, port = url:match('^https?://([^/:]+):?(%d*)')
  if not host then
    return false, 'not a URL'
  end
  port = tonumber(port) or (url:match('^https') and 443 or 80)
  local done, connected, reason = false, false, nil
  local tcp = vim.uv.new_tcp()
  vim.uv.getaddrinfo(host, tostring(port), { socktype = 'stream' }, function(err, addresses)
    if err or not addresses or not addresses[1] then
      reason = err or 'no address'
      done = true
      return
    end
    tcp:connect(addresses[1].addr, port, function(connect_err)
      connected = connect_err == nil
      reason = connect_err
      done = true
    end)
  end)
  vim.wait(3000, function()
    return done
  end, 20)
  if not tcp:is_closing() then
    tcp:close()
  end
  return connected, reason or (done and nil or 'timed out')
end

function M.check()
  vim.health.start('openbolt: server')
  local options = require('openbolt').options()
  local server = require('openbolt.server')
  local found, missing = server.find(options.cmd)
  local binary
  if not found then
    vim.health.error(missing)
  else
    binary = found.binary
    local from = ({ setup = 'your cmd in setup()', build = "the plugin's own build", path = 'PATH' })[found.source]
    local mismatch = server.mismatch(found)
    if mismatch then
      vim.health.error(mismatch)
    elseif found.cmd[2] == 'lsp' then
      local answer = server.probe(found.binary)
      vim.health.ok(string.format('openbolt %s, protocol %d: %s (from %s)', answer.version, answer.protocol, found.binary, from))
    else
      vim.health.ok(string.format('%s (from %s; a wrapper command, not asked its version)', table.concat(found.cmd, ' '), from))
    end
    if found.source ~= 'build' and server.root() then
      vim.health.info(":OpenBoltBuild builds the plugin's own server (cargo), used when setup() names no cmd")
    end
  end

  vim.health.start('openbolt: provider')
  local settings = options.settings
  local env = vim.env
  local provider = settings.provider or env.OPENBOLT_PROVIDER
  local base_url = settings.baseUrl
  if provider then
    vim.health.ok('provider: ' .. provider)
  elseif env.ANTHROPIC_API_KEY then
    vim.health.ok('Anthropic (ANTHROPIC_API_KEY is set)')
    base_url = base_url or env.ANTHROPIC_BASE_URL or 'https://api.anthropic.com'
  elseif env.OPENAI_API_KEY or env.OPENAI_BASE_URL then
    vim.health.ok('OpenAI-compatible (OPENAI_API_KEY or OPENAI_BASE_URL is set)')
    base_url = base_url or env.OPENAI_BASE_URL or 'https://api.openai.com/v1'
  else
    vim.health.warn('no provider configured', {
      'set ANTHROPIC_API_KEY or OPENAI_API_KEY',
      'or OPENAI_BASE_URL=http://localhost:11434/v1 and OPENBOLT_MODEL for Ollama',
      "or setup({ settings = { provider = 'ollama', model = '…' } })",
    })
  end
  if settings.model or env.OPENBOLT_MODEL then
    vim.health.ok('model: ' .. (settings.model or env.OPENBOLT_MODEL))
  end
  if base_url then
    local ok, reason = reachable(base_url)
    if ok then
      vim.health.ok('endpoint reachable: ' .. base_url)
    else
      vim.health.warn(string.format('endpoint %s not reachable: %s', base_url, tostring(reason)))
    end
  end
  if (settings.approval or {}).autoApprove then
    vim.health.warn('commands run without asking (settings.approval.autoApprove)')
  else
    vim.health.ok('commands ask before they run')
  end

  vim.health.start('openbolt: sandbox')
  M.sandbox(binary, settings.sandbox or 'auto', settings)

  vim.health.start('openbolt: page check')
  M.page_check(binary, settings)

  vim.health.start('openbolt: MCP servers')
  M.mcp()
end

--- Which browser checks previews, as the server decides it (`openbolt check-page --which`: the
--- settings files, the environment, then settings.browserPath), or why previews are not checked.
function M.page_check(binary, settings)
  settings = settings or {}
  if settings.previewCheck == 'off' then
    vim.health.info('previews are not checked in a browser (settings.previewCheck = "off")')
    return
  end
  local server = binary and vim.fn.exepath(binary) or ''
  if server == '' then
    vim.health.error('cannot find the page check\'s browser without the server')
    return
  end
  local command = { server, 'check-page', '--which' }
  if settings.browserPath then
    vim.list_extend(command, { '--browser', settings.browserPath })
  end
  local result = vim.system(command, { text = true }):wait(5000)
  local said = vim.trim(result.stdout or '')
  if result.code == 0 then
    vim.health.ok('previews are checked in ' .. said)
    if settings.previewScreenshots == 'off' then
      vim.health.info('checked pages are not pictured (settings.previewScreenshots = "off")')
    else
      vim.health.info('each checked page is pictured: its screenshot\'s path follows the verdict in the chat')
    end
  else
    vim.health.warn(said ~= '' and said or vim.trim(result.stderr or ''), {
      'install Chromium (e.g. apt install chromium) or Google Chrome',
      'or name one: setup({ settings = { browserPath = "/path/to/chrome" } })',
    })
  end
end

--- The MCP servers of the running server: ready, not started yet, or failed (with why).
function M.mcp()
  local client = require('openbolt').client(false)
  if not client then
    vim.health.info('the server is not running: MCP servers are checked once it runs (`:OpenBolt`)')
    return
  end
  local response = client:request_sync('openbolt/mcpServers', nil, 5000)
  if not response or response.err then
    vim.health.warn('could not ask the server: ' .. tostring(response and response.err and response.err.message or 'no answer'))
    return
  end
  local servers = response.result or {}
  if #servers == 0 then
    vim.health.info('none configured (.openbolt/mcp.json, ~/.config/openbolt/mcp.json or settings.mcpServers)')
  end
  for _, server in ipairs(servers) do
    if server.state == 'failed' then
      vim.health.error(server.error or (server.name .. ' failed to start'))
    elseif server.state == 'ready' then
      vim.health.ok(string.format('%s: ready, %d tools (%s)', server.name, #server.tools, table.concat(server.tools, ', ')))
    else
      vim.health.ok(server.name .. ': configured; starts with the next turn')
    end
  end
end

--- Whether commands run in the sandbox: the server's helper answers `--check` as the server asks it.
--- `settings` adds what commands may not read, and may read all the same.
function M.sandbox(binary, mode, settings)
  settings = settings or {}
  if mode == 'off' then
    vim.health.warn('commands are not sandboxed (settings.sandbox = "off"): they can write anywhere you can')
    return
  end
  local server = binary and vim.fn.exepath(binary) or ''
  if server == '' then
    vim.health.error('cannot check the sandbox without the server')
    return
  end
  local helper = vim.fs.joinpath(vim.fs.dirname(server), 'openbolt-sandbox')
  local command = vim.fn.executable(helper) == 1 and { helper, '--check' } or { server, 'sandbox-exec', '--check' }
  local result = vim.system(command, { text = true }):wait(5000)
  if result.code == 0 then
    vim.health.ok('commands run in a sandbox (Landlock): they write only in the workspace, temp and package caches')
    local denied = { '~/.ssh', '~/.aws', '~/.npmrc', 'tokens', 'keyrings', 'browser profiles', 'histories' }
    vim.list_extend(denied, settings.sandboxDenyRead or {})
    local reads = 'they cannot read your credentials (' .. table.concat(denied, ', ') .. ')'
    if settings.sandboxAllowRead and #settings.sandboxAllowRead > 0 then
      reads = reads .. ' except ' .. table.concat(settings.sandboxAllowRead, ', ')
    end
    vim.health.ok(reads)
    if settings.sandboxAllowGitHooks then
      vim.health.warn('git hooks commands install are kept (settings.sandboxAllowGitHooks): git runs them outside the sandbox')
    end
  elseif mode == 'required' then
    vim.health.error('commands will not run: the sandbox is required but ' .. vim.trim(result.stderr or ''))
  else
    vim.health.warn('commands are NOT sandboxed: ' .. vim.trim(result.stderr or ''), {
      'Linux 5.13 or newer with Landlock enabled sandboxes them',
      'settings.sandbox = "off" silences this',
    })
  end
end

return M
