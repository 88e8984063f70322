-- Handlers for the server's notifications and for the requests where OpenBolt differs from Neovim's
-- defaults. Used by lsp/openbolt.lua, so `vim.lsp.enable('openbolt')` gets them too.

---@param client_id integer
local function client_of(client_id)
  return vim.lsp.get_client_by_id(client_id)
end

--- Applies the edit like Neovim does, then saves every buffer it touched (we declared `savesEdits`), so
--- the server finds the file on disk before it runs the next action.
local function apply_edit(_, params, ctx)
  local client = client_of(ctx.client_id)
  if not client then
    return { applied = false, failureReason = 'no client' }
  end
  -- The documents that are empty before the edit (a file the AI creates, or an empty one).
  local was_empty = {}
  for _, change in ipairs(params.edit.documentChanges or {}) do
    local uri = change.textDocument and change.textDocument.uri
    if uri then
      local buf = vim.uri_to_bufnr(uri)
      if vim.api.nvim_buf_is_loaded(buf) then
        was_empty[uri] = vim.api.nvim_buf_line_count(buf) == 1 and vim.api.nvim_buf_get_lines(buf, 0, 1, false)[1] == ''
      else
        local stat = vim.uv.fs_stat(vim.uri_to_fname(uri))
        was_empty[uri] = stat == nil or stat.size == 0
      end
    end
  end
  local ok, err = pcall(vim.lsp.util.apply_workspace_edit, params.edit, client.offset_encoding)
  if not ok then
    return { applied = false, failureReason = tostring(err) }
  end
  for _, change in ipairs(params.edit.documentChanges or {}) do
    local uri = change.textDocument and change.textDocument.uri
    if uri then
      local buf = vim.uri_to_bufnr(uri)
      local path = vim.uri_to_fname(uri)
      vim.fn.mkdir(vim.fs.dirname(path), 'p')
      if was_empty[uri] and vim.api.nvim_buf_is_loaded(buf) then
        -- Text inserted into an empty buffer keeps its final line break as an empty last line, which
        -- 'eol' would write once more: Neovim keeps that break as 'eol'. Text without one is written
        -- without one.
        local count = vim.api.nvim_buf_line_count(buf)
        if count > 1 and vim.api.nvim_buf_get_lines(buf, count - 1, count, false)[1] == '' then
          vim.api.nvim_buf_set_lines(buf, count - 1, count, false, {})
          vim.bo[buf].eol = true
        elseif vim.api.nvim_buf_get_lines(buf, count - 1, count, false)[1] ~= '' then
          vim.bo[buf].eol = false
          vim.bo[buf].fixeol = false
        end
      end
      if vim.api.nvim_buf_is_loaded(buf) then
        vim.api.nvim_buf_call(buf, function()
          vim.cmd('silent! noautocmd write!')
        end)
      end
      -- Attached buffers also send didSave themselves; one more is harmless, and an unattached buffer
      -- (a file the AI created) needs this one.
      client:notify('textDocument/didSave', { textDocument = { uri = uri } })
    end
  end
  return { applied = true }
end

local function openbolt()
  return require('openbolt')
end

--- Asks like Neovim does (vim.ui.select), and meanwhile shows the question on the action's line in the
--- chat: the server's items name the action asking.
local function show_message_request(err, params, ctx)
  local item = params and params.actions and params.actions[1]
  if not (item and item.messageId and item.actionId) then
    return vim.lsp.handlers['window/showMessageRequest'](err, params, ctx)
  end
  local chat = require('openbolt.chat')
  chat.asking(item.messageId, item.actionId, true, item.command, item.type)
  -- (Neovim's handler may yield its coroutine until the user picks: call it plainly.)
  local result = vim.lsp.handlers['window/showMessageRequest'](err, params, ctx)
  chat.asking(item.messageId, item.actionId, false)
  return result
end

return {
  ['workspace/applyEdit'] = apply_edit,
  ['window/showMessageRequest'] = show_message_request,
  ['openbolt/turnStart'] = function(_, params)
    require('openbolt.diagnostics').turn_started(params.messageId)
    openbolt().on_turn_start(params)
  end,
  ['openbolt/actionsDone'] = function(_, params, ctx)
    local client = vim.lsp.get_client_by_id(ctx.client_id)
    if client then
      require('openbolt.diagnostics').collect(client, params)
    end
  end,
  ['openbolt/chatDelta'] = function(_, params)
    openbolt().on_chat_delta(params)
  end,
  ['openbolt/actionUpdate'] = function(_, params)
    openbolt().on_action_update(params)
  end,
  ['openbolt/notice'] = function(_, params)
    openbolt().on_notice(params)
  end,
  ['openbolt/checking'] = function(_, params)
    openbolt().on_checking(params)
  end,
  ['openbolt/terminalOutput'] = function(_, params)
    require('openbolt.terminal').output(params.terminalId, params.data)
  end,
  ['openbolt/terminalExit'] = function(_, params)
    require('openbolt.terminal').exit(params.terminalId, params.exitCode, params.signal)
  end,
  ['openbolt/preview'] = function(_, params)
    openbolt().on_preview(params)
  end,
  ['openbolt/pageCheck'] = function(_, params)
    openbolt().on_page_check(params)
  end,
  ['openbolt/error'] = function(_, params)
    vim.notify('[openbolt] ' .. params.message, vim.log.levels.ERROR)
  end,
}
