-- The plugin's own server: `cargo build --release --locked` in the plugin's repository, the binaries left in
-- cargo's target directory, where require('openbolt.server') finds them. lazy.nvim runs it after install
-- and update (the repository's build.lua); `:OpenBoltBuild` runs it by hand.
local M = {}

--- Builds `openbolt` and `openbolt-sandbox`. Inside a coroutine (lazy.nvim's build step) it yields
--- progress while cargo runs; otherwise it waits. Returns the binary's path, or nil and why.
---@return string|nil, string|nil
function M.run()
  local server = require('openbolt.server')
  local root = server.root()
  if not root then
    return nil, 'this copy of the plugin is not in an OpenBolt repository: there is nothing to build'
  end
  if vim.fn.executable('cargo') ~= 1 then
    return nil, 'cargo is not installed (https://rustup.rs); or get the server another way: ' .. server.how_to_get()
  end
  local command = { 'cargo', 'build', '--release', '--locked', '-p', 'openbolt', '--bins' }
  local done, result = false, nil
  local yieldable = coroutine.isyieldable()
  local ok, err = pcall(vim.system, command, { cwd = root, text = true }, function(finished)
    result = finished
    done = true
  end)
  if not ok then
    return nil, tostring(err)
  end
  if yieldable then
    while not done do
      coroutine.yield('building the openbolt server (cargo build --release: a few minutes)')
    end
  else
    vim.wait(60 * 60 * 1000, function()
      return done
    end, 200)
  end
  if not result or result.code ~= 0 then
    local output = vim.trim((result and result.stderr) or '')
    return nil, 'cargo build failed:\n' .. output:sub(-4000)
  end
  local binary = server.build_path()
  if not binary or vim.fn.executable(binary) ~= 1 then
    return nil, 'cargo build finished but ' .. tostring(binary) .. ' is not there'
  end
  return binary
end

--- `:OpenBoltBuild`, and lazy.nvim's build step: errors are raised, so that the plugin manager shows them.
function M.command()
  local binary, err = M.run()
  if not binary then
    error('[openbolt] ' .. err, 0)
  end
  vim.notify('[openbolt] built ' .. binary, vim.log.levels.INFO)
  return binary
end

return M
