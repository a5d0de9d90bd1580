-- A constant's function over C closures that hold a request's data (string.gmatch's iterator,
-- the function coroutine.wrap returns): a call in a handler computes its value for itself and
-- keeps nothing, so no later request gets it, not even a closure of a later request allocated at
-- the same address (the cache holds only what the version's load computed).
local lk = require "lk"
local MARK = lk.marker("constant_c_upvalue")

-- One prototype for the plant and the probe.
local function over(it)
  return function() return { v = it() } end
end

return {
  ["GET /constant_c_upvalue/plant"] = function(req)
    local out = {}
    local keep = {}
    lk.try(out, "constant over string.gmatch's iterator", function()
      for i = 1, 400 do
        local it = string.gmatch(MARK, ".+")
        keep[i] = it -- alive until the loop ends: each at an address of its own
        mayfly.constant(over(it))
      end
    end)
    lk.try(out, "constant over a coroutine.wrap function", function()
      for i = 1, 100 do
        local w = coroutine.wrap(function() return MARK end)
        keep[#keep + 1] = w
        mayfly.constant(over(w))
      end
    end)
    return lk.report(out)
  end,

  ["GET /constant_c_upvalue/probe"] = function(req)
    local problems = {}
    -- This request's own data, read by a constant's function called here: its own value.
    local secret = "probe-" .. tostring(math.random(1, 1e9))
    local ok, c = pcall(mayfly.constant, over(string.gmatch(secret, ".+")))
    if ok and type(c) == "table" and c.v ~= secret then
      problems[#problems + 1] = "a constant computed in a handler got " .. tostring(c.v)
    end
    -- The closures of earlier requests are garbage: collect them, then take their addresses.
    lk.run_gc(3, 64 * 1024)
    local keep, seen = {}, {}
    for i = 1, 3000 do
      local it = string.gmatch("probe", ".+")
      keep[i] = it
      local okc, v = pcall(mayfly.constant, over(it))
      if okc and type(v) == "table" and v.v ~= "probe" and v.v ~= nil then
        seen[tostring(v.v)] = (seen[tostring(v.v)] or 0) + 1
      end
    end
    for v, n in pairs(seen) do
      problems[#problems + 1] = n .. " new closures got the constant of an earlier request: " .. v
    end
    return lk.verdict(problems)
  end,
}
