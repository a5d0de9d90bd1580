-- An attacker's use of any way to the host's real global table (an environment that getfenv
-- hands out which is neither the request's nor read-only, or that leads to io, os.execute,
-- package or debug.getregistry): plant a global every request sees through the shared globals,
-- a key in the real string library, a file (at ?tmp=), a metatable for numbers.
local lk = require "lk"
local MARK = lk.marker("escape_real_globals")

return {
  ["GET /escape_real_globals/plant"] = function(req)
    local out = {}
    local escapes = lk.escapes(req)
    if #escapes == 0 then
      out[#out + 1] = "refused: no environment of the host is reachable"
      return lk.report(out)
    end
    local e = escapes[1][2]
    out[#out + 1] = "found: " .. escapes[1][1] .. " (" .. escapes[1][3] .. ")"
    lk.try(out, "global in the host's table", function() e[MARK] = MARK end)
    lk.try(out, "key in the real string library", function() e.string[MARK] = MARK end)
    lk.try(out, "global in the shared globals, through the registry", function()
      for _, v in pairs(e.debug.getregistry()) do
        if type(v) == "table" and rawget(v, "mayfly") ~= nil and rawget(v, "setfenv") ~= nil then
          v[MARK] = MARK
        end
      end
    end)
    lk.try(out, "file", function()
      local f = assert(e.io.open((req.query.tmp or "/tmp/mayfly-leaks-escape") .. ".escape", "w"))
      f:write(MARK)
      f:close()
    end)
    lk.try(out, "metatable for numbers", function()
      e.debug.setmetatable(0, { __index = { [MARK] = MARK } })
    end)
    return lk.report(out)
  end,

  ["GET /escape_real_globals/probe"] = function(req)
    local problems = {}
    if _G[MARK] ~= nil then problems[#problems + 1] = "every request sees the global " .. MARK end
    if string[MARK] ~= nil then problems[#problems + 1] = "string." .. MARK .. " is set" end
    local ok, v = pcall(function() return (0)[MARK] end)
    if ok then problems[#problems + 1] = "numbers have a metatable: (0)." .. MARK .. " = " .. tostring(v) end
    local seen = {}
    for _, e in ipairs(lk.escapes(req)) do
      if not seen[e[2]] then
        seen[e[2]] = true
        problems[#problems + 1] = e[1] .. " is the host's (" .. e[3] .. ")"
        local ok2, m = pcall(function() return e[2][MARK] end)
        if ok2 and m ~= nil then problems[#problems + 1] = "and it holds " .. MARK end
      end
    end
    return lk.verdict(problems)
  end,
}
