-- lazy.nvim runs a plugin's build.lua after installing or updating it: this builds the Neovim plugin's
-- server (extensions/neovim/lua/openbolt/build.lua). Other plugin managers: `:OpenBoltBuild`.
local root = vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h')
local plugin = root .. '/extensions/neovim'
if not vim.tbl_contains(vim.api.nvim_list_runtime_paths(), plugin) then
  vim.opt.runtimepath:append(plugin)
end
require('openbolt.build').command()
