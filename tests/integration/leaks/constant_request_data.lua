-- mayfly.constant cannot carry one request's data to another: its function runs detached from
-- the request (no upvalue but host modules, an environment, a require cache and a random
-- sequence of its own), whichever request computes it first.
local lk = require "lk"
local MARK = lk.marker("constant_request_data")

-- The same functions (one prototype each) serve the plant and the probe.
local function through_upvalue(x)
  return mayfly.constant(function() return { v = x } end)
end
local function through_global()
  return mayfly.constant(function() return { v = LEAK_constant_request_data } end)
end
local function through_load()
  return mayfly.constant(function() return { v = load("return LEAK_constant_request_data")() } end)
end
local function through_thread_env()
  return mayfly.constant(function() return { v = getfenv(0).LEAK_constant_request_data } end)
end
local function through_module()
  return mayfly.constant(function() return { v = require("leak_mod").value } end)
end
local function through_random()
  return mayfly.constant(function() return { v = math.random(1, 1e9) } end)
end

local probes = { through_global, through_load, through_thread_env, through_module }

return {
  ["GET /constant_request_data/plant"] = function(req)
    local out = {}
    LEAK_constant_request_data = MARK
    local ok, m = pcall(require, "leak_mod")
    if ok and type(m) == "table" then pcall(function() m.value = MARK end) end
    math.randomseed(7)
    lk.try(out, "constant over an upvalue", through_upvalue, MARK)
    for i, f in ipairs(probes) do
      lk.try(out, "constant " .. i, f)
    end
    lk.try(out, "constant over math.random after randomseed(7)", through_random)
    return lk.report(out)
  end,

  ["GET /constant_request_data/probe"] = function(req)
    local problems = {}
    local ok, c = pcall(through_upvalue, "probe")
    if ok and c.v == MARK then problems[#problems + 1] = "a constant over an upvalue kept " .. MARK end
    for i, f in ipairs(probes) do
      local okf, v = pcall(f)
      if okf and type(v) == "table" and v.v == MARK then
        problems[#problems + 1] = "constant " .. i .. " holds " .. MARK
      elseif not okf then
        problems[#problems + 1] = "constant " .. i .. " failed: " .. tostring(v)
      end
    end
    local okr, r = pcall(through_random)
    math.randomseed(7)
    local seeded = math.random(1, 1e9)
    if okr and r.v == seeded then problems[#problems + 1] = "a constant followed a request's randomseed" end
    return lk.verdict(problems)
  end,
}
