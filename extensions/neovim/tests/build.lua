-- The plugin's build step and how both ways of starting the server find what it built, in a real headless
-- Neovim, from a copy of the plugin's repository (PLUGIN) that has no openbolt on PATH. tests/neovim.rs
-- runs it (CARGO_TARGET_DIR shared with the workspace, so dependencies are not built again) and reads the
-- last line: `N passed, N failed`.
--
--   PLUGIN=… EMPTY_TARGET=… FAKE_SERVER=… nvim --headless -u NONE -l extensions/neovim/tests/build.lua

local root = assert(os.getenv('PLUGIN'), 'PLUGIN')
vim.opt.runtimepath:prepend(root .. '/extensions/neovim')
vim.cmd('runtime plugin/openbolt.lua')
vim.o.swapfile = false
local tally = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/tally.lua')
local test = tally.test

local notifications = {}
vim.notify = function(message, level)
  table.insert(notifications, { message = message, level = level })
end


local function health()
  vim.cmd('checkhealth openbolt')
  local report = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
  vim.cmd('bwipeout!')
  return report
end

local function stop_all()
  for _, client in ipairs(vim.lsp.get_clients({ name = 'openbolt' })) do
    client:stop(true)
  end
  assert(vim.wait(10000, function()
    return #vim.lsp.get_clients({ name = 'openbolt' }) == 0
  end, 20), 'the clients stopped')
end

--- Waits for a client named openbolt to finish `initialize`, and asks it something of ours.
local function answers()
  local client
  assert(vim.wait(20000, function()
    client = vim.lsp.get_clients({ name = 'openbolt' })[1]
    return client ~= nil and client.initialized
  end, 20), 'the server started and initialized')
  local response = client:request_sync('openbolt/mcpServers', nil, 10000)
  assert(response and response.err == nil and type(response.result) == 'table', vim.inspect(response))
end

local server = require('openbolt.server')
local built = server.build_path()

test('before the build there is no server, and :checkhealth says how to get one', function()
  local shared = vim.env.CARGO_TARGET_DIR
  vim.env.CARGO_TARGET_DIR = assert(os.getenv('EMPTY_TARGET'))
  local found, missing = server.find(nil)
  assert(found == nil and missing:find(':OpenBoltBuild', 1, true), tostring(missing))
  assert(require('openbolt').client(true) == nil, 'no client without a server')
  local report = health()
  assert(report:find('no openbolt server found', 1, true), report)
  assert(report:find('cargo install openbolt', 1, true), report)
  vim.env.CARGO_TARGET_DIR = shared
end)

test("the build step (lazy.nvim's build.lua, in a coroutine) builds the server", function()
  assert(vim.startswith(built, vim.env.CARGO_TARGET_DIR), built)
  local progress = {}
  local build = coroutine.create(function()
    -- As lazy.nvim runs it: the plugin's build.lua loaded and called in the running Neovim, inside the
    -- build task's coroutine (dofile would be a C boundary the build could not yield across).
    assert(loadfile(root .. '/build.lua'))()
  end)
  while coroutine.status(build) ~= 'dead' do
    local ok, message = coroutine.resume(build)
    assert(ok, message)
    if message then
      progress[message] = true
    end
    -- Cargo's exit arrives through the event loop.
    vim.wait(200)
  end
  assert(progress['building the openbolt server (cargo build --release: a few minutes)'], vim.inspect(progress))
  assert(vim.fn.executable(built) == 1, built)
  assert(vim.fn.executable(vim.fs.dirname(built) .. '/openbolt-sandbox') == 1, 'the sandbox helper beside it')
  local last = notifications[#notifications]
  assert(last and last.message == '[openbolt] built ' .. built, vim.inspect(last))
end)

test('setup() without a cmd starts the built server', function()
  require('openbolt').setup({})
  server.last = nil
  assert(require('openbolt').client(true), 'a client')
  answers()
  assert(server.last and server.last.source == 'build' and server.last.binary == built, vim.inspect(server.last))
  stop_all()
end)

test("vim.lsp.enable('openbolt') starts the built server too", function()
  server.last = nil
  local workspace = vim.fn.getcwd()
  vim.fn.writefile({ '<h1>hi</h1>' }, workspace .. '/index.html')
  vim.lsp.enable('openbolt')
  vim.cmd('edit ' .. vim.fn.fnameescape(workspace .. '/index.html'))
  answers()
  assert(server.last and server.last.source == 'build' and server.last.binary == built, vim.inspect(server.last))
  vim.lsp.enable('openbolt', false)
  stop_all()
  vim.cmd('bwipeout!')
end)

test(':checkhealth names the binary, where it came from and its version', function()
  local report = health()
  local line = string.format('openbolt 0.1.0, protocol %d: %s (from the plugin\'s own build)', server.PROTOCOL, built)
  assert(report:find(line, 1, true), report)
end)

test('a server of another protocol is refused with one clear message, both ways', function()
  local fake = assert(os.getenv('FAKE_SERVER'))
  require('openbolt').setup({ cmd = { fake, 'lsp' } })
  local before = #notifications
  assert(require('openbolt').client(true) == nil, 'not started')
  assert(#notifications == before + 1, vim.inspect(notifications))
  local message = notifications[#notifications].message
  assert(message:find('is openbolt 9.0.0, which speaks protocol 999; this plugin speaks protocol 1, so the server is newer', 1, true), message)
  assert(notifications[#notifications].level == vim.log.levels.ERROR)
  -- vim.lsp.enable's route: the cmd function refuses, and vim.lsp.start reports it.
  local ok, err = pcall(server.start, {}, {})
  assert(not ok and tostring(err):find('speaks protocol 999', 1, true), tostring(err))
  assert(health():find('speaks protocol 999', 1, true))
  require('openbolt').setup({})
end)

tally.finish()
