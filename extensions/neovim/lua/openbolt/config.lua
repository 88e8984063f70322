-- OpenBolt's options: documented defaults, validation, merging. See `:help openbolt-setup`.
local M = {}

---@class openbolt.Options
M.defaults = {
  -- How to start the server, e.g. { '/path/to/openbolt', 'lsp' }. nil: the plugin's own build
  -- (:OpenBoltBuild), else `openbolt` on PATH (see :help openbolt-server).
  cmd = nil,
  -- Sent to the server as the `openbolt` settings section (docs/protocol.md#settings): only what you set
  -- here. For the rest the environment (ANTHROPIC_API_KEY, OPENAI_BASE_URL, OPENBOLT_MODEL, ...), the
  -- settings files (~/.config/openbolt/settings.json, .openbolt/settings.json) and the defaults decide.
  settings = {
    provider = nil,
    model = nil,
    baseUrl = nil,
    -- The model's context window in tokens, for a model or server that does not say (the server asks
    -- llama.cpp, vLLM, Ollama and LM Studio, and knows hosted models).
    contextTokens = nil,
    -- { autoApprove = false, allow = { 'npm install' }, deny = {} }
    approval = nil,
    -- 'auto' (the server's default), 'required' or 'off'; see :help openbolt-sandbox.
    sandbox = nil,
    -- More paths sandboxed commands may write beneath.
    sandboxWritable = nil,
    -- false: sandboxed commands make no outgoing TCP connection (they may still listen).
    sandboxNetwork = nil,
    -- More paths sandboxed commands may not read, besides the credentials denied by default.
    sandboxDenyRead = nil,
    -- Paths sandboxed commands may read although denied: { '~/.npmrc' } for a private registry.
    sandboxAllowRead = nil,
    -- true: keep the git hooks commands install (husky), instead of undoing them.
    sandboxAllowGitHooks = nil,
    -- 'auto' (the server's default: when a browser is found) or 'off': after a turn, load its preview
    -- in a headless Chromium and fix what breaks there; see :help openbolt-page-check.
    previewCheck = nil,
    -- The browser for that check; nil: chromium, chromium-browser, google-chrome or chrome on PATH.
    browserPath = nil,
    -- 'auto' (the server's default) or 'off': keep a screenshot of each checked page (its path is
    -- printed under the verdict; it goes to a model that takes images with the fix round the page
    -- caused). A picture is beyond the redaction of secrets: 'off' for pages that show them.
    previewScreenshots = nil,
    -- 'auto' (the server's default: hosted models known to take images), true or false: whether the
    -- model is sent screenshots.
    modelImages = nil,
  },
  chat = {
    -- Width of the chat split, in columns.
    width = 64,
    -- 'right' or 'left'.
    position = 'right',
  },
  preview = {
    -- Open a started server's URL with vim.ui.open(); otherwise only notify it.
    open = true,
  },
  -- Automatic fix rounds after a reply whose files have syntax errors, whose commands failed or whose
  -- dev server broke (sent as settings.autoFix; nil: the server's default of 3; 0: never).
  auto_fix = nil,
  -- Follow the AI: open the files it writes or edits as they complete, in the window you last edited
  -- in, the cursor staying where it is. 'none', 'first' (the first file of each prompt) or 'all'.
  follow_files = 'none',
}

local known = {
  cmd = 'table',
  settings = 'table',
  chat = 'table',
  preview = 'table',
  auto_fix = 'number',
  follow_files = 'string',
}

--- A setting that is 'auto' or 'off' (or unset: the server decides).
local function auto_or_off(mode)
  return mode == nil or mode == 'auto' or mode == 'off'
end

--- Checks `opts` and merges it over the defaults; errors name the bad option.
---@param opts table|nil
---@return openbolt.Options
function M.resolve(opts)
  opts = opts or {}
  if type(opts) ~= 'table' then
    error('[openbolt] setup() expects a table, got ' .. type(opts), 0)
  end
  for key, value in pairs(opts) do
    if known[key] == nil then
      error(string.format('[openbolt] unknown option %q (known: cmd, settings, chat, preview, auto_fix, follow_files)', key), 0)
    end
    if type(value) ~= known[key] then
      error(string.format('[openbolt] option %q must be a %s, got %s', key, known[key], type(value)), 0)
    end
  end
  local merged = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts)
  local ok, err = pcall(vim.validate, {
    ['cmd[1]'] = { merged.cmd and merged.cmd[1], 'string', merged.cmd == nil },
    ['chat.width'] = { merged.chat.width, 'number' },
    ['chat.position'] = {
      merged.chat.position,
      function(position)
        return position == 'right' or position == 'left'
      end,
      "'right' or 'left'",
    },
    ['preview.open'] = { merged.preview.open, 'boolean' },
    follow_files = {
      merged.follow_files,
      function(mode)
        return mode == 'none' or mode == 'first' or mode == 'all'
      end,
      "'none', 'first' or 'all'",
    },
    ['settings.approval'] = { merged.settings.approval, 'table', true },
    ['settings.approval.autoApprove'] = { (merged.settings.approval or {}).autoApprove, 'boolean', true },
    ['settings.sandbox'] = {
      merged.settings.sandbox,
      function(mode)
        return mode == nil or mode == 'auto' or mode == 'required' or mode == 'off'
      end,
      "'auto', 'required' or 'off'",
    },
    ['settings.contextTokens'] = {
      merged.settings.contextTokens,
      function(tokens)
        return tokens == nil or (type(tokens) == 'number' and tokens > 0 and tokens % 1 == 0)
      end,
      'a positive whole number of tokens',
    },
    ['settings.sandboxWritable'] = { merged.settings.sandboxWritable, 'table', true },
    ['settings.sandboxNetwork'] = { merged.settings.sandboxNetwork, 'boolean', true },
    ['settings.sandboxDenyRead'] = { merged.settings.sandboxDenyRead, 'table', true },
    ['settings.sandboxAllowRead'] = { merged.settings.sandboxAllowRead, 'table', true },
    ['settings.sandboxAllowGitHooks'] = { merged.settings.sandboxAllowGitHooks, 'boolean', true },
    ['settings.previewCheck'] = { merged.settings.previewCheck, auto_or_off, "'auto' or 'off'" },
    ['settings.browserPath'] = { merged.settings.browserPath, 'string', true },
    ['settings.previewScreenshots'] = { merged.settings.previewScreenshots, auto_or_off, "'auto' or 'off'" },
    ['settings.modelImages'] = {
      merged.settings.modelImages,
      function(mode)
        return mode == nil or mode == 'auto' or mode == true or mode == false
      end,
      "'auto', true or false",
    },
  })
  if not ok then
    error('[openbolt] ' .. tostring(err), 0)
  end
  if merged.chat.width < 20 then
    error('[openbolt] option chat.width must be at least 20', 0)
  end
  if merged.auto_fix ~= nil then
    if merged.auto_fix < 0 or merged.auto_fix % 1 ~= 0 then
      error('[openbolt] option auto_fix must be a whole number of rounds, 0 or more', 0)
    end
    merged.settings.autoFix = merged.auto_fix
  end
  -- An empty table would go out as a JSON array.
  if vim.tbl_isempty(merged.settings) then
    merged.settings = vim.empty_dict()
  end
  return merged
end

return M
