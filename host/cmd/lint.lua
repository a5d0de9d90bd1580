-- What `mayfly check` warns about: constructs that look like an attempt to keep state in the
-- process. Reads LuaJIT bytecode (jit.util) of a compiled chunk; runs in the host's own state,
-- never in the sandbox. Returns an array of { line = n, msg = "..." }.
local jutil = require "jit.util"
local bit = require "bit"

local funcbc, funcinfo, funck, funcuvname = jutil.funcbc, jutil.funcinfo, jutil.funck,
  jutil.funcuvname
local band, rshift = bit.band, bit.rshift

-- Opcode numbers differ between LuaJIT builds: learn them from snippets whose bytecode holds
-- exactly one instruction of the kind.
local function opcode_of(src, pick)
  local fn = assert(loadstring(src))
  if pick then fn = fn() end
  local ops = {}
  for pc = 1, 1000 do
    local ins = funcbc(fn, pc)
    if not ins then break end
    ops[#ops + 1] = band(ins, 0xff)
  end
  return ops
end

local function first_unique(a, b)
  -- The opcode present in snippet a's code and not in snippet b's.
  local seen = {}
  for _, op in ipairs(b) do seen[op] = true end
  for _, op in ipairs(a) do if not seen[op] then return op end end
end

local GSET = first_unique(opcode_of("x = ..."), opcode_of("local x = ..."))
local USET = {}
for _, v in ipairs({ "...", "'s'", "1", "true" }) do
  local op = first_unique(
    opcode_of("local a return function(...) a = " .. v .. " end", true),
    opcode_of("local a return function(...) local b = " .. v .. " end", true))
  if op then USET[op] = true end
end

local function line_of(fn, pc)
  local info = funcinfo(fn, pc)
  return info and info.currentline or funcinfo(fn).linedefined
end

local function scan(fn, depth, out)
  for pc = 1, 1e9 do
    local ins = funcbc(fn, pc)
    if not ins then break end
    local op = band(ins, 0xff)
    if op == GSET then
      local name = funck(fn, -rshift(ins, 16) - 1)
      out[#out + 1] = {
        line = line_of(fn, pc),
        msg = ("global '%s' assigned%s: globals last one request only; declare it local, "
          .. "or keep state that must last in Redis"):format(tostring(name),
          depth == 0 and " at chunk level" or " in a function"),
      }
    elseif USET[op] and depth == 1 then
      local name = funcuvname(fn, band(rshift(ins, 8), 0xff))
      out[#out + 1] = {
        line = line_of(fn, pc),
        msg = ("chunk-level local '%s' assigned in a function: the chunk runs again for "
          .. "every request, so it starts over each time; keep counters and caches in Redis")
          :format(tostring(name)),
      }
    end
  end
  for n = -1, -1e9, -1 do
    local k = funck(fn, n)
    if k == nil then break end
    if type(k) == "proto" then scan(k, depth + 1, out) end
  end
end

return function(source, chunkname)
  local fn, err = loadstring(source, chunkname)
  if not fn then return { { line = 0, msg = err } } end
  local out = {}
  scan(fn, 0, out)
  table.sort(out, function(a, b) return a.line < b.line end)
  return out
end
