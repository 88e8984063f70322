-- The chat panel: a Markdown buffer the reply streams into, action statuses in place, and a prompt line
-- below it for the next message.
local M = {}

local ns = vim.api.nvim_create_namespace('openbolt.chat')

M.buf = nil
M.win = nil
M.prompt_buf = nil
M.prompt_win = nil
--- text waiting for the next scheduled flush
local pending = {}
local flush_scheduled = false
--- actionKey -> extmark id of the action's line
local action_marks = {}
--- actionKey -> the action's latest update
local actions = {}
--- actionKey -> true while the server's approval question about it is open
local asking = {}
--- How many blank lines stand between prose and an action's line (none between two actions).
local BLANK_BEFORE_ACTION = 1

--- `lines` ends with `keep` blank lines and then the (empty) line being written, if it has text at all.
local function settle_end(lines, keep)
  local blank = 0
  while blank < #lines and lines[#lines - blank] == '' do
    blank = blank + 1
  end
  if blank == #lines then
    return
  end
  for _ = keep + 2, blank do
    table.remove(lines)
  end
  for _ = blank + 1, keep + 1 do
    table.insert(lines, '')
  end
end

--- Prose that follows an action's line: one blank line between them, `nil` while it is only line breaks.
local function after_action_text(text)
  local rest = text:gsub('^\n+', '')
  if rest == '' then
    return nil
  end
  return '\n' .. rest
end

local icons = {
  pending = '◌',
  approval = '?',
  running = '▸',
  complete = '✓',
  failed = '✗',
  aborted = '■',
  skipped = '–',
}

local function valid(buf)
  return buf and vim.api.nvim_buf_is_valid(buf)
end

local function ensure_buffer()
  if valid(M.buf) then
    return M.buf
  end
  M.buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_name(M.buf, 'openbolt://chat')
  vim.bo[M.buf].filetype = 'markdown'
  vim.bo[M.buf].bufhidden = 'hide'
  vim.bo[M.buf].modifiable = false
  action_marks = {}
  actions = {}
  -- <CR> on an action's line opens what it made: its file, its change, its terminal, what it found.
  vim.keymap.set('n', '<CR>', function()
    require('openbolt').open_action(M.action_at_cursor())
  end, { buffer = M.buf, desc = "OpenBolt: open the action's file, change, terminal or matches" })
  return M.buf
end

local function with_modifiable(fn)
  local buf = ensure_buffer()
  vim.bo[buf].modifiable = true
  local ok, err = pcall(fn, buf)
  vim.bo[buf].modifiable = false
  if not ok then
    error(err, 0)
  end
end

local function scroll_to_end()
  if M.win and vim.api.nvim_win_is_valid(M.win) then
    vim.api.nvim_win_set_cursor(M.win, { vim.api.nvim_buf_line_count(M.buf), 0 })
  end
end

--- Appends text at the very end of the buffer (a delta may continue the last line).
local function append_now(text)
  with_modifiable(function(buf)
    local last = vim.api.nvim_buf_line_count(buf) - 1
    local last_text = vim.api.nvim_buf_get_lines(buf, last, last + 1, false)[1] or ''
    local lines = vim.split(text, '\n', { plain = true })
    vim.api.nvim_buf_set_text(buf, last, #last_text, last, #last_text, lines)
  end)
end

--- The end of the buffer: its last 64 lines (from row `from`) and how many of them are blank at the end.
local function buffer_end(buf)
  local count = vim.api.nvim_buf_line_count(buf)
  local from = math.max(0, count - 64)
  local tail = vim.api.nvim_buf_get_lines(buf, from, count, false)
  local blank = 0
  while blank < #tail and tail[#tail - blank] == '' do
    blank = blank + 1
  end
  return tail, from, count, blank
end

--- Whether the last line with text is an action's (it carries the action's mark). Decided from the
--- buffer, not from the order events came in.
local function ends_with_action(buf)
  -- An action's line ends with a line break: text on the last line (a reply streaming mid-line, the
  -- common case) settles it without reading further.
  local count = vim.api.nvim_buf_line_count(buf)
  if (vim.api.nvim_buf_get_lines(buf, count - 1, count, false)[1] or '') ~= '' then
    return false
  end
  local tail, from, _, blank = buffer_end(buf)
  if blank == #tail then
    return false
  end
  local row = from + #tail - blank - 1
  return #vim.api.nvim_buf_get_extmarks(buf, ns, { row, 0 }, { row, 0 }, { limit = 1 }) > 0
end

