-- Helpers shared by the leak vectors of this folder (a module: it has no route keys, so it is
-- not served; each vector requires it, once per request like any module).
--
-- Every vector file returns two routes:
--   GET /<vector>/plant  tries to leave state behind in the process; each attempt runs in pcall
--                        and is reported as "planted" (not refused: it may still have changed
--                        only the request's own state) or "refused: <error>" (always 200);
--   GET /<vector>/probe  answers exactly "clean" when nothing of any earlier request is
--                        visible, and "leaked: ..." naming what it saw otherwise.
-- Planted values and keys carry a marker, "LEAK_<vector>", so a probe that sees another
-- vector's leak names the vector that planted it.
local lk = {}

-- Captured when this module loads (every request), before the vector's code runs.
local pairs, ipairs, type, tostring, pcall, select = pairs, ipairs, type, tostring, pcall, select
local getmetatable, getfenv, rawget, rawequal, require = getmetatable, getfenv, rawget, rawequal,
  require
local concat, sort = table.concat, table.sort
local find, format = string.find, string.format

-- The VM's own next: pairs() hands it out for plain tables. Unlike the host's next, it walks the
-- raw content of the table it is given, so it also sees keys stored in a frozen proxy itself.
local raw_next = pairs({})

function lk.marker(vector)
  return "LEAK_" .. vector
end

-- ---- plants ----

-- Runs fn(...) protected and records the outcome under name.
function lk.try(out, name, fn, ...)
  local ok, err = pcall(fn, ...)
  out[#out + 1] = name .. ": " .. (ok and "planted" or ("refused: " .. tostring(err)))
  return ok
end

function lk.report(out)
  return concat(out, "\n") .. "\n"
end

-- Every way of writing into a table, each tried on its own: assignment of a new key, overwrite of
-- an existing key (with a function that returns the marker), rawset, table.insert, table.move,
-- setmetatable, integer keys, and the same through load()'ed code.
function lk.write_all_ways(out, label, t, existing, mark, loadname)
  local evil = lk.evil(mark)
  lk.try(out, label .. " new key", function() t[mark] = mark end)
  if existing then
    lk.try(out, label .. "." .. existing .. " overwritten", function() t[existing] = evil end)
    lk.try(out, "rawset " .. label .. "." .. existing, rawset, t, existing, evil)
  end
  lk.try(out, "rawset " .. label, rawset, t, mark, mark)
  lk.try(out, label .. "[1]", function() t[1] = mark end)
  lk.try(out, "table.insert " .. label, table.insert, t, mark)
  lk.try(out, "table.insert " .. label .. " at 1", table.insert, t, 1, mark)
  lk.try(out, "table.move into " .. label, table.move, { mark, mark }, 1, 2, 1, t)
  lk.try(out, "table.move within " .. label, table.move, t, 1, 1, 2)
  lk.try(out, "setmetatable " .. label, setmetatable, t, {
    __index = function() return mark end,
    __newindex = function() end,
  })
  lk.try(out, "setmetatable " .. label .. " nil", setmetatable, t, nil)
  if loadname then
    lk.try(out, "load() writing " .. label, function()
      assert(load(loadname .. "[" .. format("%q", mark) .. "] = " .. format("%q", mark)))()
    end)
  end
end

-- ---- probes ----

function lk.verdict(problems)
  if #problems == 0 then
    return "clean"
  end
  return "leaked: " .. concat(problems, "; ")
end

function lk.is_readonly(t)
  local mt = getmetatable(t)
  return type(mt) == "string" and find(mt, "^mayfly: read%-only") ~= nil
end

-- A function a vector planted: made by lk.evil, so its bytecode names this file.
function lk.evil(mark)
  return function() return mark end
end

function lk.is_evil(f)
  if type(f) ~= "function" then
    return false
  end
  local ok, code = pcall(string.dump, f)
  return ok and find(code, "lk.lua", 1, true) ~= nil
end

-- Looks for the marker in t: as a key (through indexing, rawget, the host's pairs and the raw
-- next), as a value, as a function planted by lk.evil, and as what a missing key gives.
function lk.check_table(problems, label, t, mark)
  if type(t) ~= "table" then
    return
  end
  local function add(what) problems[#problems + 1] = label .. " " .. what end
  local ok, v = pcall(function() return t[mark] end)
  if ok and v ~= nil then add("has key " .. mark) end
  ok, v = pcall(rawget, t, mark)
  if ok and v ~= nil then add("has raw key " .. mark) end
  ok, v = pcall(function() return t.LEAK_missing_key_probe end)
  if not ok or v ~= nil then add("answers a missing key with " .. tostring(v)) end
  for _, nxt in ipairs { next, raw_next } do
    local ok2, err = pcall(function()
      for k, x in nxt, t do
        if k == mark or x == mark or (type(k) == "string" and find(k, "^LEAK_"))
          or (type(x) == "string" and find(x, "^LEAK_")) then
          add("holds " .. tostring(k) .. " = " .. tostring(x))
        elseif lk.is_evil(x) then
          add("." .. tostring(k) .. " is a planted function returning " .. tostring(x()))
        end
      end
    end)
    if not ok2 then add("cannot be iterated: " .. tostring(err)) end
  end
end

-- ---- what a script can reach ----

-- The names of the shared globals every environment sees (the environment's own table starts
-- empty, so they cannot be listed with pairs), including those that must be absent.
lk.global_names = {
  "assert", "error", "pcall", "xpcall", "rawequal", "select", "tonumber", "tostring", "type",
  "unpack", "getmetatable", "setmetatable", "pairs", "ipairs", "next", "rawget", "rawset",
  "setfenv", "getfenv", "load", "loadstring", "collectgarbage", "require", "print", "_VERSION",
  "string", "table", "math", "os", "coroutine", "bit", "debug", "mayfly", "redis", "log",
  "config", "io", "ffi", "jit", "package", "module", "newproxy", "dofile", "loadfile", "gcinfo",
}

lk.host_modules = {
  "string", "table", "math", "os", "coroutine", "bit", "debug", "mayfly.json", "mayfly.env",
  "mayfly.log", "mayfly.redis", "mayfly.config", "mayfly._config_source", "table.new",
  "table.clear", "cjson", "cjson.safe",
}

-- Every function and table reachable from the shared globals, the host modules, the string
-- metatable, the iterators pairs/ipairs hand out and (given req) the request object.
-- Returns two arrays of { name, value }.
function lk.reachable(req)
  local seen, fns, tabs = {}, {}, {}
  local function walk(v, name, depth)
    local tv = type(v)
    if (tv ~= "function" and tv ~= "table") or seen[v] or depth > 8 then
      return
    end
    seen[v] = true
    if tv == "function" then
      fns[#fns + 1] = { name, v }
      return
    end
    tabs[#tabs + 1] = { name, v }
    local keys = {}
    pcall(function()
      for k in pairs(v) do keys[#keys + 1] = k end
    end)
    for _, k in ipairs(keys) do
      if type(k) == "string" or type(k) == "number" then
        local ok, x = pcall(function() return v[k] end)
        if ok then walk(x, name .. "." .. tostring(k), depth + 1) end
      end
    end
    local mt = getmetatable(v)
    if type(mt) == "table" then walk(mt, "getmetatable(" .. name .. ")", depth + 1) end
  end
  for _, n in ipairs(lk.global_names) do
    walk(getfenv(0)[n], n, 0)
  end
  for _, m in ipairs(lk.host_modules) do
    local ok, v = pcall(require, m)
    if ok then walk(v, 'require "' .. m .. '"', 0) end
  end
  walk(getmetatable(""), 'getmetatable("")', 0)
  walk((pairs(string)), "pairs(string)", 0)
  walk((ipairs(string)), "ipairs(string)", 0)
  walk((pairs({})), "pairs({})", 0)
  walk((ipairs({})), "ipairs({})", 0)
  if req then
    walk(req.json, "req.json", 0)
  end
  return fns, tabs
end

-- Is t an environment no script should hold: not this request's, not read-only, or one that
-- leads to what the sandbox removed (io, os.execute, package, debug.getregistry, ...)?
function lk.unsafe_env(t)
  if type(t) ~= "table" then
    return nil
  end
  local why = {}
  local function has(f)
    local ok, v = pcall(f)
    return ok and v ~= nil
  end
  if has(function() return t.io end) then why[#why + 1] = "io" end
  if has(function() return t.package end) then why[#why + 1] = "package" end
  if has(function() return t.jit end) then why[#why + 1] = "jit" end
  if has(function() return t.os.execute end) then why[#why + 1] = "os.execute" end
  if has(function() return t.debug.getregistry end) then why[#why + 1] = "debug.getregistry" end
  if not rawequal(t, getfenv(0)) and not lk.is_readonly(t) then
    why[#why + 1] = "writable"
  end
  if #why == 0 then
    return nil
  end
  return concat(why, ", ")
end

-- Every environment a script can get hold of: getfenv of each reachable function and getfenv(2)
-- and (3) inside callbacks the host's functions make. Returns an array of { how, env }.
function lk.environments(req)
  local envs = {}
  local fns = lk.reachable(req)
  for _, f in ipairs(fns) do
    local ok, e = pcall(getfenv, f[2])
    if ok then envs[#envs + 1] = { "getfenv(" .. f[1] .. ")", e } end
  end
  local function from_callback(name, run)
    for level = 2, 3 do
      local got
      pcall(run, function()
        local ok, e = pcall(getfenv, level + 1) -- + 1: pcall's own level
        if ok and got == nil then got = e end
      end)
      if got ~= nil then envs[#envs + 1] = { "getfenv(" .. level .. ") in " .. name, got } end
    end
  end
  from_callback("table.foreach", function(cb) table.foreach({ 1 }, function() cb() end) end)
  from_callback("table.foreachi", function(cb) table.foreachi({ 1 }, function() cb() end) end)
  from_callback("table.sort", function(cb)
    table.sort({ 3, 1, 2 }, function(a, b) cb() return a < b end)
  end)
  from_callback("string.gsub", function(cb) string.gsub("a", "a", function() cb() end) end)
  from_callback("xpcall", function(cb) xpcall(function() error("x") end, function() cb() end) end)
  from_callback("coroutine.wrap", function(cb) coroutine.wrap(function() cb() end)() end)
  return envs
end

-- The environments that are unsafe (see unsafe_env): an array of { how, env, why }.
function lk.escapes(req)
  local out = {}
  for _, e in ipairs(lk.environments(req)) do
    local why = lk.unsafe_env(e[2])
    if why then out[#out + 1] = { e[1], e[2], why } end
  end
  return out
end

-- Allocates garbage until the collector has visibly finished `cycles` cycles (the memory count
-- dropped), or max_kib was allocated. Returns the number of cycles seen.
function lk.run_gc(cycles, max_kib)
  local last, seen, allocated = collectgarbage("count"), 0, 0
  local keep
  while seen < cycles and allocated < max_kib do
    for i = 1, 64 do
      keep = { i, i, i, i, i, i, i, i, tostring(i) .. "x" }
    end
    allocated = allocated + 8
    local now = collectgarbage("count")
    if now < last then seen = seen + 1 end
    last = now
  end
  return seen, keep
end

-- ---- the standard libraries as the sandbox offers them ----

-- The keys each library has (the functions and constants of the pure parts), used to tell a
-- planted key from the library's own.
lk.libs = {
  string = { "byte", "char", "dump", "find", "format", "gmatch", "gsub", "len", "lower", "match",
    "rep", "reverse", "sub", "upper" },
  table = { "concat", "foreach", "foreachi", "getn", "insert", "maxn", "move", "remove", "sort" },
  math = { "abs", "acos", "asin", "atan", "atan2", "ceil", "cos", "cosh", "deg", "exp", "floor",
    "fmod", "frexp", "huge", "ldexp", "log", "log10", "max", "min", "modf", "pi", "pow", "rad",
    "random", "randomseed", "sin", "sinh", "sqrt", "tan", "tanh" },
  os = { "clock", "date", "difftime", "getenv", "time" },
  coroutine = { "create", "isyieldable", "resume", "running", "status", "wrap", "yield" },
  bit = { "arshift", "band", "bnot", "bor", "bswap", "bxor", "lshift", "rol", "ror", "rshift",
    "tobit", "tohex" },
  debug = { "traceback" },
}

-- For each library: the key a plant overwrites, and a check that it still behaves.
lk.lib_behaviour = {
  string = { "format", function(l) return l.format("%d-%s", 7, "x") == "7-x" end },
  table = { "concat", function(l) return l.concat({ "a", "b" }, ",") == "a,b" end },
  math = { "floor", function(l) return l.floor(1.5) == 1 and l.pi > 3.14 end },
  os = { "time", function(l) return type(l.time()) == "number" and l.time() > 1e9 end },
  coroutine = { "wrap", function(l) return l.wrap(function() return 5 end)() == 5 end },
  bit = { "band", function(l) return l.band(6, 3) == 2 end },
  debug = { "traceback", function(l)
    return find(l.traceback("m"), "^m\nstack traceback:") ~= nil
  end },
}

function lk.plant_lib(out, name, mark)
  local lib = getfenv(0)[name]
  lk.write_all_ways(out, name, lib, lk.lib_behaviour[name][1], mark, name)
  lk.try(out, "require '" .. name .. "' new key", function() require(name)[mark] = mark end)
  lk.try(out, "getmetatable(" .. name .. ").__index", function()
    getmetatable(lib).__index = { [mark] = mark }
  end)
  lk.try(out, "table.remove " .. name, table.remove, lib)
  lk.try(out, "table.sort " .. name, table.sort, lib)
end

function lk.probe_lib(problems, name, mark)
  local lib = getfenv(0)[name]
  if type(lib) ~= "table" then
    problems[#problems + 1] = name .. " is a " .. type(lib)
    return
  end
  lk.check_table(problems, name, lib, mark)
  local known = {}
  for _, k in ipairs(lk.libs[name]) do known[k] = true end
  for k, v in pairs(lib) do
    if not known[k] and type(v) ~= "function" then
      problems[#problems + 1] = name .. " has a foreign key " .. tostring(k) .. " = " .. tostring(v)
    end
  end
  for _, k in ipairs(lk.libs[name]) do
    if lib[k] == nil then problems[#problems + 1] = name .. "." .. k .. " is gone" end
  end
  local ok, good = pcall(lk.lib_behaviour[name][2], lib)
  if not (ok and good) then
    problems[#problems + 1] = name .. "." .. lk.lib_behaviour[name][1] .. " misbehaves: "
      .. tostring(good)
  end
  if getmetatable(lib) ~= "mayfly: read-only " .. name then
    problems[#problems + 1] = "getmetatable(" .. name .. ") is " .. tostring(getmetatable(lib))
  end
  local ok2, m = pcall(require, name)
  if not ok2 or not rawequal(m, lib) then
    problems[#problems + 1] = "require '" .. name .. "' is not the global " .. name
  end
end

return lk
