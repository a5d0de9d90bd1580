-- Weak tables: a chunk-level weak cache, weak tables keyed by host objects, trying to make host
-- tables weak (so that the collector would drop their content).
local lk = require "lk"
local MARK = lk.marker("weak_tables")

local weak_cache = setmetatable({}, { __mode = "k" })
local weak_values = setmetatable({}, { __mode = "v" })

return {
  ["GET /weak_tables/plant"] = function(req)
    local out = {}
    lk.try(out, "chunk-level weak cache keyed by host objects", function()
      weak_cache[string] = MARK
      weak_cache[mayfly] = MARK
      weak_cache[print] = MARK
    end)
    lk.try(out, "chunk-level weak values", function() weak_values[1] = mayfly weak_values[2] = string end)
    lk.try(out, "weak table in a global", function()
      LEAK_weak_tables = setmetatable({ [config] = MARK }, { __mode = "k" })
    end)
    lk.try(out, "__mode on string", setmetatable, string, { __mode = "kv" })
    lk.try(out, "__mode on mayfly through its metatable", function() getmetatable(mayfly).__mode = "kv" end)
    lk.try(out, "__mode on the environment", setmetatable, _G, { __mode = "kv" })
    return lk.report(out)
  end,

  ["GET /weak_tables/probe"] = function(req)
    local problems = {}
    if next(weak_cache) ~= nil then problems[#problems + 1] = "the weak cache holds " .. tostring(next(weak_cache)) end
    if next(weak_values) ~= nil then problems[#problems + 1] = "the weak values table is not empty" end
    if LEAK_weak_tables ~= nil then problems[#problems + 1] = "the global weak table survived" end
    lk.run_gc(1, 8 * 1024)
    if type(string.format) ~= "function" or type(mayfly.json) ~= "table" or type(config.get) ~= "function" then
      problems[#problems + 1] = "host tables lost content after a collection"
    end
    return lk.verdict(problems)
  end,
}
