-- The server's terminals, each in a buffer made with nvim_open_term: colours rendered, keys typed there
-- go back to the process, and the process learns the window's size.
local M = {}

---@type table<integer, {buf: integer, chan: integer, command: string, running: boolean}>
M.terminals = {}

local function request(method, params)
  local client = require('openbolt').client(false)
  if client then
    client:request(method, params, function() end)
  end
end

--- The terminal's buffer, made on first use.
function M.ensure(id, command)
  local terminal = M.terminals[id]
  if terminal and vim.api.nvim_buf_is_valid(terminal.buf) then
    return terminal
  end
  local buf = vim.api.nvim_create_buf(false, true)
  pcall(vim.api.nvim_buf_set_name, buf, string.format('openbolt://terminal/%d', id))
  local chan = vim.api.nvim_open_term(buf, {
    on_input = function(_, _, _, data)
      M.input(id, data)
    end,
  })
  terminal = { buf = buf, chan = chan, command = command or ('terminal ' .. id), running = true }
  M.terminals[id] = terminal
  return terminal
end

--- Keys typed in a terminal's buffer, for its process.
function M.input(id, data)
  request('openbolt/terminalInput', { terminalId = id, data = data })
end

function M.set_command(id, command)
  M.ensure(id, command).command = command
end

function M.output(id, data)
  local terminal = M.ensure(id)
  vim.api.nvim_chan_send(terminal.chan, data)
end

function M.exit(id, code, signal)
  local terminal = M.ensure(id)
  terminal.running = false
  local how = signal and ('ended by ' .. signal) or ('exited with code ' .. tostring(code))
  vim.api.nvim_chan_send(terminal.chan, '\r\n[' .. how .. ']\r\n')
end

--- Opens a terminal in a split below and tells the process its size.
function M.open(id)
  local terminal = M.ensure(id)
  vim.cmd('botright split')
  local win = vim.api.nvim_get_current_win()
  vim.api.nvim_win_set_buf(win, terminal.buf)
  vim.api.nvim_win_set_height(win, 12)
  M.resize(id, win)
end

function M.resize(id, win)
  request('openbolt/terminalResize', {
    terminalId = id,
    cols = vim.api.nvim_win_get_width(win),
    rows = vim.api.nvim_win_get_height(win),
  })
end

--- Lists the terminals (the server's, including ones made before this editor connected) to open one.
function M.pick()
  local client = require('openbolt').client(false)
  if not client then
    vim.notify('[openbolt] the server is not running', vim.log.levels.WARN)
    return
  end
  client:request('openbolt/terminals', nil, function(err, list)
    if err or not list then
      vim.notify('[openbolt] ' .. (err and err.message or 'no terminals'), vim.log.levels.WARN)
      return
    end
    for _, item in ipairs(list) do
      if not M.terminals[item.terminalId] then
        M.ensure(item.terminalId, item.command)
        vim.api.nvim_chan_send(M.terminals[item.terminalId].chan, item.tail or '')
      end
    end
    if #list == 0 then
      vim.notify('[openbolt] no terminals yet')
      return
    end
    vim.ui.select(list, {
      prompt = 'OpenBolt terminal',
      format_item = function(item)
        return string.format('%d  %s  %s', item.terminalId, item.running and 'running' or 'exited', item.command)
      end,
    }, function(choice)
      if choice then
        M.open(choice.terminalId)
      end
    end)
  end)
end

-- Keep each visible terminal's process informed of its window's size.
vim.api.nvim_create_autocmd({ 'WinResized', 'VimResized' }, {
  group = vim.api.nvim_create_augroup('openbolt.terminal', { clear = true }),
  callback = function()
    for id, terminal in pairs(M.terminals) do
      if terminal.running then
        for _, win in ipairs(vim.fn.win_findbuf(terminal.buf)) do
          M.resize(id, win)
        end
      end
    end
  end,
})

return M
