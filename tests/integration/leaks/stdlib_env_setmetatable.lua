-- The setmetatable stdlib modules see (it seals the metatables of the objects they hand out:
-- it freezes the tables a metatable holds and writes __metatable into it) is in the environment
-- of every stdlib function, which getfenv hands out. Called by a script on a read-only host
-- table as the metatable, it writes __metatable raw into that shared table: one bit per host
-- table (and constants are host tables a script chooses), which every later request reads.
local lk = require "lk"
local MARK = lk.marker("stdlib_env_setmetatable")

-- The VM's own next: it walks what a read-only proxy holds itself, which must be nothing.
local raw_next = pairs({})

local function stdlib_functions()
  local list = {}
  for _, name in ipairs { "mayfly.http", "mayfly.session", "mayfly.cache", "mayfly.lease",
    "mayfly.ratelimit", "mayfly.config" } do
    local ok, m = pcall(require, name)
    if ok and type(m) == "table" then
      for k, v in pairs(m) do
        if type(v) == "function" then list[#list + 1] = { name .. "." .. k, v } end
      end
    end
  end
  return list
end

-- Read-only host tables whose own (raw) content is not empty.
local function raw_content(problems, req)
  local _, tabs = lk.reachable(req)
  tabs[#tabs + 1] = { "the constant", mayfly.constant(function() return { v = "c" } end) }
  for _, t in ipairs(tabs) do
    if lk.is_readonly(t[2]) then
      local ok, err = pcall(function()
        for k, v in raw_next, t[2] do
          problems[#problems + 1] = t[1] .. " (read-only) holds its own " .. tostring(k) .. " = " .. tostring(v)
        end
      end)
      if not ok then problems[#problems + 1] = t[1] .. " cannot be walked: " .. tostring(err) end
    end
  end
end

return {
  ["GET /stdlib_env_setmetatable/plant"] = function(req)
    local out = {}
    local targets = { mayfly = mayfly, string = string, config = config, redis = redis, log = log,
      ["mayfly.json"] = mayfly.json, ["the constant"] = mayfly.constant(function() return { v = "c" } end) }
    for _, f in ipairs(stdlib_functions()) do
      local okenv, env = pcall(getfenv, f[2])
      local sm = okenv and type(env) == "table" and env.setmetatable
      if type(sm) == "function" and sm ~= setmetatable then
        out[#out + 1] = "getfenv(" .. f[1] .. ").setmetatable is not the global setmetatable"
        for name, t in pairs(targets) do
          lk.try(out, "getfenv(" .. f[1] .. ").setmetatable({}, " .. name .. ")", sm, {}, t)
        end
        -- A metatable of the script's own, holding the marker: frozen in place, a request's only.
        lk.try(out, "sealing a metatable of its own", sm, {}, { __index = { [MARK] = MARK } })
      end
    end
    return lk.report(out)
  end,

  ["GET /stdlib_env_setmetatable/probe"] = function(req)
    local problems = {}
    raw_content(problems, req)
    return lk.verdict(problems)
  end,
}
