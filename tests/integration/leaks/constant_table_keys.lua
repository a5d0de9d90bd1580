-- A constant is frozen deeply, keys included: a table used as a key is as read-only as the
-- values, through indexing, pairs and the VM's own next.
local lk = require "lk"
local MARK = lk.marker("constant_table_keys")
local raw_next = pairs({})

local function value()
  return mayfly.constant(function()
    local k = { name = "key" }
    return { [k] = "v", list = { [{ 1 }] = true } }
  end)
end

local function keys(c)
  local out = {}
  for _, nxt in ipairs { next, raw_next } do
    for t in pairs { [c] = true, [c.list] = true } do
      pcall(function()
        for k in nxt, t do
          if type(k) == "table" then out[#out + 1] = k end
        end
      end)
    end
  end
  return out
end

return {
  ["GET /constant_table_keys/plant"] = function(req)
    local out = {}
    for _, k in ipairs(keys(value())) do
      lk.write_all_ways(out, "constant key", k, "name", MARK)
    end
    return lk.report(out)
  end,

  ["GET /constant_table_keys/probe"] = function(req)
    local problems = {}
    local found = keys(value())
    if #found == 0 then problems[#problems + 1] = "no table key found" end
    for _, k in ipairs(found) do
      lk.check_table(problems, "constant key", k, MARK)
      if not lk.is_readonly(k) then problems[#problems + 1] = "a table key is writable" end
    end
    return lk.verdict(problems)
  end,
}
