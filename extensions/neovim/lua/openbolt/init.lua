-- OpenBolt for Neovim: describe an app, watch it being written, run, and previewed. A thin client of
-- `openbolt lsp`; see `:help openbolt`.
local M = {}

local chat = require('openbolt.chat')
--- Files opened for `follow_files` since the user's last prompt.
local followed = 0

local state = {
  options = nil, ---@type openbolt.Options|nil
  client_id = nil, ---@type integer|nil
  session_id = nil, ---@type string|nil
  request = nil, ---@type {client: vim.lsp.Client, id: integer}|nil
}

--- Sets the options (validated, merged over the defaults). Safe to call again: later calls replace the
--- options and update a running server's settings.
---@param opts table|nil
function M.setup(opts)
  state.options = require('openbolt.config').resolve(opts)
  local client = M.client(false)
  if client then
    -- The server pulls its section (workspace/configuration), answered from client.settings.
    client.settings = { openbolt = state.options.settings }
    client:notify('workspace/didChangeConfiguration', { settings = client.settings })
  end
  return M
end

function M.options()
  if not state.options then
    state.options = require('openbolt.config').resolve({})
  end
  return state.options
end

--- The running OpenBolt client; with `start`, starts the server when none runs.
---@param start boolean|nil
---@return vim.lsp.Client|nil
function M.client(start)
  if state.client_id then
    local client = vim.lsp.get_client_by_id(state.client_id)
    if client and not client:is_stopped() then
      return client
    end
    state.client_id = nil
  end
  -- A client being stopped is still listed for a moment: never hand out one.
  for _, running in ipairs(vim.lsp.get_clients({ name = 'openbolt' })) do
    if not running:is_stopped() then
      state.client_id = running.id
      return running
    end
  end
  if start == false then
    return nil
  end
  local options = M.options()
  local server = require('openbolt.server')
  local found, missing = server.find(options.cmd)
  local problem = missing or server.mismatch(found)
  if problem then
    vim.notify('[openbolt] ' .. problem, vim.log.levels.ERROR)
    return nil
  end
  local base = vim.lsp.config and vim.lsp.config.openbolt or {}
  local config = vim.tbl_deep_extend('force', base, {
    name = 'openbolt',
    cmd = server.start,
    root_dir = vim.fs.root(0, base.root_markers or { '.git' }) or vim.fn.getcwd(),
    init_options = { savesEdits = true, handlesPreview = true, sendsDiagnostics = true, openbolt = options.settings },
    settings = { openbolt = options.settings },
    handlers = require('openbolt.handlers'),
  })
  state.client_id = vim.lsp.start(config, { attach = false })
  return state.client_id and vim.lsp.get_client_by_id(state.client_id) or nil
end

--- Runs `fn` once the client has finished `initialize` (requests sent before would be refused).
---@param client vim.lsp.Client
---@param fn fun()
local function when_ready(client, fn, waited)
  waited = waited or 0
  if client.initialized then
    return fn()
  end
  if client:is_stopped() or waited > 15000 then
    vim.notify('[openbolt] the server did not start; see :checkhealth openbolt and :LspLog', vim.log.levels.ERROR)
    return
  end
  vim.defer_fn(function()
    when_ready(client, fn, waited + 20)
  end, 20)
end

--- `:OpenBolt [prompt]`: opens the chat; with a prompt, sends it.
function M.command(prompt)
  chat.open(M.options(), M.chat)
  if prompt and vim.trim(prompt) ~= '' then
    M.chat(prompt)
  end
end

--- A new session's id, chosen by the client.
local function new_session_id()
  local seconds, micros = vim.uv.gettimeofday()
  return string.format('nvim-%x%05x-%04x', seconds, micros, math.random(0, 0xffff))
end

--- Sends a prompt in the current session (a new one the first time).
function M.chat(prompt)
  local client = M.client(true)
  if not client then
    return
  end
  if state.request then
    vim.notify('[openbolt] a reply is still streaming: :OpenBoltStop first', vim.log.levels.WARN)
    return
  end
  chat.open(M.options(), M.chat)
  chat.user_message(prompt)
  followed = 0
  -- A new conversation gets its id here, so that :OpenBoltStop can name it from the first moment.
  state.session_id = state.session_id or new_session_id()
  local params = { prompt = prompt, sessionId = state.session_id }
  local buf = vim.api.nvim_get_current_buf()
  local name = vim.api.nvim_buf_get_name(buf)
  if name ~= '' and vim.bo[buf].buftype == '' then
    params.context = { uri = vim.uri_from_bufnr(buf) }
  end
  state.request = { client = client, id = nil }
  when_ready(client, function()
    M.send_chat(client, params)
  end)
