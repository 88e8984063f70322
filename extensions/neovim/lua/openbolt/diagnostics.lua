-- The editor's own errors for the server's fix rounds: at each turn's start, the errors Neovim shows are
-- noted; when the turn's actions are done (`openbolt/actionsDone`), once diagnostics have settled, the
-- errors in the turn's files that were not there before are sent (`openbolt/diagnostics`). OpenBolt's
-- own diagnostics are left out, and so is a buffer with unsaved changes: the user is typing in it.
local M = {}

--- Diagnostics are settled when nothing changed for this long (ms)…
local QUIET = 700
--- …or, at the most, after this long.
local MAX_WAIT = 4000

local before = {}
local last_change = vim.uv.now()

vim.api.nvim_create_autocmd('DiagnosticChanged', {
  group = vim.api.nvim_create_augroup('openbolt.diagnostics', { clear = true }),
  callback = function()
    last_change = vim.uv.now()
  end,
})

local function root()
  return vim.fn.getcwd()
end

local function relative(name)
  local prefix = root() .. '/'
  if name:sub(1, #prefix) == prefix then
    return name:sub(#prefix + 1)
  end
end

local function errors(buf)
  local out = {}
  for _, diagnostic in ipairs(vim.diagnostic.get(buf, { severity = vim.diagnostic.severity.ERROR })) do
    if diagnostic.source ~= 'openbolt' then
      table.insert(out, diagnostic)
    end
  end
  return out
end

local function key(diagnostic)
  return diagnostic.lnum .. ':' .. diagnostic.message
end

--- A turn began: note what is wrong already.
function M.turn_started(message_id)
  local snapshot = {}
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    local name = relative(vim.api.nvim_buf_get_name(buf))
    if name then
      snapshot[name] = {}
      for _, diagnostic in ipairs(errors(buf)) do
        snapshot[name][key(diagnostic)] = true
      end
    end
  end
  before[message_id] = snapshot
end

--- The new errors of `files` (relative), by file.
function M.new_errors(message_id, files)
  local known = before[message_id] or {}
  before[message_id] = nil
  local reported = {}
  for _, file in ipairs(files) do
    local buf = vim.fn.bufnr(root() .. '/' .. file)
    if buf > 0 and not vim.bo[buf].modified then
      local fresh = {}
      for _, diagnostic in ipairs(errors(buf)) do
        if not (known[file] or {})[key(diagnostic)] then
          table.insert(fresh, { line = diagnostic.lnum, message = diagnostic.message, source = diagnostic.source })
        end
      end
      if #fresh > 0 then
        table.insert(reported, { filePath = file, diagnostics = fresh })
      end
    end
  end
  return reported
end

--- The turn's actions are done: once diagnostics settle, send the new errors of `files`.
function M.collect(client, params)
  local started = vim.uv.now()
  last_change = math.max(last_change, started)
  local function check()
    local now = vim.uv.now()
    if now - last_change < QUIET and now - started < MAX_WAIT then
      vim.defer_fn(check, 100)
      return
    end
    local files = M.new_errors(params.messageId, params.files)
    -- The last report (for tests).
    M.last = { params = params, files = files }
    client:notify('openbolt/diagnostics', {
      sessionId = params.sessionId,
      messageId = params.messageId,
      files = files,
    })
  end
  check()
end

return M
