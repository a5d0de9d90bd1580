-- getfenv of every function a script can reach (walked from the globals, the host modules, the
-- string metatable and the iterators), written into.
local lk = require "lk"
local MARK = lk.marker("fenv_all_functions_get")

return {
  ["GET /fenv_all_functions_get/plant"] = function(req)
    local out = {}
    local planted, refused = {}, 0
    for _, f in ipairs((lk.reachable(req))) do
      local ok = pcall(function() getfenv(f[2])[MARK] = MARK end)
      if ok and not rawequal(getfenv(f[2]), getfenv(0)) then planted[#planted + 1] = f[1] end
      if not ok then refused = refused + 1 end
    end
    out[#out + 1] = "written outside the request's environment: " .. (#planted > 0 and table.concat(planted, ", ") or "none")
    out[#out + 1] = "refused: " .. refused
    return lk.report(out)
  end,

  ["GET /fenv_all_functions_get/probe"] = function(req)
    local problems = {}
    local seen = {}
    for _, f in ipairs((lk.reachable(req))) do
      local e = getfenv(f[2])
      local ok, v = pcall(function() return e[MARK] end)
      if ok and v ~= nil then problems[#problems + 1] = "getfenv(" .. f[1] .. ") holds " .. MARK end
      local why = lk.unsafe_env(e)
      if why and not seen[e] then
        seen[e] = true
        problems[#problems + 1] = "getfenv(" .. f[1] .. ") is an environment of the host (" .. why .. ")"
      end
    end
    return lk.verdict(problems)
  end,
}