end

function M.send_chat(client, params)
  local ok, id = client:request('openbolt/chat', params, function(err, result)
    state.request = nil
    if err then
      chat.status_line('**Error:** ' .. err.message)
      return
    end
    state.session_id = result.sessionId
    local usage = result.usage
    local tokens = usage and string.format(' · tokens in %d, out %d', usage.inputTokens, usage.outputTokens) or ''
    if result.status == 'complete' then
      chat.status_line('— done' .. tokens)
    elseif result.status == 'aborted' then
      chat.status_line('— stopped' .. tokens)
    else
      chat.status_line('— failed: ' .. (result.error or 'unknown error') .. tokens)
    end
  end)
  if ok then
    state.request = { client = client, id = id }
  else
    state.request = nil
    chat.status_line('**Error:** the server is not running')
  end
end

--- Whether a reply is streaming (for a statusline; a new prompt waits until it is not).
---@return boolean
function M.busy()
  return state.request ~= nil
end

--- `:OpenBoltStop`: stops the running turn (its command and dev server too).
function M.stop()
  local running = state.request
  if not running then
    vim.notify('[openbolt] nothing is running')
    return
  end
  -- Stops this session's turn only; its answer then says "— stopped". A turn the server has not
  -- begun yet is stopped by cancelling its request.
  running.client:request('openbolt/abort', { sessionId = state.session_id }, function(err, stopped)
    if (err or not stopped) and state.request == running and running.id then
      running.client:cancel_request(running.id)
      state.request = nil
      chat.status_line('— stopped')
    end
  end)
end

--- Sends a request once the server is ready (starting it if none runs): a command typed right after
--- Neovim starts waits for the server instead of failing.
---@param method string
---@param params table|nil
---@param handler fun(err: table|nil, result: any)
local function request(method, params, handler)
  local client = M.client(true)
  if not client then
    return nil
  end
  when_ready(client, function()
    client:request(method, params, handler)
  end)
  return client
end

--- `:OpenBoltSessions`: pick a session and show it; later prompts continue it.
function M.pick_session()
  local client = request('openbolt/sessions', nil, function(err, sessions)
    if err then
      vim.notify('[openbolt] ' .. err.message, vim.log.levels.ERROR)
      return
    end
    if not sessions or #sessions == 0 then
      vim.notify('[openbolt] no sessions yet')
      return
    end
    vim.ui.select(sessions, {
      prompt = 'OpenBolt session',
      format_item = function(session)
        return string.format('%s (%d messages)', session.title, session.messageCount)
      end,
    }, function(choice)
      if not choice then
        return
      end
      request('openbolt/loadSession', { sessionId = choice.sessionId }, function(load_err, transcript)
        if load_err then
          vim.notify('[openbolt] ' .. load_err.message, vim.log.levels.ERROR)
          return
        end
        state.session_id = transcript.sessionId
        chat.open(M.options(), M.chat)
        chat.show_transcript(transcript)
      end)
    end)
  end)
  return client ~= nil
end

