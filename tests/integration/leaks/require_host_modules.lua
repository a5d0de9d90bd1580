-- The host modules as require returns them: the standard libraries, mayfly.*, the config source
-- and the table.* extension functions.
local lk = require "lk"
local MARK = lk.marker("require_host_modules")

return {
  ["GET /require_host_modules/plant"] = function(req)
    local out = {}
    for _, name in ipairs(lk.host_modules) do
      local ok, m = pcall(require, name)
      if not ok then
        out[#out + 1] = "require '" .. name .. "': refused: " .. tostring(m)
      elseif type(m) == "table" then
        lk.try(out, "require '" .. name .. "' new key", function() m[MARK] = MARK end)
        lk.try(out, "require '" .. name .. "' rawset", rawset, m, MARK, MARK)
        lk.try(out, "require '" .. name .. "' setmetatable", setmetatable, m, { __index = function() return MARK end })
      elseif type(m) == "function" then
        lk.try(out, "setfenv(require '" .. name .. "')", setfenv, m, { [MARK] = MARK })
        lk.try(out, "getfenv(require '" .. name .. "') write", function() getfenv(m)[MARK] = MARK end)
      end
    end
    lk.try(out, "require 'mayfly'", function() require("mayfly")[MARK] = MARK end)
    return lk.report(out)
  end,

  ["GET /require_host_modules/probe"] = function(req)
    local problems = {}
    for _, name in ipairs(lk.host_modules) do
      local ok, m = pcall(require, name)
      if ok and type(m) == "table" then
        lk.check_table(problems, "require '" .. name .. "'", m, MARK)
        if getmetatable(m) ~= nil and type(getmetatable(m)) ~= "string" then
          problems[#problems + 1] = "require '" .. name .. "' has a metatable of its own"
        end
      elseif ok and type(m) == "function" then
        lk.check_table(problems, "getfenv(require '" .. name .. "')", getfenv(m), MARK)
      end
    end
    local pairs_ = {
      { "string", string }, { "table", table }, { "math", math }, { "os", os },
      { "coroutine", coroutine }, { "bit", bit }, { "debug", debug },
      { "mayfly.json", mayfly.json }, { "mayfly.config", config }, { "mayfly.redis", redis },
      { "mayfly.log", log }, { "mayfly.env", mayfly.env },
    }
    for _, p in ipairs(pairs_) do
      if not rawequal(require(p[1]), p[2]) then
        problems[#problems + 1] = "require '" .. p[1] .. "' is not the global"
      end
    end
    if rawequal(require "cjson", require "cjson.safe") then
      problems[#problems + 1] = "cjson and cjson.safe are one table"
    end
    local t = require("table.new")(4, 4)
    if type(t) ~= "table" or next(t) ~= nil then problems[#problems + 1] = "table.new misbehaves" end
    return lk.verdict(problems)
  end,
}
