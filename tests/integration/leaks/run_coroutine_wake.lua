-- A request's run is a coroutine of the worker (coroutine.running() in a handler), reused by
-- later runs once this one ends, and resumable by anyone who holds it: the host's run body takes
-- whatever it is resumed with for the next run's arguments (chunk, route, request). Carried to a
-- later request (here through the shared table p.call writes into, see pipeline_call_target),
-- it lets that request wake the coroutine another request runs, or waits, in.
local lk = require "lk"
local MARK = lk.marker("run_coroutine_wake")

local raw_next = pairs({})

local function pipeline_call()
  local call
  pcall(redis.pipeline, function(p) call = p.call end)
  return call
end

return {
  ["GET /run_coroutine_wake/plant"] = function(req)
    local out = {}
    local call = pipeline_call()
    lk.try(out, "keep the run's coroutine in a host table", function()
      local i = call(mayfly, "SET", MARK)
      local slot = mayfly[i]
      slot.co = coroutine.running()
    end)
    return lk.report(out)
  end,

  ["GET /run_coroutine_wake/probe"] = function(req)
    local problems = {}
    local mine = coroutine.running()
    pcall(function()
      for k, v in raw_next, mayfly do
        if type(v) == "table" and type(v.co) == "thread" and v.co == mine then
          -- Sequential requests on a worker take the same coroutine back from the idle pool.
          problems[#problems + 1] = "mayfly[" .. tostring(k) .. "].co, an earlier request's run coroutine, "
            .. "is this request's: reused while that request's reference to it lives"
        elseif type(v) == "table" and type(v.co) == "thread" then
          local co = v.co
          local status = coroutine.status(co)
          local line = "mayfly[" .. tostring(k) .. "].co is an earlier request's run coroutine (" .. status .. ")"
          if status == "suspended" then
            -- The next "run" it would start: a chunk that fails at once, so nothing else runs.
            local r = { coroutine.resume(co, function() error(MARK .. " woke it", 0) end, "m", "GET /x", "f", nil) }
            for i = 1, #r do r[i] = tostring(r[i]) end
            line = line .. "; resumed, it answered: " .. table.concat(r, ", ")
          end
          problems[#problems + 1] = line
        end
      end
    end)
    return lk.verdict(problems)
  end,
}
