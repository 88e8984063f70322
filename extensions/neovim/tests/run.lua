-- End-to-end tests of the plugin in a real headless Neovim, against the real `openbolt` binary and the
-- provider stand-in (started by tests/neovim.rs, which runs this file and reads the last line:
-- `N passed, N failed`). Each test waits for what it expects with a timeout, never for a fixed time.
--
--   OPENBOLT_BIN=… ANTHROPIC_BASE_URL=… nvim --headless -u NONE -l extensions/neovim/tests/run.lua

local plugin = vim.fs.dirname(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)))
vim.opt.runtimepath:prepend(plugin)
vim.cmd('runtime plugin/openbolt.lua')
vim.o.swapfile = false
local tally = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/tally.lua')
local test = tally.test
vim.o.shortmess = vim.o.shortmess .. 'F'

local workspace = vim.fn.getcwd()
local notifications = {}
vim.notify = function(message, level)
  table.insert(notifications, { message = message, level = level })
end
-- Approvals go through vim.ui.select (Neovim's handler for window/showMessageRequest): answer Run.
local questions = {}
-- A test that picks from a list sets this; it returns the item to choose.
local choose = nil
-- What the chat showed while each question was open.
local chat_at_question = {}
vim.ui.select = function(items, opts, on_choice)
  table.insert(questions, opts.prompt or '')
  table.insert(chat_at_question, table.concat(require('openbolt.chat').lines(), '\n'))
  if choose then
    local pick = choose
    choose = nil
    return on_choice(pick(items))
  end
  for _, item in ipairs(items) do
    if item.title == 'Run' then
      return on_choice(item)
    end
  end
  on_choice(items[1])
end
local opened = {}
vim.ui.open = function(url)
  table.insert(opened, url)
  return {}, nil
end


local function wait_for(what, condition)
  if not vim.wait(30000, condition, 20) then
    error('timed out waiting for ' .. what .. '\nchat:\n' .. table.concat(require('openbolt.chat').lines(), '\n'), 2)
  end
end

local function chat_text()
  return table.concat(require('openbolt.chat').lines(), '\n')
end

local function read(path)
  local file = io.open(path, 'r')
  if not file then
    return nil
  end
  local text = file:read('*a')
  file:close()
  return text
end

-- The options of every test after the first.
local options = {
  cmd = { os.getenv('OPENBOLT_BIN'), 'lsp' },
  chat = { width = 60 },
  -- One automatic fix round (the chat says "of 1": the option reached the server).
  auto_fix = 1,
  -- tests/neovim.rs checks the output limit of every request: a quarter of contextTokens.
  settings = {
    sandbox = 'required',
    sandboxWritable = { '/srv/openbolt-nvim-shared' },
    sandboxDenyRead = { '/srv/openbolt-nvim-private' },
    sandboxAllowRead = { '~/.npmrc' },
    contextTokens = 40000,
    -- A real MCP server (npm's reference server), configured by the user: it starts unasked.
    mcpServers = { everything = { command = os.getenv('MCP_EVERYTHING'), args = { 'stdio' } } },
    -- This one tool is called without asking.
    mcpAllow = { 'everything/get-sum' },
  },
}

test('setup() validates its options and is safe to call twice', function()
  local openbolt = require('openbolt')
  local ok, err = pcall(openbolt.setup, { chat = { width = 'wide' } })
  assert(not ok and tostring(err):find('chat.width', 1, true), tostring(err))
  ok, err = pcall(openbolt.setup, { colour = 'blue' })
  assert(not ok and tostring(err):find('unknown option "colour"', 1, true), tostring(err))
  ok, err = pcall(openbolt.setup, { chat = { position = 'top' } })
  assert(not ok and tostring(err):find('chat.position', 1, true), tostring(err))
  ok, err = pcall(openbolt.setup, { settings = { sandbox = 'on' } })
  assert(not ok and tostring(err):find('settings.sandbox', 1, true), tostring(err))
  ok, err = pcall(openbolt.setup, { settings = { previewCheck = 'sometimes' } })
  assert(not ok and tostring(err):find('settings.previewCheck', 1, true), tostring(err))
  ok, err = pcall(openbolt.setup, { settings = { browserPath = true } })
  assert(not ok and tostring(err):find('settings.browserPath', 1, true), tostring(err))
  ok, err = pcall(openbolt.setup, { settings = { previewScreenshots = true } })
  assert(not ok and tostring(err):find('settings.previewScreenshots', 1, true), tostring(err))
  ok, err = pcall(openbolt.setup, { settings = { modelImages = 'yes' } })
  assert(not ok and tostring(err):find('settings.modelImages', 1, true), tostring(err))
  ok, err = pcall(openbolt.setup, { settings = { sandboxAllowGitHooks = 'yes' } })
  assert(not ok and tostring(err):find('settings.sandboxAllowGitHooks', 1, true), tostring(err))
  ok, err = pcall(openbolt.setup, { settings = { sandboxDenyRead = '~/.ssh' } })
  assert(not ok and tostring(err):find('settings.sandboxDenyRead', 1, true), tostring(err))
  ok, err = pcall(openbolt.setup, { settings = { sandboxNetwork = 'no' } })
  assert(not ok and tostring(err):find('settings.sandboxNetwork', 1, true), tostring(err))
  ok, err = pcall(openbolt.setup, { settings = { contextTokens = -5 } })
  assert(not ok and tostring(err):find('settings.contextTokens', 1, true), tostring(err))
  openbolt.setup({ cmd = { os.getenv('OPENBOLT_BIN'), 'lsp' }, chat = { width = 70 } })
  -- Commands of every later test run in the required sandbox.
  ok, err = pcall(openbolt.setup, { auto_fix = -1 })
  assert(not ok and tostring(err):find('auto_fix', 1, true), tostring(err))
  ok, err = pcall(openbolt.setup, { follow_files = 'some' })
  assert(not ok and tostring(err):find('follow_files', 1, true), tostring(err))
  openbolt.setup(options)
  assert(openbolt.options().chat.width == 60)
  assert(openbolt.options().preview.open == true, 'defaults kept')
end)

test('lsp/openbolt.lua is a config vim.lsp.config understands', function()
  local config = vim.lsp.config.openbolt
  assert(config, 'vim.lsp.config.openbolt')
  -- A function: it finds the server (setup()'s cmd, the plugin's build, PATH) and checks its protocol.
  assert(type(config.cmd) == 'function', vim.inspect(config.cmd))
  assert(config.init_options.savesEdits == true)
  assert(type(config.handlers['openbolt/chatDelta']) == 'function')
end)

test(':OpenBolt streams the reply, writes the file to disk and into a buffer', function()
  vim.cmd('OpenBolt build the page')
  wait_for('the turn to end', function()
    return chat_text():find('— done', 1, true) ~= nil
  end)
  local text = chat_text()
  assert(text:find('## You\n\nbuild the page', 1, true), text)
  assert(text:find("I'll write the page.", 1, true), text)
  assert(text:find('✓ file index.html', 1, true), text)
  assert(text:find('Open it in a browser.', 1, true), text)
  assert(read(workspace .. '/index.html') == '<h1>Hello from Neovim</h1>\n', read(workspace .. '/index.html'))
  local buf = vim.fn.bufnr(workspace .. '/index.html')
  assert(buf > 0, 'the file is in a buffer')
  assert(vim.api.nvim_buf_get_lines(buf, 0, -1, false)[1] == '<h1>Hello from Neovim</h1>')
  assert(not vim.bo[buf].modified, 'the buffer was saved')
end)

test('a command is approved and its output is in a terminal buffer', function()
  require('openbolt').chat('run it')
  wait_for('the turn to end', function()
    return select(2, chat_text():gsub('— done', '')) >= 2
  end)
  assert(#questions >= 1 and questions[#questions]:find('echo', 1, true), vim.inspect(questions))
  -- While it asked, the chat showed the question on the command's line.
  assert(
    chat_at_question[#chat_at_question]:find('shell echo hello from the terminal — waiting for your approval: Run / Always for this session / Skip', 1, true),
    chat_at_question[#chat_at_question]
  )
  assert(chat_text():find('✓ shell echo', 1, true), chat_text())
  -- The question may overtake the action's first update (they travel apart): the line keeps naming the
  -- command, never "shell shell".
  local chat = require('openbolt.chat')
  chat.asking('m-overtaken', 7, true, 'npm test', 'shell')
  chat.action({ messageId = 'm-overtaken', actionId = 7, artifactId = 'a', type = 'shell', status = 'pending' })
  assert(chat_text():find('◌ shell npm test — waiting for your approval', 1, true), chat_text():sub(-400))
  chat.asking('m-overtaken', 7, false)
  local terminals = require('openbolt.terminal').terminals
  local id, terminal = next(terminals)
  assert(id, 'a terminal')
  -- A terminal buffer no window shows is narrow: its lines wrap.
  local ok = vim.wait(30000, function()
    local text = table.concat(vim.api.nvim_buf_get_lines(terminal.buf, 0, -1, false), '')
    return text:find('hello from the terminal', 1, true) ~= nil and text:find('[exited with code 0]', 1, true) ~= nil
  end, 20)
  assert(ok, 'terminal buffer: ' .. vim.inspect(vim.api.nvim_buf_get_lines(terminal.buf, 0, -1, false)))
  assert(terminal.command:find('echo', 1, true), terminal.command)
end)

test(':OpenBoltStop stops a slow reply and nothing half-written is left', function()
  require('openbolt').chat('now slowly')
  wait_for('the file to be on its way', function()
    return chat_text():find('◌ file slow.txt', 1, true) ~= nil
  end)
  vim.cmd('OpenBoltStop')
  wait_for('the stop', function()
    return chat_text():find('— stopped', 1, true) ~= nil
  end)
  wait_for('the action to be aborted', function()
    return chat_text():find('■ file slow.txt', 1, true) ~= nil
  end)
  assert(read(workspace .. '/slow.txt') == nil, 'no half-written file')
end)

test('a started server opens its preview with vim.ui.open', function()
  require('openbolt').chat('serve it')
  local ok = vim.wait(60000, function()
    return #opened > 0
  end, 20)
  if not ok then
    local terminals = {}
    for id, terminal in pairs(require('openbolt.terminal').terminals) do
      terminals[id] = table.concat(vim.api.nvim_buf_get_lines(terminal.buf, 0, -1, false), '|')
    end
    error('no preview; chat:\n' .. chat_text() .. '\nterminals: ' .. vim.inspect(terminals) .. '\nquestions: ' .. vim.inspect(questions) .. '\nnotifications: ' .. vim.inspect(notifications))
  end
  assert(opened[1]:match('^http://localhost:%d+/$'), opened[1])
  assert(chat_text():find('◉ preview: ' .. opened[1], 1, true), chat_text())
end)

test(':OpenBoltSessions reloads the conversation', function()
  require('openbolt.chat').show_transcript({ messages = {} })
  assert(chat_text() == '')
  vim.cmd('OpenBoltSessions')
  wait_for('the transcript', function()
    return chat_text():find('build the page', 1, true) ~= nil and chat_text():find('✓ file index.html', 1, true) ~= nil
  end)
end)

test(':OpenBoltTerminal opens a terminal: keys reach its process, which learns the window size', function()
  -- The dev server's turn answered (the server runs on): a new prompt is taken.
  wait_for('the previous turn to end', function()
    return not require('openbolt').busy()
  end)
  require('openbolt').chat('an interactive program')
  wait_for('the program to run', function()
    return chat_text():find('▸ start', 1, true) ~= nil
  end)
  local terminals = require('openbolt.terminal').terminals
  local id
  wait_for('its terminal', function()
    for terminal_id, terminal in pairs(terminals) do
      if terminal.command:find('while read', 1, true) then
        id = terminal_id
      end
    end
    return id ~= nil
      and table.concat(vim.api.nvim_buf_get_lines(terminals[id].buf, 0, -1, false), ''):find('ready', 1, true) ~= nil
  end)
  choose = function(items)
    for _, item in ipairs(items) do
      if item.terminalId == id then
        return item
      end
    end
  end
  vim.cmd('OpenBoltTerminal')
  wait_for('the terminal window', function()
    return vim.api.nvim_win_get_buf(0) == terminals[id].buf
  end)
  local win = vim.api.nvim_get_current_win()
  local size = string.format('%d %d', vim.api.nvim_win_get_height(win), vim.api.nvim_win_get_width(win))
  -- What the terminal buffer's on_input hands on for typed keys (a script run by `nvim -l` cannot
  -- enter Terminal mode to type them).
  local terminal = require('openbolt.terminal')
  terminal.input(id, 'hello\r')
  local function screen()
    return table.concat(vim.api.nvim_buf_get_lines(terminals[id].buf, 0, -1, false), '')
  end
  wait_for('the typed line and the size', function()
    return screen():find('got:hello size:' .. size, 1, true) ~= nil
  end)
  -- A smaller window: the plugin's WinResized handler tells the process.
  vim.api.nvim_win_set_height(win, 8)
  wait_for('the resize to be noticed', function()
    return vim.api.nvim_win_get_height(win) == 8
  end)
  vim.api.nvim_exec_autocmds('WinResized', {})
  size = string.format('%d %d', vim.api.nvim_win_get_height(win), vim.api.nvim_win_get_width(win))
  terminal.input(id, 'again\r')
  wait_for('the new size', function()
    return screen():find('got:again size:' .. size, 1, true) ~= nil
  end)
  vim.cmd('close')
end)

--- The turn of `prompt` has ended (its answer came).
local function turn_ended(prompt)
  local text = chat_text()
  local start = text:find(prompt, 1, true)
  return start ~= nil and text:find('— done', start, true) ~= nil
end

test(':OpenBoltRevert puts the last turn\'s files back', function()
  -- The interactive program's turn answered (its server runs on): a new prompt is taken.
  wait_for('the previous turn to end', function()
    return not require('openbolt').busy()
  end)
  require('openbolt').chat('change the page')
  wait_for('the change', function()
    return read(workspace .. '/index.html') == '<h1>Changed</h1>\n'
  end)
  wait_for('the turn to end', function()
    return turn_ended('change the page')
  end)
  vim.cmd('OpenBoltRevert')
  wait_for('the revert', function()
    return chat_text():find('— reverted 1 turn(s)', 1, true) ~= nil
  end)
  assert(chat_text():find('restored index.html', 1, true), chat_text())
  assert(read(workspace .. '/index.html') == '<h1>Hello from Neovim</h1>\n', read(workspace .. '/index.html'))
  local buf = vim.fn.bufnr(workspace .. '/index.html')
  assert(vim.api.nvim_buf_get_lines(buf, 0, -1, false)[1] == '<h1>Hello from Neovim</h1>', 'the buffer shows it')
end)

--- The row (1-based) of the first line of the chat containing `needle`, after line `from`.
local function row_of(needle, from)
  for row, line in ipairs(require('openbolt.chat').lines()) do
    if row > (from or 0) and line:find(needle, 1, true) then
      return row
    end
  end
  return nil
end

test('@ in the prompt completes a workspace file; a read and a search the model asks for show in place, and <CR> opens a match at its line', function()
  local chat = require('openbolt.chat')
  assert(chat.rank_mentions({ 'src/ledger.js', 'ledger.md', 'lib/old-ledger.js' }, 'led')[1] == 'ledger.md')
  wait_for('the previous turn to end', function()
    return not require('openbolt').busy()
  end)
  vim.api.nvim_set_current_win(chat.prompt_win)
  vim.api.nvim_win_set_cursor(chat.prompt_win, { vim.api.nvim_buf_line_count(chat.prompt_buf), 0 })
  assert(vim.bo[chat.prompt_buf].omnifunc:find('complete_mention', 1, true))
  assert(chat.complete_mention(0, 'ind')[1] == 'index.html')
  -- Typed as a user types: `@` opens the file list, `ind` narrows it, Ctrl-N picks, Ctrl-Y accepts,
  -- Enter sends.
  vim.api.nvim_feedkeys(vim.keycode('Aexplain @ind<C-n><C-y><CR><Esc>'), 'tx', false)
  wait_for('the prompt in the chat', function()
    return chat_text():find('## You\n\nexplain @index.html', 1, true) ~= nil
  end)
  wait_for('the read in the chat', function()
    return chat_text():find('✓ read index.html (1 line)', 1, true) ~= nil
  end)
  wait_for('the turn to end', function()
    return turn_ended('explain @index.html') and chat_text():find('It is one heading.', 1, true) ~= nil
  end)
  -- One blank line between prose and the actions, none between the actions, one after them (the
  -- artifact's own line breaks and each round's new paragraph do not pile up).
  local reply = '## OpenBolt\n\nLet me look.\n\n✓ read index.html (1 line)\n✓ search "needle" in notes/** (1 match in 1 file)\n\nIt is one heading.'
  assert(chat_text():find(reply, 1, true), chat_text():sub(-300))
  -- <CR> on the search's line lists what it found in the quickfix list; <CR> there opens the match.
  local row = assert(row_of('✓ search "needle" in notes/** (1 match in 1 file)'), chat_text())
  vim.api.nvim_set_current_win(chat.win)
  vim.api.nvim_win_set_cursor(chat.win, { row, 0 })
  vim.api.nvim_feedkeys(vim.keycode('<CR>'), 'x', false)
  local list = vim.fn.getqflist({ items = 1, title = 1, winid = 1 })
  assert(list.winid ~= 0, 'the quickfix window is open')
  assert(list.title == 'OpenBolt: search "needle" in notes/**', list.title)
  assert(#list.items == 1 and list.items[1].lnum == 23 and list.items[1].text == 'the needle is here', vim.inspect(list.items))
  assert(vim.api.nvim_get_current_win() == list.winid, 'the cursor is in the list')
  vim.api.nvim_win_set_cursor(list.winid, { 1, 0 })
  vim.api.nvim_feedkeys(vim.keycode('<CR>'), 'x', false)
  wait_for('the match in an editing window', function()
    return vim.api.nvim_buf_get_name(0) == workspace .. '/notes/search-me.txt'
  end)
  assert(vim.api.nvim_win_get_cursor(0)[1] == 23, vim.inspect(vim.api.nvim_win_get_cursor(0)))
  vim.cmd('cclose')
end)

test('an edit changes only its lines in the buffer, one undo takes it back, and :OpenBoltDiff shows it', function()
  wait_for('the previous turn to end', function()
    return not require('openbolt').busy()
  end)
  local notes = workspace .. '/notes.txt'
  local file = assert(io.open(notes, 'w'))
  file:write('one\ntwo\nthree\nfour\nfive\n')
  file:close()
  vim.cmd('edit ' .. vim.fn.fnameescape(notes))
  local buf = vim.api.nvim_get_current_buf()
  require('openbolt').chat('tweak the notes')
  wait_for('the edit in the chat', function()
    return chat_text():find('✓ edit notes.txt (+2 −2, exact)', 1, true) ~= nil
  end)
  wait_for('the turn to end', function()
    return turn_ended('tweak the notes')
  end)
  local edited = { 'ONE', 'two', 'three', 'four', 'FIVE' }
  assert(vim.deep_equal(vim.api.nvim_buf_get_lines(buf, 0, -1, false), edited), vim.inspect(vim.api.nvim_buf_get_lines(buf, 0, -1, false)))
  assert(read(notes) == 'ONE\ntwo\nthree\nfour\nFIVE\n', read(notes))
  -- Both changed lines come back with one undo.
  vim.api.nvim_buf_call(buf, function()
    vim.cmd('undo')
  end)
  local lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
  assert(vim.deep_equal(lines, { 'one', 'two', 'three', 'four', 'five' }), vim.inspect(lines))
  vim.cmd('OpenBoltDiff notes.txt')
  wait_for('the diff tab', function()
    local windows = vim.api.nvim_tabpage_list_wins(0)
    return #windows == 2 and vim.wo[windows[1]].diff and vim.wo[windows[2]].diff
  end)
  local sides = {}
  for _, window in ipairs(vim.api.nvim_tabpage_list_wins(0)) do
    table.insert(sides, table.concat(vim.api.nvim_buf_get_lines(vim.api.nvim_win_get_buf(window), 0, -1, false), ' '))
  end
  table.sort(sides)
  assert(sides[1] == 'ONE two three four FIVE' and sides[2] == 'one two three four five', vim.inspect(sides))
  vim.cmd('tabclose')
end)

test('a syntax error from the AI shows as a diagnostic, and the fix round clears it', function()
  wait_for('the previous turn to end', function()
    return not require('openbolt').busy()
  end)
  local path = workspace .. '/src/total.js'
  local errors_while_fixing
  -- The fix round asks to run a command first: the diagnostic is there while it asks.
  choose = function(items)
    errors_while_fixing = #vim.diagnostic.get(vim.fn.bufnr(path), { severity = vim.diagnostic.severity.ERROR })
    for _, item in ipairs(items) do
      if item.title == 'Run' then
        return item
      end
    end
  end
  require('openbolt').chat('write total')
  wait_for('the fix round', function()
    return chat_text():find('— fix round 1 of 1: 1 problem sent back to the model', 1, true) ~= nil
  end)
  wait_for('the turn to end', function()
    return turn_ended('write total') and not require('openbolt').busy()
  end)
  assert(errors_while_fixing and errors_while_fixing >= 1, 'no diagnostic while fixing: ' .. tostring(errors_while_fixing))
  local buf = vim.fn.bufnr(path)
  wait_for('the diagnostic to clear', function()
    return #vim.diagnostic.get(buf, { severity = vim.diagnostic.severity.ERROR }) == 0
  end)
  local diagnostics = vim.diagnostic.get(buf)
  assert(#diagnostics == 0, vim.inspect(diagnostics))
  assert(read(path):find('0);', 1, true), read(path))
end)

test("the editor's own errors in a file the AI wrote start a fix round", function()
  wait_for('the previous turn to end', function()
    return not require('openbolt').busy()
  end)
  -- A stand-in for a linter: an error for a use of `b` in src/lint.js, whenever its text changes.
  local lint = vim.api.nvim_create_namespace('fake-lint')
  local function check(buf)
    local found = {}
    for number, line in ipairs(vim.api.nvim_buf_get_lines(buf, 0, -1, false)) do
      if line:find('= b;', 1, true) then
        table.insert(found, { lnum = number - 1, col = 0, message = "'b' is not defined", severity = vim.diagnostic.severity.ERROR, source = 'fake-lint' })
      end
    end
    vim.diagnostic.set(lint, buf, found)
  end
  -- It runs on its own, as linters do: every 100 ms it looks at the file's buffer.
  local linter = assert(vim.uv.new_timer())
  linter:start(100, 100, vim.schedule_wrap(function()
    local buf = vim.fn.bufnr(workspace .. '/src/lint.js')
    if buf > 0 and vim.api.nvim_buf_is_loaded(buf) then
      check(buf)
    end
  end))
  local rounds_before = select(2, chat_text():gsub('— fix round', ''))
  require('openbolt').chat('write lint')
  wait_for('the turn to end first', function()
    return turn_ended('write lint') and not require('openbolt').busy()
  end)
  assert(
    select(2, chat_text():gsub('— fix round', '')) > rounds_before,
    vim.inspect({
      diagnostics = vim.diagnostic.get(vim.fn.bufnr(workspace .. '/src/lint.js')),
      last = require('openbolt.diagnostics').last,
      buf = vim.fn.bufnr(workspace .. '/src/lint.js'),
    })
  )
  wait_for('the turn to end', function()
    return turn_ended('write lint') and not require('openbolt').busy()
  end)
  linter:stop()
  linter:close()
  assert(read(workspace .. '/src/lint.js') == 'export const a = 1;\n', chat_text())
end)

test('follow_files = "all" opens each file the AI writes, the cursor staying where it is; <CR> on a card opens its file', function()
  wait_for('the previous turn to end', function()
    return not require('openbolt').busy()
  end)
  require('openbolt').setup(vim.tbl_extend('force', options, { follow_files = 'all' }))
  local chat = require('openbolt.chat')
  for _, win in ipairs(vim.api.nvim_tabpage_list_wins(0)) do
    if win ~= chat.win and win ~= chat.prompt_win then
      vim.api.nvim_set_current_win(win)
      break
    end
  end
  vim.cmd('enew')
  local editing = vim.api.nvim_get_current_win()
  require('openbolt').chat('follow along')
  wait_for('the turn to end', function()
    return turn_ended('follow along') and not require('openbolt').busy()
  end)
  assert(vim.api.nvim_get_current_win() == editing, 'the cursor moved')
  local shown = vim.api.nvim_buf_get_name(vim.api.nvim_win_get_buf(editing))
  assert(shown == workspace .. '/follow-b.js', shown)
  assert(vim.fn.buflisted(vim.fn.bufnr(workspace .. '/follow-a.js')) == 1, 'follow-a.js was shown too')
  -- The keyboard: <CR> on a card's line in the chat opens what it made.
  local row = assert(row_of('✓ file follow-a.js'), chat_text())
  vim.api.nvim_set_current_win(chat.win)
  vim.api.nvim_win_set_cursor(chat.win, { row, 0 })
  vim.api.nvim_feedkeys(vim.keycode('<CR>'), 'x', false)
  wait_for('follow-a.js in the current window', function()
    return vim.api.nvim_buf_get_name(0) == workspace .. '/follow-a.js'
  end)
  require('openbolt').setup(options)
end)

test('a command right after the server starts waits for it; a reloaded reply keeps its order', function()
  -- A fresh server, as right after Neovim starts.
  local old = require('openbolt').client(false)
  old:stop(true)
  wait_for('the old server to stop', function()
    return old:is_stopped()
  end)
  local before = #notifications
  choose = function(items)
    for _, item in ipairs(items) do
      if item.title == 'build the page' then
        return item
      end
    end
  end
  require('openbolt.chat').show_transcript({ messages = {} })
  vim.cmd('OpenBoltSessions')
  wait_for('the transcript', function()
    return chat_text():find('Open it in a browser.', 1, true) ~= nil
  end)
  for index = before + 1, #notifications do
    assert(not notifications[index].message:lower():find('not initialized', 1, true), notifications[index].message)
  end
  -- Prose, the artifact's actions, prose: as the model wrote it.
  local prose = assert(row_of("I'll write the page."), chat_text())
  local card = assert(row_of('✓ file index.html', prose), chat_text())
  assert(row_of('Open it in a browser.', card), chat_text())
end)

test('a session of 200 turns and 2,000 actions loads from the store, each reply in its order', function()
  choose = function(items)
    for _, item in ipairs(items) do
      if item.title == 'a long session' then
        return item
      end
    end
  end
  vim.cmd('OpenBoltSessions')
  wait_for('the long transcript', function()
    return chat_text():find('End of turn 199.', 1, true) ~= nil
  end)
  local text = chat_text()
  assert(select(2, text:gsub('✓ file src/turn', '')) == 2000, 'cards: ' .. select(2, text:gsub('✓ file src/turn', '')))
  local first = assert(row_of('Turn 0: here is the change.'), text)
  local card = assert(row_of('✓ file src/turn0/part9.js', first), text)
  assert(row_of('End of turn 0.', card) and row_of('End of turn 0.', card) < assert(row_of('Turn 1: here', card)), text)
end)

test('an MCP tool call shows in place, and :OpenBoltMcp lists the server as ready', function()
  wait_for('the previous turn to end', function()
    return not require('openbolt').busy()
  end)
  require('openbolt').chat('ask the MCP server')
  wait_for('the tool call', function()
    return turn_ended('ask the MCP server') and not require('openbolt').busy()
  end)
  local text = chat_text()
  local function server_log()
    local log = read(vim.lsp.get_log_path()) or ''
    return log:sub(-30000)
  end
  assert(
    text:find('✓ tool everything · echo {"message":"hello from Neovim"} (Echo: hello from Neovim)', 1, true),
    text:sub(-600) .. '\nserver log:\n' .. server_log()
  )
  assert(text:find('The server echoed it.', 1, true), text)
  -- It was asked about (Run / Always for this tool / Skip) like a command.
  assert(questions[#questions]:find('call the MCP tool', 1, true), vim.inspect(questions))
  vim.cmd('OpenBoltMcp')
  wait_for('the MCP list', function()
    local buf = vim.fn.bufnr('openbolt://mcp')
    return buf ~= -1 and table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), '\n'):find('everything (stdio, from', 1, true) ~= nil
  end)
  local listed = table.concat(vim.api.nvim_buf_get_lines(vim.fn.bufnr('openbolt://mcp'), 0, -1, false), '\n')
  assert(listed:find('ready, %d+ tools: .*echo'), listed)
  vim.cmd('bwipeout ' .. vim.fn.bufnr('openbolt://mcp'))
end)

test('settings.mcpAllow: an allowed tool is called without asking', function()
  wait_for('the previous turn to end', function()
    return not require('openbolt').busy()
  end)
  local asked = #questions
  require('openbolt').chat('add two numbers')
  wait_for('the sum', function()
    return turn_ended('add two numbers') and not require('openbolt').busy()
  end)
  assert(chat_text():find('✓ tool everything · get-sum {"a":2,"b":3}', 1, true), chat_text():sub(-800))
  assert(#questions == asked, 'asked: ' .. vim.inspect(questions[#questions]))
end)

test('a revert asked while the turn checks its dev server waits for the turn; the chat says what it checks', function()
  wait_for('the previous turn to end', function()
    return not require('openbolt').busy()
  end)
  local reverts = select(2, chat_text():gsub('— reverted 1 turn%(s%)', ''))
  require('openbolt').chat('serve it')
  wait_for('the check in the chat', function()
    return chat_text():find('… checking that the dev server stays up (3 s): exec sleep 120', 1, true) ~= nil
  end)
  assert(require('openbolt').busy(), 'the turn runs while it checks')
  vim.cmd('OpenBoltRevert')
  assert(notifications[#notifications].message:find('the revert waits for the running turn to end', 1, true), vim.inspect(notifications[#notifications]))
  wait_for('the revert', function()
    return select(2, chat_text():gsub('— reverted 1 turn%(s%)', '')) > reverts
  end)
  assert(read(workspace .. '/served.html') == nil, 'the turn was reverted')
  wait_for('the turn to end', function()
    return not require('openbolt').busy()
  end)
  local text = chat_text()
  assert(text:sub((assert(text:find('serve it', 1, true)))):find('— done', 1, true), text:sub(-400))
end)

test('with auto_fix unset, the environment decides: OPENBOLT_AUTO_FIX=0 starts no fix round', function()
  wait_for('the previous turn to end', function()
    return not require('openbolt').busy()
  end)
  -- Until now the option (1) beat the environment's 0: fix rounds ran. setup() sends only what is set.
  local unset = vim.deepcopy(options)
  unset.auto_fix = nil
  require('openbolt').setup(unset)
  local sent = require('openbolt').options().settings
  assert(sent.autoFix == nil and sent.approval == nil, vim.inspect(sent))
  local bare = require('openbolt.config').resolve({}).settings
  assert(vim.json.encode(bare) == '{}', vim.json.encode(bare))
  -- A fresh server gets the options in its initialize.
  local old = require('openbolt').client(false)
  old:stop(true)
  wait_for('the old server to stop', function()
    return old:is_stopped()
  end)
  require('openbolt').chat('write the total once more')
  wait_for('the turn to end', function()
    return turn_ended('write the total once more') and chat_text():find('Written again.', 1, true) ~= nil and not require('openbolt').busy()
  end)
  local text = chat_text()
  local turn = text:sub((assert(text:find('write the total once more', 1, true))))
  assert(not turn:find('fix round', 1, true), turn)
  require('openbolt').setup(options)
end)

test('the page check: a preview that throws shows its exception and screenshot in the chat, also reloaded; settings.browserPath, modelImages, previewScreenshots and previewCheck reach the server and :checkhealth', function()
  wait_for('the previous turn to end', function()
    return not require('openbolt').busy()
  end)
  local link = os.getenv('BROWSER_LINK')
  local checked = vim.deepcopy(options)
  checked.auto_fix = 0
  checked.settings.browserPath = link
  -- The stand-in's model is nobody's known vision model: the user says it sees.
  checked.settings.modelImages = true
  require('openbolt').setup(checked)
  require('openbolt').chat('a ledger page')
  wait_for('the verdict', function()
    -- The preview is named as the server printed it (127.0.0.1) or as its listening port was found (localhost).
    return chat_text():find('✗ page check: http://', 1, true) ~= nil
  end)
  wait_for('the turn to end', function()
    return turn_ended('a ledger page') and not require('openbolt').busy()
  end)
  local text = chat_text()
  local turn = text:sub((assert(text:find('a ledger page', 1, true))))
  assert(turn:find("exception: TypeError: Cannot read properties of undefined (reading 'name')", 1, true), turn)
  assert(turn:find('at render (ledger/main.js:3:54)', 1, true), turn)
  assert(turn:find('◉ preview: http://', 1, true), turn)
  assert(not turn:find('fix round', 1, true), turn)
  -- The page as it looked: a JPEG kept in OpenBolt's data directory, its path under the verdict.
  local shot = turn:match('◉ screenshot: (%S+%.jpg)')
  assert(shot, turn)
  local file = assert(io.open(shot, 'rb'), shot)
  assert(file:read(3) == '\255\216\255', 'not a JPEG: ' .. shot)
  file:close()
  -- The server used the browser the setting names, and the model is sent screenshots.
  local log = read(vim.lsp.get_log_path()) or ''
  assert(log:find('previews are checked in ' .. link, 1, true), 'the server log does not name ' .. link)
  assert(log:find('their screenshots go to the model with a fix round', 1, true), 'the server log does not say the model sees')
  -- The session, reloaded, shows the verdict and its screenshot again.
  choose = function(items)
    return items[1]
  end
  require('openbolt.chat').show_transcript({ messages = {} })
  vim.cmd('OpenBoltSessions')
  wait_for('the reloaded verdict', function()
    return chat_text():find('◉ screenshot: ' .. shot, 1, true) ~= nil
  end)
  assert(chat_text():find('at render (ledger/main.js:3:54)', 1, true), chat_text())
  vim.cmd('checkhealth openbolt')
  local report = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
  assert(report:find('previews are checked in ' .. link, 1, true), report)
  assert(report:find("each checked page is pictured", 1, true), report)
  vim.cmd('bwipeout!')
  checked.settings.previewScreenshots = 'off'
  require('openbolt').setup(checked)
  wait_for('the server log to say screenshots are off', function()
    return (read(vim.lsp.get_log_path()) or ''):find('(no screenshots: previewScreenshots is off)', 1, true) ~= nil
  end)
  vim.cmd('checkhealth openbolt')
  report = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
  assert(report:find('checked pages are not pictured (settings.previewScreenshots = "off")', 1, true), report)
  vim.cmd('bwipeout!')
  checked.settings.previewCheck = 'off'
  require('openbolt').setup(checked)
  vim.cmd('checkhealth openbolt')
  report = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
  assert(report:find('previews are not checked in a browser (settings.previewCheck = "off")', 1, true), report)
  vim.cmd('bwipeout!')
  require('openbolt').setup(options)
end)

test(':checkhealth openbolt finds the server', function()
  vim.cmd('checkhealth openbolt')
  local report = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
  assert(report:find('openbolt 0.1.0, protocol 1: ' .. os.getenv('OPENBOLT_BIN') .. ' (from your cmd in setup())', 1, true), report)
  assert(report:find('endpoint reachable', 1, true), report)
  assert(report:find('commands run in a sandbox', 1, true), report)
  assert(report:find('cannot read your credentials', 1, true), report)
  assert(report:find('/srv/openbolt-nvim-private) except ~/.npmrc', 1, true), report)
  assert(report:find('everything: ready', 1, true), report)
  vim.cmd('bwipeout!')
end)

test(':help openbolt opens the plugin help', function()
  vim.cmd('helptags ' .. vim.fn.fnameescape(plugin .. '/doc'))
  vim.cmd('help :OpenBoltTerminal')
  assert(vim.api.nvim_buf_get_name(0):find('openbolt.txt', 1, true), vim.api.nvim_buf_get_name(0))
  vim.cmd('helpclose')
end)

test('no errors were reported', function()
  for _, notification in ipairs(notifications) do
    assert((notification.level or 0) < vim.log.levels.ERROR, 'error notification: ' .. notification.message)
  end
  local messages = vim.api.nvim_exec2('messages', { output = true }).output
  assert(not messages:find('E%d+:') and not messages:find('Error'), messages)
  -- Every edit the server sent was saved as it asked (the files the AI wrote, open or not).
  local log = read(vim.lsp.get_log_path()) or ''
  local unsaved = log:match('[^\n]*did not save our edit in time[^\n]*')
  assert(not unsaved, unsaved)
end)

tally.finish()
