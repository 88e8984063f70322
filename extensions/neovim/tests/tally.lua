-- What the end-to-end scripts share: each test's line, and the last line the Rust tests read
-- (`N passed, N failed`) before Neovim exits with the verdict. Loaded with dofile by run.lua and build.lua.
local M = { passed = 0, failed = 0 }

function M.test(name, fn)
  local ok, err = xpcall(fn, debug.traceback)
  if ok then
    M.passed = M.passed + 1
    io.stdout:write('ok   ' .. name .. '\n')
  else
    M.failed = M.failed + 1
    io.stdout:write('FAIL ' .. name .. '\n' .. tostring(err) .. '\n')
  end
end

--- Prints the tally, stops every client, and quits (non-zero when a test failed).
function M.finish()
  io.stdout:write(string.format('%d passed, %d failed\n', M.passed, M.failed))
  for _, client in ipairs(vim.lsp.get_clients()) do
    client:stop(true)
  end
  vim.cmd(M.failed == 0 and 'qall!' or 'cquit! 1')
end

return M