--- `:OpenBoltRevert`: undoes the last turn's file changes.
function M.revert()
  if not state.session_id then
    vim.notify('[openbolt] nothing to revert', vim.log.levels.WARN)
    return
  end
  if state.request then
    -- A turn being checked is waited for (one still replying is refused).
    vim.notify('[openbolt] the revert waits for the running turn to end…')
  end
  request('openbolt/revert', { sessionId = state.session_id }, function(err, result)
    if err then
      vim.notify('[openbolt] ' .. err.message, vim.log.levels.WARN)
      return
    end
    local lines = {}
    for _, file in ipairs(result.files or {}) do
      table.insert(lines, string.format('%s %s%s', file.status, file.path, file.reason and (' — ' .. file.reason) or ''))
    end
    chat.status_line(string.format('— reverted %d turn(s)', #(result.reverted or {})))
    if #lines > 0 then
      chat.status_line(table.concat(lines, '\n'))
    end
  end)
end

--- The lines `:OpenBoltMcp` shows for the servers' states.
function M.mcp_lines(servers)
  if #servers == 0 then
    return { 'No MCP servers are configured (.openbolt/mcp.json, ~/.config/openbolt/mcp.json or settings.mcpServers).' }
  end
  local lines = {}
  for _, server in ipairs(servers) do
    local state
    if server.state == 'ready' then
      state = string.format('ready, %d tools: %s', #server.tools, table.concat(server.tools, ', '))
    elseif server.state == 'failed' then
      state = 'failed: ' .. (server.error or '?')
    else
      state = 'not started (starts with the next turn)'
    end
    table.insert(lines, string.format('%s (%s, from %s) — %s', server.name, server.transport, server.source, state))
  end
  return lines
end

--- `:OpenBoltMcp`: the configured MCP servers and what each is doing, in a scratch buffer.
function M.mcp()
  request('openbolt/mcpServers', nil, function(err, servers)
    if err then
      vim.notify('[openbolt] ' .. err.message, vim.log.levels.ERROR)
      return
    end
    local lines = M.mcp_lines(servers or {})
    local buf = vim.fn.bufnr('openbolt://mcp')
    if buf == -1 then
      buf = vim.api.nvim_create_buf(false, true)
      vim.api.nvim_buf_set_name(buf, 'openbolt://mcp')
      vim.bo[buf].bufhidden = 'wipe'
    end
    vim.bo[buf].modifiable = true
    vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
    vim.bo[buf].modifiable = false
    if vim.fn.bufwinid(buf) == -1 then
      vim.cmd('botright ' .. math.min(#lines + 1, 12) .. 'split')
      vim.api.nvim_win_set_buf(0, buf)
    end
  end)
end

function M.pick_terminal()
  require('openbolt.terminal').pick()
end

--- Files the AI changed, newest last: { messageId, filePath }.
local changes = {}

--- `:OpenBoltDiff [path]`: the last change the AI made to {path} (default: the last file it changed), as
--- a before/after diff in a new tab.
function M.diff(path)
  local change
  for index = #changes, 1, -1 do
    if path == nil or path == '' or changes[index].filePath == path then
      change = changes[index]
      break
    end
  end
  if not change then
    vim.notify('[openbolt] no change to show' .. (path and path ~= '' and (' for ' .. path) or ''), vim.log.levels.WARN)
    return
  end
  request('openbolt/fileDiff', change, function(err, result)
    if err then
      vim.notify('[openbolt] ' .. err.message, vim.log.levels.WARN)
      return
    end
    local filetype = vim.filetype.match({ filename = result.filePath }) or ''
    local function side(name, text)
      local buf = vim.api.nvim_create_buf(false, true)
      vim.api.nvim_buf_set_lines(buf, 0, -1, false, vim.split((text or ''):gsub('\n$', ''), '\n', { plain = true }))
      vim.api.nvim_buf_set_name(buf, string.format('openbolt://%s/%s (%s)', change.messageId, result.filePath, name))
      vim.bo[buf].filetype = filetype
      vim.bo[buf].modifiable = false
      vim.bo[buf].bufhidden = 'wipe'
      return buf
    end
    vim.cmd('tabnew')
    vim.api.nvim_win_set_buf(0, side('before', result.before))
    vim.cmd('diffthis')
    vim.cmd('vsplit')
    vim.api.nvim_win_set_buf(0, side('after', result.after))
    vim.cmd('diffthis')
  end)
end

-- Notifications from the server (see handlers.lua).

function M.on_turn_start(params)
  local fix = params.fixRound
  if fix and (state.session_id == nil or params.sessionId == state.session_id) then
    chat.status_line(
      string.format('— fix round %d of %d: %d problem%s sent back to the model', fix.round, fix.rounds, fix.problems, fix.problems == 1 and '' or 's')
    )
  end
end

function M.on_chat_delta(params)
  if state.session_id == nil or params.sessionId == state.session_id then
    chat.append(params.text)
  end
end

--- The window a file the AI wrote opens in: the last one that shows a file (not the chat, its prompt or
--- a terminal), else a new split beside the chat.
local function editing_window()
  local previous = vim.fn.win_getid(vim.fn.winnr('#'))
  local function usable(win)
    if win == 0 or not vim.api.nvim_win_is_valid(win) or win == chat.win or win == chat.prompt_win then
      return false
    end
    local buf = vim.api.nvim_win_get_buf(win)
    return vim.bo[buf].buftype == '' and vim.api.nvim_win_get_config(win).relative == ''
  end
  if usable(vim.api.nvim_get_current_win()) then
    return vim.api.nvim_get_current_win()
  end
  if usable(previous) then
    return previous
  end
  for _, win in ipairs(vim.api.nvim_tabpage_list_wins(0)) do
    if usable(win) then
      return win
    end
  end
  return nil
end

--- Shows `path` (relative to the workspace) in the editing window, the cursor staying where it is.
local function show_file(path)
  -- The server's paths are relative to its workspace (the client's root), not to Neovim's cwd.
  local client = M.client(false)
  local root = client and client.config.root_dir or vim.fn.getcwd()
  local file = vim.fs.joinpath(root, path)
  local buf = vim.fn.bufadd(file)
  vim.fn.bufload(buf)
  vim.bo[buf].buflisted = true
  local win = editing_window()
  if win then
    vim.api.nvim_win_set_buf(win, buf)
  else
    local current = vim.api.nvim_get_current_win()
    vim.cmd((M.options().chat.position == 'left' and 'botright' or 'topleft') .. ' vsplit')
    vim.api.nvim_win_set_buf(0, buf)
    vim.api.nvim_set_current_win(current)
  end
  return file
end

function M.on_action_update(params)
  if params.terminalId and params.command then
    require('openbolt.terminal').set_command(params.terminalId, params.command)
  end
  if params.status == 'complete' and (params.type == 'edit' or params.type == 'file') and params.filePath then
    table.insert(changes, { messageId = params.messageId, filePath = params.filePath })
    local follow = M.options().follow_files
    if
      (follow == 'all' or (follow == 'first' and followed == 0))
      and (state.session_id == nil or params.sessionId == state.session_id)
    then
      followed = followed + 1
      show_file(params.filePath)
    end
  end
  chat.action(params)
end

--- A search's findings in the quickfix list, opened below the editing windows: <CR> on a match opens
--- its file at its line (a listed file at its top).
local function show_found(action)
  local client = M.client(false)
  local root = client and client.config.root_dir or vim.fn.getcwd()
  local items = {}
  for _, hit in ipairs(action.found) do
    table.insert(items, {
      filename = vim.fs.joinpath(root, hit.path),
      lnum = hit.line or 1,
      col = 1,
      text = hit.text or '',
    })
  end
  vim.fn.setqflist({}, ' ', { title = 'OpenBolt: search ' .. (action.command or ''), items = items })
  local editing = editing_window()
  if editing then
    vim.api.nvim_set_current_win(editing)
  end
  vim.cmd('botright copen')
end

--- Opens what an action made (<CR> on its line in the chat): an edit's change as a diff, a file, a
--- command's terminal, a search's matches (in the quickfix list).
function M.open_action(action)
  if not action then
    vim.notify('[openbolt] no action on this line')
    return
  end
  if action.type == 'edit' and action.status == 'complete' and action.filePath then
    table.insert(changes, { messageId = action.messageId, filePath = action.filePath })
    M.diff(action.filePath)
  elseif (action.type == 'file' or action.type == 'read') and action.filePath then
    local file = show_file(action.filePath)
    local win = vim.fn.bufwinid(vim.fn.bufnr(file))
    if win ~= -1 then
      vim.api.nvim_set_current_win(win)
    end
  elseif action.type == 'search' and action.found and #action.found > 0 then
    show_found(action)
  elseif action.terminalId then
    require('openbolt.terminal').open(action.terminalId)
  else
    vim.notify('[openbolt] this action has nothing to open yet')
  end
end

function M.on_notice(params)
  chat.status_line('> ' .. params.text)
end

--- The reply is over and the turn waits for a check (its dev server, the editor's diagnostics).
function M.on_checking(params)
  if state.session_id == nil or params.sessionId == state.session_id then
    chat.status_line('… ' .. params.text)
  end
end

--- A page check's verdict, under the preview line: each problem with its top frame, and where its
--- screenshot is.
function M.on_page_check(params)
  if state.session_id ~= nil and params.sessionId ~= state.session_id then
    return
  end
  for _, line in ipairs(chat.verdict_lines(params)) do
    chat.status_line(line)
  end
end

function M.on_preview(params)
  chat.status_line('◉ preview: ' .. params.url)
  if M.options().preview.open and vim.ui.open then
    local ok = pcall(vim.ui.open, params.url)
    if ok then
      return
    end
  end
  vim.notify('[openbolt] preview: ' .. params.url)
end

return M
