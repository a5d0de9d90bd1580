-- A constant belongs to one function: a chunk load()ed under this file's name, with lines
-- padded to stand where the real function stands, does not claim its value; two functions on
-- one line are two constants.
local lk = require "lk"
local MARK = lk.marker("constant_forged_key")

local function real()
  return mayfly.constant(function() return { v = "real" } end)
end
local function same_line() return mayfly.constant(function() return { v = 1 } end), mayfly.constant(function() return { v = 2 } end) end

return {
  ["GET /constant_forged_key/plant"] = function(req)
    local out = {}
    -- real()'s function is defined on line 8 of "@constant_forged_key.lua".
    local forged = string.rep("\n", 7) .. "return mayfly.constant(function() return { v = '" .. MARK .. "' } end)"
    lk.try(out, "forged chunk", function() return assert(load(forged, "@constant_forged_key.lua"))() end)
    lk.try(out, "forged chunk, short name", function() return assert(load(forged, "=constant_forged_key.lua"))() end)
    return lk.report(out)
  end,

  ["GET /constant_forged_key/probe"] = function(req)
    local problems = {}
    local v = real()
    if v.v ~= "real" then problems[#problems + 1] = "the real constant is " .. tostring(v.v) end
    local a, b = same_line()
    if a.v ~= 1 or b.v ~= 2 then problems[#problems + 1] = "two constants on one line share a value" end
    return lk.verdict(problems)
  end,
}
