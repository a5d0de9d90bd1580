-- The host reads a handler's result inside the request's run: a metamethod on the returned
-- table runs in this request's environment, under its limits, never on the worker's own thread
-- where it could replace the environment or the random generator that later reads see.
local lk = require "lk"
local MARK = lk.marker("response_reader")

return {
  ["GET /response_reader/plant"] = function(req)
    local out = {}
    local planted = {}
    return setmetatable({}, {
      __index = function(_, key)
        if key == "body" then
          return lk.report(planted)
        end
        lk.try(planted, "setfenv(0) while the host reads " .. tostring(key), setfenv, 0,
          setmetatable({ [MARK] = MARK }, { __index = getfenv(0) }))
        lk.try(planted, "math.randomseed while the host reads " .. tostring(key), math.randomseed, 42)
        lk.try(planted, "a global while the host reads " .. tostring(key), function() LEAK_response_reader = MARK end)
        return nil
      end,
    })
  end,

  ["GET /response_reader/probe"] = function(req)
    local env = getfenv(1)
    return setmetatable({}, {
      __index = function(_, key)
        if key ~= "body" then return nil end
        local problems = {}
        local e0 = getfenv(0)
        if rawget(e0, MARK) ~= nil or e0[MARK] ~= nil then problems[#problems + 1] = "getfenv(0) holds " .. MARK end
        if not rawequal(e0, env) then problems[#problems + 1] = "getfenv(0) is not the request's environment while the host reads the response" end
        if LEAK_response_reader ~= nil then problems[#problems + 1] = "a global from an earlier reader" end
        local a, b = math.random(), math.random()
        math.randomseed(42)
        if a == math.random() and b == math.random() then problems[#problems + 1] = "math.random follows the seed an earlier reader planted" end
        return lk.verdict(problems)
      end,
    })
  end,
}
