-- The OpenBolt language server, for `vim.lsp.config`/`vim.lsp.enable('openbolt')` and nvim-lspconfig.
---@type vim.lsp.Config
return {
  -- setup()'s cmd, else the plugin's own build, else `openbolt` on PATH; its protocol is checked first.
  cmd = function(dispatchers, config)
    return require('openbolt.server').start(dispatchers, config)
  end,
  root_markers = { '.git', 'package.json', 'Cargo.toml', 'pyproject.toml', 'go.mod', 'index.html' },
  -- Our client saves what the server edits and opens previews itself (see docs/protocol.md).
  init_options = { savesEdits = true, handlesPreview = true, sendsDiagnostics = true },
  handlers = require('openbolt.handlers'),
}
