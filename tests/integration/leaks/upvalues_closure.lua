-- Upvalues of closures made at chunk level: an id generator, a memoised function, a lazily
-- initialised singleton.
local lk = require "lk"
local MARK = lk.marker("upvalues_closure")

local next_id = (function()
  local n = 0
  return function() n = n + 1 return n end
end)()

local memo_calls = 0
local memoised = (function()
  local memo = {}
  return function(x)
    if memo[x] == nil then
      memo_calls = memo_calls + 1
      memo[x] = x .. "!"
    end
    return memo[x]
  end
end)()

local get_singleton
do
  local instance
  get_singleton = function()
    instance = instance or { created_by = nil }
    return instance
  end
end

return {
  ["GET /upvalues_closure/plant"] = function(req)
    local out = {}
    lk.try(out, "id generator", function() for _ = 1, 5 do next_id() end end)
    lk.try(out, "memo", function() memoised(MARK) end)
    lk.try(out, "singleton", function() get_singleton().created_by = MARK end)
    return lk.report(out)
  end,

  ["GET /upvalues_closure/probe"] = function(req)
    local problems = {}
    local id = next_id()
    if id ~= 1 then problems[#problems + 1] = "the first id is " .. id end
    memoised(MARK)
    if memo_calls ~= 1 then problems[#problems + 1] = "memo already held " .. MARK end
    if get_singleton().created_by ~= nil then
      problems[#problems + 1] = "singleton created by " .. tostring(get_singleton().created_by)
    end
    return lk.verdict(problems)
  end,
}