--- Rewrites only the blank lines at the end of the buffer so that `keep` of them stand before the line
--- being written (the marks of the lines above stay).
local function settle_blank_end(buf, keep)
  local tail, _, count, blank = buffer_end(buf)
  settle_end(tail, keep)
  local settled = 0
  while settled < #tail and tail[#tail - settled] == '' do
    settled = settled + 1
  end
  if settled ~= blank then
    with_modifiable(function(changed)
      vim.api.nvim_buf_set_lines(changed, count - blank, count, false, vim.fn['repeat']({ '' }, settled))
    end)
  end
end

local function flush()
  flush_scheduled = false
  if #pending == 0 then
    return
  end
  local text = table.concat(pending)
  pending = {}
  text = text:gsub('\r\n', '\n')
  local buf = ensure_buffer()
  if ends_with_action(buf) then
    -- Prose after an action's line starts one blank line below it, whatever line breaks it begins
    -- with (the artifact's own, each look-up round's new paragraph).
    text = after_action_text(text)
    if not text then
      return
    end
    settle_blank_end(buf, 0)
  end
  append_now(text)
  scroll_to_end()
end

--- Streams reply text into the panel; appends are batched into one buffer change per event-loop turn,
--- so a fast reply never makes the editor stutter.
function M.append(text)
  table.insert(pending, text)
  if not flush_scheduled then
    flush_scheduled = true
    vim.schedule(flush)
  end
end

--- Starts a new line if the buffer does not end with one.
local function ensure_new_line()
  flush()
  local buf = ensure_buffer()
  local last = vim.api.nvim_buf_line_count(buf) - 1
  local last_text = vim.api.nvim_buf_get_lines(buf, last, last + 1, false)[1] or ''
  if last_text ~= '' then
    append_now('\n')
  end
end

function M.user_message(prompt)
  ensure_new_line()
  local buf = ensure_buffer()
  local only = vim.api.nvim_buf_line_count(buf) == 1 and vim.api.nvim_buf_get_lines(buf, 0, 1, false)[1] == ''
  append_now((only and '' or '\n') .. '## You\n\n' .. prompt .. '\n\n## OpenBolt\n\n')
  scroll_to_end()
end

function M.status_line(text)
  ensure_new_line()
  append_now(text .. '\n')
  scroll_to_end()
end

local function describe(update)
  -- A search is named by its query (its path is part of it).
  local what = (update.type == 'search' and update.command) or update.filePath or update.command or update.type
  what = (what:gsub('\n.*', ' …'))
  local line = string.format('%s %s %s', icons[update.status] or '?', update.type, what)
  if update.exitCode and update.status ~= 'complete' then
    line = line .. string.format(' (exit %d)', update.exitCode)
  elseif update.summary then
    line = line .. ' (' .. update.summary .. ')'
  end
  local key = (update.messageId or '') .. '/' .. tostring(update.actionId)
  if update.status == 'approval' or (asking[key] and update.status == 'pending') then
    line = line .. ' — waiting for your approval: Run / Always for this session / Skip'
  end
  if update.error then
    line = line .. ' — ' .. update.error
  end
  return line
end

