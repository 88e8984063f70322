-- Which `openbolt` binary starts, and whether it speaks this plugin's protocol. The order: the `cmd` you
-- gave setup(), then the plugin's own build (`build.lua`, `:OpenBoltBuild`: `target/release/openbolt` in
-- the plugin's repository), then `openbolt` on PATH. Both ways of starting the server use it:
-- require('openbolt') and `vim.lsp.enable('openbolt')` (lsp/openbolt.lua).
local M = {}

--- The version of the `openbolt/…` protocol this plugin speaks (the server's PROTOCOL_VERSION).
M.PROTOCOL = 1

--- The repository this plugin lives in (plugin managers clone all of it), when it is one.
---@return string|nil
function M.root()
  -- …/extensions/neovim/lua/openbolt/server.lua
  local here = debug.getinfo(1, 'S').source:sub(2)
  local root = vim.fn.fnamemodify(here, ':p:h:h:h:h:h')
  if vim.uv.fs_stat(root .. '/server/Cargo.toml') then
    return root
  end
  return nil
end

--- Where the plugin's own build puts the binary (cargo's target directory, which CARGO_TARGET_DIR moves).
---@return string|nil
function M.build_path()
  local root = M.root()
  if not root then
    return nil
  end
  local target = vim.env.CARGO_TARGET_DIR
  if not target or target == '' then
    target = root .. '/target'
  elseif not target:match('^/') then
    target = root .. '/' .. target
  end
  return target .. '/release/openbolt'
end

---@class openbolt.Server
---@field cmd string[] what starts it
---@field source 'setup'|'build'|'path'
---@field binary string the program (`cmd[1]`, resolved on PATH)

--- The server to start; nil and how to get one when there is none.
---@param user_cmd string[]|nil setup()'s `cmd`
---@return openbolt.Server|nil, string|nil
function M.find(user_cmd)
  if user_cmd then
    local binary = vim.fn.exepath(user_cmd[1])
    if binary == '' then
      return nil, string.format('the server %q (your cmd in setup()) is not an executable', user_cmd[1])
    end
    return { cmd = user_cmd, source = 'setup', binary = binary }
  end
  local built = M.build_path()
  if built and vim.fn.executable(built) == 1 then
    return { cmd = { built, 'lsp' }, source = 'build', binary = built }
  end
  local on_path = vim.fn.exepath('openbolt')
  if on_path ~= '' then
    return { cmd = { on_path, 'lsp' }, source = 'path', binary = on_path }
  end
  return nil, M.how_to_get()
end

--- What to do when there is no server.
function M.how_to_get()
  local ways = {}
  if M.root() then
    table.insert(ways, ':OpenBoltBuild (lazy.nvim runs it as the build step; it needs cargo)')
  end
  table.insert(ways, ':MasonInstall openbolt, or a release archive on your PATH')
  table.insert(ways, 'cargo install openbolt')
  table.insert(ways, "or setup({ cmd = { '/path/to/openbolt', 'lsp' } })")
  return 'no openbolt server found: ' .. table.concat(ways, '; ')
end

local probed = {} ---@type table<string, {key: string, answer: table|nil, err: string|nil}>

--- What `binary version --json` says: `{ version, protocol }`, or nil and why (cached while the file is
--- unchanged).
---@return table|nil, string|nil
function M.probe(binary)
  local stat = vim.uv.fs_stat(binary)
  local key = stat and string.format('%d:%d:%d', stat.mtime.sec, stat.mtime.nsec, stat.size) or ''
  local cached = probed[binary]
  if cached and cached.key == key then
    return cached.answer, cached.err
  end
  local answer, err
  local ok, result = pcall(function()
    return vim.system({ binary, 'version', '--json' }, { text = true }):wait(10000)
  end)
  if not ok then
    err = tostring(result)
  elseif result.code ~= 0 then
    err = string.format('`%s version --json` failed: %s', binary, vim.trim(result.stderr or ''))
  else
    local decoded_ok, decoded = pcall(vim.json.decode, vim.trim(result.stdout or ''))
    if decoded_ok and type(decoded) == 'table' and type(decoded.protocol) == 'number' then
      answer = { version = tostring(decoded.version), protocol = decoded.protocol }
    else
      err = 'not the answer of an openbolt server: ' .. vim.trim(result.stdout or ''):sub(1, 200)
    end
  end
  probed[binary] = { key = key, answer = answer, err = err }
  return answer, err
end

--- Whether `server` speaks our protocol: nil when it does, else the message. A `cmd` that is not
--- `{openbolt, 'lsp', …}` (a wrapper such as ssh or nix) is not asked.
---@param server openbolt.Server
---@return string|nil
function M.mismatch(server)
  if server.cmd[2] ~= 'lsp' then
    return nil
  end
  local answer, err = M.probe(server.binary)
  if not answer then
    return string.format(
      'the server %s did not say which protocol it speaks (an older or broken build?): %s. Update it: %s',
      server.binary,
      err,
      M.how_to_get():gsub('^no openbolt server found: ', '')
    )
  end
  if answer.protocol ~= M.PROTOCOL then
    return string.format(
      'the server %s is openbolt %s, which speaks protocol %d; this plugin speaks protocol %d, so the server is %s than the plugin. %s',
      server.binary,
      answer.version,
      answer.protocol,
      M.PROTOCOL,
      answer.protocol < M.PROTOCOL and 'older' or 'newer',
      server.source == 'build' and 'Run :OpenBoltBuild again.' or 'Update one of them.'
    )
  end
  return nil
end

--- The server last started, for :checkhealth and the tests.
---@type openbolt.Server|nil
M.last = nil

--- `cmd` for vim.lsp: finds the server (setup()'s cmd, the build, PATH), checks its protocol, starts it.
--- An error here is what vim.lsp.start reports.
---@param dispatchers vim.lsp.rpc.Dispatchers
---@param config vim.lsp.ClientConfig
function M.start(dispatchers, config)
  local server, missing = M.find(require('openbolt').options().cmd)
  if not server then
    error('[openbolt] ' .. missing, 0)
  end
  local mismatch = M.mismatch(server)
  if mismatch then
    error('[openbolt] ' .. mismatch, 0)
  end
  M.last = server
  return vim.lsp.rpc.start(server.cmd, dispatchers, {
    cwd = config.cmd_cwd,
    env = config.cmd_env,
    detached = config.detached,
  })
end

return M
