-- setfenv on every function a script can reach, to a table carrying the marker (whose __index
-- keeps the function's old environment, so a function that does accept it still works).
local lk = require "lk"
local MARK = lk.marker("fenv_all_functions_set")

return {
  ["GET /fenv_all_functions_set/plant"] = function(req)
    local out = {}
    local planted, refused = {}, 0
    for _, f in ipairs((lk.reachable(req))) do
      local old = getfenv(f[2])
      local ok = pcall(setfenv, f[2], setmetatable({ [MARK] = MARK }, { __index = old }))
      if ok then planted[#planted + 1] = f[1] else refused = refused + 1 end
    end
    out[#out + 1] = "setfenv accepted: " .. (#planted > 0 and table.concat(planted, ", ") or "none")
    out[#out + 1] = "refused: " .. refused
    return lk.report(out)
  end,

  ["GET /fenv_all_functions_set/probe"] = function(req)
    local problems = {}
    for _, f in ipairs((lk.reachable(req))) do
      local e = getfenv(f[2])
      local ok, v = pcall(function() return e[MARK] end)
      if ok and v ~= nil then problems[#problems + 1] = "getfenv(" .. f[1] .. ") holds " .. MARK end
    end
    return lk.verdict(problems)
  end,
}
