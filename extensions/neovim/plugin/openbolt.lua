-- OpenBolt's commands. Modules load on first use.
if vim.g.loaded_openbolt then
  return
end
vim.g.loaded_openbolt = true

local function openbolt()
  return require('openbolt')
end

vim.api.nvim_create_user_command('OpenBolt', function(args)
  openbolt().command(args.args)
end, { nargs = '*', desc = 'OpenBolt: open the chat, or send {prompt}' })
vim.api.nvim_create_user_command('OpenBoltStop', function()
  openbolt().stop()
end, { desc = 'OpenBolt: stop the running turn' })
vim.api.nvim_create_user_command('OpenBoltSessions', function()
  openbolt().pick_session()
end, { desc = 'OpenBolt: pick a session and show it' })
vim.api.nvim_create_user_command('OpenBoltRevert', function()
  openbolt().revert()
end, { desc = 'OpenBolt: revert the last turn' })
vim.api.nvim_create_user_command('OpenBoltTerminal', function()
  openbolt().pick_terminal()
end, { desc = "OpenBolt: open one of the server's terminals" })
vim.api.nvim_create_user_command('OpenBoltDiff', function(args)
  openbolt().diff(args.args)
end, { nargs = '?', complete = 'file', desc = "OpenBolt: the AI's last change to a file, as a diff" })
vim.api.nvim_create_user_command('OpenBoltMcp', function()
  openbolt().mcp()
end, { desc = 'OpenBolt: the MCP servers and their state' })
vim.api.nvim_create_user_command('OpenBoltBuild', function()
  require('openbolt.build').command()
end, { desc = "OpenBolt: build the plugin's own server (cargo build --release)" })
