-- mayfly.constant caches under the function's bytecode, and load() makes functions of any
-- bytecode: a request computes the constant of code it chooses (code naming a secret), and a
-- later request tells which codes were computed before it (a value older than its own clock),
-- so the cache carries any data from request to request.
local lk = require "lk"
local MARK = lk.marker("constant_presence")

-- The code of the constant a plant computes, and of one no plant computes.
-- (The text names the secret: comments do not reach the bytecode, string constants do.)
local PLANTED = "local secret = '" .. MARK .. "' return os.clock()"
local CONTROL = "local secret = 'LEAK_constant_presence_control' return os.clock()"

local function constant_of(code)
  return mayfly.constant(assert(load(code, "=constant_presence")))
end

return {
  ["GET /constant_presence/plant"] = function(req)
    local out = {}
    lk.try(out, "constant of a load()ed chunk naming " .. MARK, constant_of, PLANTED)
    return lk.report(out)
  end,

  ["GET /constant_presence/probe"] = function(req)
    local problems = {}
    -- The control first, then the planted code: when this probe (or an earlier probe) computed
    -- both, the planted one is the younger; older means an earlier request computed it.
    local okc, control = pcall(constant_of, CONTROL)
    local okp, planted = pcall(constant_of, PLANTED)
    if okc and okp and type(control) == "number" and type(planted) == "number" and planted < control then
      problems[#problems + 1] = string.format(
        "the constant of code naming %s was computed by an earlier request (at %.6f, the control at %.6f)",
        MARK, planted, control)
    end
    return lk.verdict(problems)
  end,
}
