-- The pipeline object's call method (p:call(cmd, ...) queues the command as a table of its words
-- at p[#p + 1]) is a C function a script can take out of p and call on any table: on a
-- read-only host table it stores a plain table of the script's strings inside that shared
-- table, which every later request reads, and writes into.
local lk = require "lk"
local MARK = lk.marker("pipeline_call_target")

local raw_next = pairs({})

local function pipeline_call()
  local call
  pcall(redis.pipeline, function(p) call = p.call end) -- without Redis the pipeline raises after fn
  return call
end

return {
  ["GET /pipeline_call_target/plant"] = function(req)
    local out = {}
    local call = pipeline_call()
    if type(call) ~= "function" then
      out[#out + 1] = "p.call is a " .. type(call)
      return lk.report(out)
    end
    local targets = { mayfly = mayfly, string = string, config = config, redis = redis, log = log,
      table = table, ["mayfly.json"] = mayfly.json, ['getmetatable("")'] = getmetatable(""),
      ["the constant"] = mayfly.constant(function() return { v = "c" } end) }
    for name, t in pairs(targets) do
      lk.try(out, "p.call(" .. name .. ", ...)", call, t, "SET", MARK, MARK)
    end
    return lk.report(out)
  end,

  ["GET /pipeline_call_target/probe"] = function(req)
    local problems = {}
    local _, tabs = lk.reachable(req)
    tabs[#tabs + 1] = { "the constant", mayfly.constant(function() return { v = "c" } end) }
    for _, t in ipairs(tabs) do
      if lk.is_readonly(t[2]) then
        pcall(function()
          for k, v in raw_next, t[2] do
            local shown = tostring(v)
            if type(v) == "table" then
              local words = {}
              for i = 1, #v do words[i] = tostring(v[i]) end
              shown = "{" .. table.concat(words, ", ") .. "}"
              -- a plain table in a shared one: this request can write into it for the next
              local okw = pcall(function() v.written_by_probe = true end)
              if okw then shown = shown .. " (writable)" end
            end
            problems[#problems + 1] = t[1] .. " (read-only) holds " .. tostring(k) .. " = " .. shown
          end
        end)
        lk.check_table(problems, t[1], t[2], MARK)
      end
    end
    return lk.verdict(problems)
  end,
}
