-- The OpenBolt language server, for `vim.lsp.config`/`vim.lsp.enable('openbolt')` and nvim-lspconfig.
---@type vim.lsp.Config
return {
  cmd = { 'openbolt', 'lsp' },
  root_markers = { '.git', 'package.json', 'Cargo.toml', 'pyproject.toml', 'go.mod', 'index.html' },
  -- Our client saves what the server edits and opens previews itself (see docs/protocol.md).
  init_options = { savesEdits = true, handlesPreview = true, sendsDiagnostics = true },
  handlers = require('openbolt.handlers'),
}