--- Shows an action's status on its own line, updated in place as the status changes.
function M.action(update)
  local key = (update.messageId or '') .. '/' .. tostring(update.actionId)
  -- An update that does not name the command yet (the action's first, overtaken by its approval
  -- question) keeps the command already known.
  if update.command == nil and actions[key] then
    update.command = actions[key].command
  end
  actions[key] = update
  local mark = action_marks[key]
  if mark then
    flush()
    local position = vim.api.nvim_buf_get_extmark_by_id(M.buf, ns, mark, {})
    if position[1] then
      with_modifiable(function(buf)
        -- Replace the line's text, not the line: the mark stays where it is.
        local old = vim.api.nvim_buf_get_lines(buf, position[1], position[1] + 1, false)[1] or ''
        vim.api.nvim_buf_set_text(buf, position[1], 0, position[1], #old, { describe(update) })
      end)
      return
    end
  end
  flush()
  local buf = ensure_buffer()
  -- The blank lines before it settle to their number (none after another action's line).
  settle_blank_end(buf, ends_with_action(buf) and 0 or BLANK_BEFORE_ACTION)
  ensure_new_line()
  local row = vim.api.nvim_buf_line_count(buf) - 1
  append_now(describe(update) .. '\n')
  -- Left gravity: text inserted where the mark sits goes after it, and the mark keeps its line.
  action_marks[key] = vim.api.nvim_buf_set_extmark(buf, ns, row, 0, { right_gravity = false })
  scroll_to_end()
end

--- The server asks (or stopped asking) whether to run an action: its line says so in place.
function M.asking(message_id, action_id, open, command, kind)
  local key = (message_id or '') .. '/' .. tostring(action_id)
  asking[key] = open or nil
  -- The question may overtake the action's updates: then it makes the action's line itself.
  local update = actions[key] or { messageId = message_id, actionId = action_id, type = kind or 'shell', status = 'pending' }
  update.command = update.command or command
  if open or actions[key] then
    M.action(update)
  end
end

--- A reply's prose cut at its actions' places, in the model's order: { {text=…} | {actions={…}} … }.
--- An action without a place (an older server) goes after the prose.
function M.segments(text, actions)
  local groups, offsets = {}, {}
  for _, action in ipairs(actions or {}) do
    local offset = action.proseOffset and action.proseOffset.utf8 or #text
    offset = math.min(offset, #text)
    if not groups[offset] then
      groups[offset] = {}
      table.insert(offsets, offset)
    end
    table.insert(groups[offset], action)
  end
  table.sort(offsets)
  local out, from = {}, 0
  for _, offset in ipairs(offsets) do
    table.insert(out, { text = text:sub(from + 1, offset) })
    table.sort(groups[offset], function(a, b)
      return a.actionId < b.actionId
    end)
    table.insert(out, { actions = groups[offset] })
    from = offset
  end
  table.insert(out, { text = text:sub(from + 1) })
  return out
end

--- Replaces the panel's content with a loaded session: each reply in the model's order (prose, its
--- actions, more prose), built as one buffer change, however long the session.
function M.show_transcript(transcript)
  pending = {}
  local lines = { '' }
  local marks = {}
  local function add(text)
    local parts = vim.split((text:gsub('\r\n', '\n')), '\n', { plain = true })
    lines[#lines] = lines[#lines] .. parts[1]
    for index = 2, #parts do
      table.insert(lines, parts[index])
    end
  end
  local function new_line()
    if lines[#lines] ~= '' then
      table.insert(lines, '')
    end
  end
  for _, message in ipairs(transcript.messages or {}) do
    if message.role == 'user' then
      new_line()
      add(((#lines == 1 and lines[1] == '') and '' or '\n') .. '## You\n\n' .. message.text .. '\n\n## OpenBolt\n\n')
    else
      local follows_action = false
      for _, segment in ipairs(M.segments(message.text or '', message.actions)) do
        if segment.text then
          local text = segment.text:gsub('\r\n', '\n')
          if follows_action then
            text = after_action_text(text)
          end
          if text then
            add(text)
            follows_action = false
          end
        else
          for _, action in ipairs(segment.actions) do
            action.messageId = message.messageId
            settle_end(lines, follows_action and 0 or BLANK_BEFORE_ACTION)
            new_line()
            follows_action = true
            table.insert(marks, { key = message.messageId .. '/' .. tostring(action.actionId), row = #lines - 1, update = action })
            add(describe(action) .. '\n')
          end
        end
      end
      -- The page checks of the previews it left running, with their screenshots.
      for _, check in ipairs(message.pages or {}) do
        new_line()
        add(table.concat(M.verdict_lines(check), '\n') .. '\n')
      end
    end
  end
  with_modifiable(function(buf)
    vim.api.nvim_buf_clear_namespace(buf, ns, 0, -1)
    vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  end)
  action_marks = {}
  actions = {}
  for _, mark in ipairs(marks) do
    action_marks[mark.key] = vim.api.nvim_buf_set_extmark(M.buf, ns, mark.row, 0, { right_gravity = false })
    actions[mark.key] = mark.update
  end
  scroll_to_end()
end

--- A page check's verdict as the chat shows it, one line each: the headline, each problem with its top
--- frame, and the screenshot's file (`gf` opens it).
function M.verdict_lines(check)
  if check.error then
    return { '! page check of ' .. check.url .. ' failed: ' .. check.error }
  end
  local unsettled = check.settled and '' or ' (it did not settle in time)'
  local problems = check.problems or {}
  local lines = {}
  if #problems == 0 then
    table.insert(lines, '✓ page check: ' .. check.url .. ' shows no problem' .. unsettled)
  else
    table.insert(lines, string.format('✗ page check: %s has %d problem%s%s', check.url, #problems, #problems == 1 and '' or 's', unsettled))
  end
  for _, problem in ipairs(problems) do
    local times = (problem.count or 1) > 1 and string.format(' (×%d)', problem.count) or ''
    table.insert(lines, string.format('  %s: %s%s', problem.kind, vim.split(problem.message, '\n')[1], times))
    if problem.frames and problem.frames[1] then
      table.insert(lines, '    at ' .. problem.frames[1])
    end
  end
  if check.screenshot and check.screenshot.path then
    table.insert(lines, '◉ screenshot: ' .. check.screenshot.path)
  end
  return lines
end

--- The action on the cursor's line in the chat, if any.
function M.action_at_cursor()
  if not (M.win and vim.api.nvim_win_is_valid(M.win)) then
    return nil
  end
  local row = vim.api.nvim_win_get_cursor(M.win)[1] - 1
  for _, mark in ipairs(vim.api.nvim_buf_get_extmarks(M.buf, ns, { row, 0 }, { row, -1 }, {})) do
    for key, id in pairs(action_marks) do
      if id == mark[1] then
        return actions[key]
      end
    end
  end
  return nil
end

--- The panel's text (for tests and health checks).
function M.lines()
  flush()
  if not valid(M.buf) then
    return {}
  end
  return vim.api.nvim_buf_get_lines(M.buf, 0, -1, false)
end

--- Directories `@` completion never lists.
local skipped = {
  ['.git'] = true,
  node_modules = true,
  target = true,
  dist = true,
  build = true,
  ['.venv'] = true,
  __pycache__ = true,
}

--- The workspace's files (relative paths), at most 20,000.
local function workspace_files()
  local root = vim.fn.getcwd()
  local files = {}
  for name, kind in
    vim.fs.dir(root, {
      depth = 30,
      skip = function(dir)
        return not skipped[vim.fs.basename(dir)]
      end,
    })
  do
    if kind == 'file' then
      table.insert(files, name)
      if #files >= 20000 then
        break
      end
    end
  end
  return files
end

--- The files completing `prefix`, best first: a file name that starts with it, then a path that does,
--- then a path that contains it (ignoring case); shorter paths first.
function M.rank_mentions(files, prefix, limit)
  local wanted = prefix:lower()
  local scored = {}
  for _, file in ipairs(files) do
    local lower = file:lower()
    local name = lower:match('[^/]*$')
    local score
    if vim.startswith(name, wanted) then
      score = 0
    elseif vim.startswith(lower, wanted) then
      score = 1
    elseif lower:find(wanted, 1, true) then
      score = 2
    end
    if score then
      table.insert(scored, { score, file })
    end
  end
  table.sort(scored, function(a, b)
    if a[1] ~= b[1] then
      return a[1] < b[1]
    end
    if #a[2] ~= #b[2] then
      return #a[2] < #b[2]
    end
    return a[2] < b[2]
  end)
  local out = {}
  for index = 1, math.min(#scored, limit or 50) do
    out[index] = scored[index][2]
  end
  return out
end

--- 'omnifunc' of the prompt: completes `@path` with the workspace's files.
function M.complete_mention(findstart, base)
  if findstart == 1 then
    local line = vim.api.nvim_get_current_line():sub(1, vim.fn.col('.') - 1)
    local at = line:match('.*()@[^%s@]*$')
    -- An `@` that starts a word (the prompt ends with a space), not one inside an address.
    if not at or (at > 1 and not line:sub(at - 1, at - 1):match('%s')) then
      return -3
    end
    return at
  end
  return M.rank_mentions(workspace_files(), base, 50)
end

--- Opens the panel (chat above, a prompt line below) unless it is open.
---@param options openbolt.Options
---@param on_submit fun(prompt: string)
function M.open(options, on_submit)
  local buf = ensure_buffer()
  if not (M.win and vim.api.nvim_win_is_valid(M.win)) then
    local current = vim.api.nvim_get_current_win()
    vim.cmd((options.chat.position == 'left' and 'topleft' or 'botright') .. ' vsplit')
    M.win = vim.api.nvim_get_current_win()
    vim.api.nvim_win_set_buf(M.win, buf)
    vim.api.nvim_win_set_width(M.win, options.chat.width)
    vim.wo[M.win].wrap = true
    vim.wo[M.win].linebreak = true
    vim.wo[M.win].number = false
    if not valid(M.prompt_buf) then
      M.prompt_buf = vim.api.nvim_create_buf(false, true)
      vim.bo[M.prompt_buf].buftype = 'prompt'
      vim.bo[M.prompt_buf].bufhidden = 'hide'
      vim.fn.prompt_setprompt(M.prompt_buf, '› ')
      -- `@` lists the workspace's files (Vim's completion menu, or any completion plugin's omni source).
      vim.bo[M.prompt_buf].omnifunc = "v:lua.require'openbolt.chat'.complete_mention"
      -- The list narrows as you type; nothing is inserted until you pick.
      vim.bo[M.prompt_buf].completeopt = 'menuone,noinsert,noselect'
      vim.keymap.set('i', '@', '@<C-x><C-o>', { buffer = M.prompt_buf, desc = 'OpenBolt: complete a file' })
      vim.fn.prompt_setcallback(M.prompt_buf, function(text)
        if text and vim.trim(text) ~= '' then
          on_submit(text)
        end
      end)
    end
    vim.cmd('belowright split')
    M.prompt_win = vim.api.nvim_get_current_win()
    vim.api.nvim_win_set_buf(M.prompt_win, M.prompt_buf)
    vim.api.nvim_win_set_height(M.prompt_win, 2)
    vim.api.nvim_set_current_win(current)
  end
  scroll_to_end()
end

return M
