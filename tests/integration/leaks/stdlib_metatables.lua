-- The objects stdlib modules hand out (a session, an HTTP response, a pipeline, a metric, the
-- request, its errors) share their metatables with every request: none may be writable, none
-- may lead to a writable table of methods.
local lk = require "lk"
local MARK = lk.marker("stdlib_metatables")
local session = require "mayfly.session"
-- Declared at the top level, where declarations are registered when the version loads.
local counter = mayfly.metrics.counter("leak_stdlib_metatables_total", "a counter", {})

local function objects(req)
  local list = {}
  local ok, s = pcall(session.load, req)
  if ok then list[#list + 1] = { "session", s } end
  local res = mayfly.http.get("http://127.0.0.1:1/", { retries = 0 })
  if res then list[#list + 1] = { "http response", res } end
  pcall(redis.pipeline, function(p) list[#list + 1] = { "pipeline", p } end)
  list[#list + 1] = { "metric", counter }
  list[#list + 1] = { "request", req }
  local _, e = pcall(req.json, req)
  list[#list + 1] = { "http error", e }
  return list
end

return {
  ["GET /stdlib_metatables/plant"] = function(req)
    local out = {}
    for _, o in ipairs(objects(req)) do
      local name, obj = o[1], o[2]
      local mt = getmetatable(obj)
      out[#out + 1] = name .. ": getmetatable is a " .. type(mt)
      if type(mt) == "table" then
        lk.try(out, name .. " metatable.__index", function() mt.__index = lk.evil(MARK) end)
        lk.try(out, name .. " metatable.__newindex", function() mt.__newindex = lk.evil(MARK) end)
      end
      for _, k in ipairs { "__index", "get", "set", "json", "call", "inc", "attach", "destroy" } do
        local okv, v = pcall(function() return obj[k] end)
        if okv and type(v) == "table" then
          lk.write_all_ways(out, name .. "." .. k, v, "get", MARK)
        end
      end
      lk.try(out, name .. " setmetatable", setmetatable, obj, { __index = lk.evil(MARK) })
    end
    return lk.report(out)
  end,

  ["GET /stdlib_metatables/probe"] = function(req)
    local problems = {}
    for _, o in ipairs(objects(req)) do
      local name, obj = o[1], o[2]
      local mt = getmetatable(obj)
      if type(mt) == "table" then problems[#problems + 1] = name .. ": getmetatable returns a table" end
      for _, k in ipairs { "__index", "__newindex", "get", "json", "call", "inc", MARK } do
        local okv, v = pcall(function() return obj[k] end)
        if okv and lk.is_evil(v) then problems[#problems + 1] = name .. "." .. k .. " is a planted function" end
        if okv and v == MARK then problems[#problems + 1] = name .. "." .. k .. " is " .. MARK end
        if okv and type(v) == "table" then lk.check_table(problems, name .. "." .. k, v, MARK) end
      end
    end
    return lk.verdict(problems)
  end,
}
