-- The table library and its extensions on read-only tables: sort, remove, concat, unpack, maxn,
-- foreach, table.clear and table.new (require "table.clear"): none may change a host table.
local lk = require "lk"
local MARK = lk.marker("frozen_table_functions")

local function targets()
  return {
    { "string", string }, { "table", table }, { "math", math }, { "mayfly", mayfly },
    { "mayfly.json", mayfly.json }, { "config", config }, { "redis", redis }, { "log", log },
    { "getmetatable('')", getmetatable("") }, { "getfenv(config.get)", getfenv(config.get) },
  }
end

return {
  ["GET /frozen_table_functions/plant"] = function(req)
    local out = {}
    local clear = select(2, pcall(require, "table.clear"))
    for _, t in ipairs(targets()) do
      local name, tbl = t[1], t[2]
      lk.try(out, "table.sort " .. name, table.sort, tbl, function(a, b) return tostring(a) > tostring(b) end)
      lk.try(out, "table.remove " .. name, table.remove, tbl)
      lk.try(out, "table.remove " .. name .. " 1", table.remove, tbl, 1)
      lk.try(out, "table.concat " .. name, table.concat, tbl)
      lk.try(out, "unpack " .. name, unpack, tbl)
      lk.try(out, "table.maxn " .. name, table.maxn, tbl)
      lk.try(out, "table.foreach " .. name .. " writing", table.foreach, tbl, function(k) tbl[k] = nil end)
      if type(clear) == "function" then lk.try(out, "table.clear " .. name, clear, tbl) end
    end
    return lk.report(out)
  end,

  ["GET /frozen_table_functions/probe"] = function(req)
    local problems = {}
    for _, t in ipairs(targets()) do
      lk.check_table(problems, t[1], t[2], MARK)
      if next(t[2]) == nil and t[1] ~= "getfenv(config.get)" then problems[#problems + 1] = t[1] .. " is empty" end
    end
    if type(string.format) ~= "function" or type(table.concat) ~= "function" or type(math.floor) ~= "function" then
      problems[#problems + 1] = "library functions are gone"
    end
    if type(mayfly.json) ~= "table" or type(config.get) ~= "function" or type(redis.call) ~= "function" then
      problems[#problems + 1] = "host functions are gone"
    end
    if not rawequal(getmetatable("").__index, string) or ("a"):upper() ~= "A" then
      problems[#problems + 1] = "the string metatable changed"
    end
    return lk.verdict(problems)
  end,
}
