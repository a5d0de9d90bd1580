-- The busted core: the describe/it tree, hooks, and their ordering and error rules.
-- A block's body runs when the block's turn comes (declaring its tests and hooks), then its
-- setup, its children in order, its teardown. Per test: before_each hooks outer to inner, the
-- body, its finally callbacks, after_each hooks inner to outer. Results are success, failure
-- (an assertion failed in a test), error (anything else raised, in a test or a hook) and
-- pending; an error in a hook is reported as an error element of its own named "<block> <hook>",
-- and the tests the hook's failure kept from running are not reported.
local luassert = require "test.assert"
local spy = require "test.spy"

local M = {}

local pending_mt = { __tostring = function(p) return p.message end }

-- Options: filter, filter_out (lists of Lua patterns), tags, exclude_tags (lists), shuffle,
-- seed, lazy (setup/teardown mean lazy_*), list (only report the tests that would run).
function M.new(opts, handler)
  local self = {
    opts = opts,
    handler = handler,
    current = nil,
    counts = { success = 0, failure = 0, error = 0, pending = 0 },
    after_test = {}, -- callbacks run after every test (the testing module's cleanup)
    listed = {},
  }
  local rng = (opts.seed or os.time()) % 2147483647
  if rng <= 0 then rng = rng + 2147483646 end
  function self.random(n) -- a private sequence: spec code calling math.random cannot shift it
    rng = (rng * 16807) % 2147483647
    return rng % n + 1
  end
  return setmetatable(self, { __index = M })
end

-- ---- names, tags, filters ----

local function full_name(node)
  local names = {}
  while node and node.kind ~= "file" and node.kind ~= "root" do
    table.insert(names, 1, node.name)
    node = node.parent
  end
  return table.concat(names, " ")
end
M.full_name = full_name

local function has_tag(name, tags)
  for tag in name:gmatch("#([%w_%-]+)") do
    for _, t in ipairs(tags) do
      if t == tag then return true end
    end
  end
  return false
end

-- --filter-out and --exclude-tags leave out whole blocks (as busted), hooks included.
function M:excluded(block)
  local name = full_name(block)
  if self.opts.exclude_tags and has_tag(name, self.opts.exclude_tags) then return true end
  for _, p in ipairs(self.opts.filter_out or {}) do
    if name:find(p) then return true end
  end
  return false
end

function M:selected(node)
  local name = full_name(node)
  local o = self.opts
  if o.tags and #o.tags > 0 and not has_tag(name, o.tags) then return false end
  if o.exclude_tags and has_tag(name, o.exclude_tags) then return false end
  if o.filter and #o.filter > 0 then
    local any = false
    for _, p in ipairs(o.filter) do
      if name:find(p) then any = true; break end
    end
    if not any then return false end
  end
  for _, p in ipairs(o.filter_out or {}) do
    if name:find(p) then return false end
  end
  return true
end

-- ---- reporting ----

local function where(level)
  local info = debug.getinfo(level + 1, "Sl")
  return { short_src = info.short_src, currentline = info.currentline, source = info.source }
end

-- A table as busted prints a raised one: array part first, then the other keys sorted.
local function pretty(v, indent, seen)
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) ~= "table" then return tostring(v) end
  if seen[v] then return "<cycle>" end
  seen[v] = true
  local inner = indent .. "  "
  local lines, n = {}, #v
  for i = 1, n do lines[#lines + 1] = inner .. pretty(v[i], inner, seen) end
  local keys = {}
  for k in pairs(v) do
    if not (type(k) == "number" and k >= 1 and k <= n and k == math.floor(k)) then keys[#keys + 1] = k end
  end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(keys) do
    local name = type(k) == "string" and k:match("^[%a_][%w_]*$") and k or ("[" .. pretty(k, inner, seen) .. "]")
    lines[#lines + 1] = inner .. name .. " = " .. pretty(v[k], inner, seen)
  end
  seen[v] = nil
  if #lines == 0 then return "{\n" .. indent .. "}" end
  return "{\n" .. table.concat(lines, ",\n") .. "\n" .. indent .. "}"
end

-- The message of a raised value, with the position it was raised at when it has none (as
-- busted: error("x", 0), error({}), error(nil) all name a line).
local function message_of(e, raised_at)
  if luassert.is_failure(e) or getmetatable(e) == pending_mt then return e.message end
  local text
  if type(e) == "string" then
    if e:match("^[^\n]-:%d+: ") then return e end
    text = e
  elseif e == nil then
    text = "Nil error"
  elseif type(e) == "table" and getmetatable(e) and getmetatable(e).__tostring then
    text = tostring(e)
  elseif type(e) == "table" then
    text = pretty(e, "", {})
  else
    text = tostring(e)
  end
  return raised_at and (raised_at .. ": " .. text) or text
end

-- Where the error was raised: the first Lua frame above the error handler outside the runner.
local function raised_at()
  for level = 3, 30 do
    local info = debug.getinfo(level, "Sl")
    if not info then return nil end
    if info.what ~= "C" and not info.short_src:find("host/test/", 1, true) and info.currentline > 0 then
      return info.short_src .. ":" .. info.currentline
    end
  end
end

-- The traceback from the failing frame up to the runner's own frames.
local function traceback()
  local tb = debug.traceback("", 3)
  local keep = {}
  for line in tb:gmatch("[^\n]+") do
    if line:find("[C]: in function 'xpcall'", 1, true) then break end
    if line ~= "stack traceback:" and not line:find("host/test/", 1, true)
        and not line:find("[C]: in function 'error'", 1, true) then
      keep[#keep + 1] = line
    end
  end
  return { traceback = "\nstack traceback:\n" .. table.concat(keep, "\n") .. "\n" }
end

function M:report(status, node, name, message, trace)
  self.counts[status] = self.counts[status] + 1
  local rec = {
    status = status,
    name = name,
    message = message,
    trace = trace,
    element = { name = node.name, descriptor = node.kind, trace = node.trace, attributes = {} },
    hook = node.hook, -- an error in a hook: terminals show no progress mark for it (as busted)
    duration = node.duration or 0,
  }
  if self.handler.result then self.handler.result(rec) end
end

-- Runs fn protected. Returns "success", or "failure"/"error"/"pending" with message and trace.
local function protected(fn, ...)
  local trace, at
  local ok, e = xpcall(fn, function(err)
    trace = traceback()
    at = raised_at()
    return err
  end, ...)
  if ok then return "success" end
  local status = "error"
  if luassert.is_failure(e) then status = "failure"
  elseif getmetatable(e) == pending_mt then status = "pending" end
  return status, message_of(e, at), trace, e
end

-- ---- the declaration API (globals of spec files) ----

function M:declare(kind, name, fn, level)
  local parent = self.current
  if not parent then error(kind .. " called outside of a spec file's run", level + 1) end
  if parent.kind == "it" then error(kind .. " may not be nested in a test", level + 1) end
  if type(name) ~= "string" then
    error(kind .. ": expected a name (string), got " .. type(name), level + 1)
  end
  local node = { kind = kind, name = name, fn = fn, parent = parent, trace = where(level + 1) }
  parent.children[#parent.children + 1] = node
  return node
end

function M:hook(which, fn, level)
  local block = self.current
  if not block or block.kind == "it" then
    if which == "finally" and self.running_test then
      table.insert(self.running_test.finally, fn)
      return
    end
    error(which .. " must be called in a describe block", level + 1)
  end
  if which == "finally" then error("finally must be called inside a test", level + 1) end
  if type(fn) ~= "function" then error(which .. ": expected a function", level + 1) end
  local kind = which
  if which == "setup" then kind = self.opts.lazy and "lazy_setup" or "strict_setup" end
  if which == "teardown" then kind = self.opts.lazy and "lazy_teardown" or "strict_teardown" end
  local list = block.hooks[kind]
  list[#list + 1] = { fn = fn, name = which, trace = where(level + 1) }
end

local hook_names = { "strict_setup", "lazy_setup", "before_each", "after_each",
  "lazy_teardown", "strict_teardown" }
local function new_block(node)
  node.children = {}
  node.hooks = {}
  for _, h in ipairs(hook_names) do node.hooks[h] = {} end
  return node
end

function M:api()
  local core = self
  local api = {}
  local function block(isolation)
    return function(name, fn)
      local node = core:declare("describe", name, fn, 2)
      node.isolation = isolation
      new_block(node)
    end
  end
  api.describe = block(nil)
  api.context = api.describe
  api.insulate = block("insulate")
  api.expose = block("expose")
  local function test(name, fn)
    if fn == nil then return end -- a test without a body is not run (as busted)
    if type(fn) ~= "function" then error("it: expected a function", 2) end
    core:declare("it", name, fn, 2)
  end
  api.it, api.spec, api.test = test, test, test
  api.pending = function(name)
    if core.running_test then
      local at = where(2)
      error(setmetatable({ message = at.short_src .. ":" .. at.currentline .. ": " .. tostring(name),
        trace = at }, pending_mt), 0)
    end
    core:declare("pending", name or "", nil, 2)
  end
  for _, h in ipairs({ "setup", "teardown", "lazy_setup", "lazy_teardown", "strict_setup",
    "strict_teardown", "before_each", "after_each", "finally" }) do
    api[h] = function(fn) core:hook(h, fn, 2) end
  end
  api.randomize = function(on)
    if core.current then core.current.randomize = on ~= false end
  end
  api.assert = luassert.assert
  api.spy = spy
  api.stub = spy.stub
  api.mock = spy.mock
  api.match = require "test.match"
  return api
end

-- ---- running ----

-- Insulation: an insulate block (and every file) puts _G and package.loaded back as they were;
-- what an expose block changed survives the restore of the nearest insulate around it.
local NIL = {}

local function snapshot_globals()
  local g, loaded = {}, {}
  for k, v in pairs(_G) do g[k] = v end
  for k, v in pairs(package.loaded) do loaded[k] = v end
  return { g = g, loaded = loaded, exported = { g = {}, loaded = {} } }
end

local function diff_into(now, before, into)
  for k, v in pairs(now) do
    if before[k] ~= v then into[k] = v end
  end
  for k in pairs(before) do
    if now[k] == nil then into[k] = NIL end
  end
end

local function put(t, k, v)
  if v == NIL then v = nil end
  rawset(t, k, v)
end

local function restore_globals(s)
  for k in pairs(_G) do
    if s.g[k] == nil then rawset(_G, k, nil) end
  end
  for k, v in pairs(s.g) do
    if rawget(_G, k) ~= v then rawset(_G, k, v) end
  end
  for k in pairs(package.loaded) do
    if s.loaded[k] == nil then package.loaded[k] = nil end
  end
  for k, v in pairs(s.loaded) do package.loaded[k] = v end
  for k, v in pairs(s.exported.g) do put(_G, k, v) end
  for k, v in pairs(s.exported.loaded) do put(package.loaded, k, v) end
end

function M:shuffle(list)
  for i = #list, 2, -1 do
    local j = self.random(i)
    list[i], list[j] = list[j], list[i]
  end
end

-- Hook errors name the block and the hook: "outer inner before_each".
function M:hook_error(block, hook, message, trace)
  local name = full_name(block)
  if block.kind == "file" then name = block.name end
  self:report("error", { name = hook.name, kind = hook.name, trace = hook.trace, hook = true },
    (name ~= "" and name .. " " or "") .. hook.name, message, trace)
end

function M:run_hooks(block, which)
  for _, h in ipairs(block.hooks[which]) do
    local status, message, trace = protected(h.fn)
    if status ~= "success" then
      self:hook_error(block, h, message, trace)
      return false
    end
  end
  return true
end

-- Lazy setups of the test's blocks, outer first, run once before the first test that runs.
function M:ensure_setup(block)
  if block.parent then
    if not self:ensure_setup(block.parent) then return false end
  end
  if block.setup_failed then return false end
  if not block.lazy_done then
    block.lazy_done = true
    if not self:run_hooks(block, "lazy_setup") then
      block.setup_failed = true
      return false
    end
  end
  return true
end

function M:run_test(node)
  if not self:selected(node) then return end
  if self.opts.list then
    self.listed[#self.listed + 1] = node
    return
  end
  if not self:ensure_setup(node.parent) then return end
  local chain = {}
  local b = node.parent
  while b do table.insert(chain, 1, b); b = b.parent end

  node.finally = {}
  local started = os.clock()
  if self.handler.test_start then self.handler.test_start(node) end
  local ran_before = 0
  local before_ok = true
  for i, blk in ipairs(chain) do
    if not self:run_hooks(blk, "before_each") then before_ok = false; break end
    ran_before = i
  end
  local status, message, trace = "success"
  if before_ok then
    self.running_test = node
    self.current = node
    local raised
    status, message, trace, raised = protected(node.fn)
    if status == "pending" then node.trace = raised.trace end -- reported where pending() was
    for _, f in ipairs(node.finally) do
      local fs, fm, ft = protected(f)
      if fs ~= "success" and status == "success" then
        status, message, trace = "error", fm, ft
      end
    end
    self.running_test = nil
    self.current = node.parent
  end
  node.duration = os.clock() - started
  if before_ok then
    self:report(status, node, full_name(node), message, trace)
  end
  -- after_each runs for every level whose before_each ran, and for the level that failed.
  local last = before_ok and #chain or ran_before + 1
  for i = last, 1, -1 do
    self:run_hooks(chain[i], "after_each")
  end
  for _, f in ipairs(self.after_test) do f(node) end
end

function M:run_pending(node)
  if not self:selected(node) then return end
  if self.opts.list then
    self.listed[#self.listed + 1] = node
    return
  end
  self:report("pending", node, full_name(node), nil, nil)
end

-- Runs a block: its body (declaring children), strict setup, children, teardown.
function M:run_block(block, body, ...)
  local saved, before_expose
  if block.isolation == "insulate" then
    saved = snapshot_globals()
    self.insulations = self.insulations or {}
    table.insert(self.insulations, saved)
  elseif block.isolation == "expose" then
    before_expose = snapshot_globals()
  end
  local outer = self.current
  self.current = block
  local status, message, trace = protected(body, ...)
  self.current = outer
  if status ~= "success" then
    local name = full_name(block)
    if block.kind == "file" then
      -- busted names an error in a file's own code "suite <file>", at the line it was raised
      name = "suite " .. block.name
      block.trace.currentline = tonumber(tostring(message):match("^[^\n]-:(%d+): ")) or 0
    end
    self:report("error", block, name, message, trace)
  else
    if self.opts.shuffle or block.randomize then self:shuffle(block.children) end
    local setup_ok = self.opts.list or self:run_hooks(block, "strict_setup")
    if setup_ok then
      for _, child in ipairs(block.children) do
        self.current = block
        if child.kind == "describe" then
          if not self:excluded(child) then self:run_block(child, child.fn) end
        elseif child.kind == "it" then
          self:run_test(child)
        else
          self:run_pending(child)
        end
      end
    else
      block.setup_failed = true
    end
    self.current = block
    if block.lazy_done and not self.opts.list then self:run_hooks(block, "lazy_teardown") end
    if not self.opts.list then self:run_hooks(block, "strict_teardown") end
    self.current = outer
  end
  if before_expose and self.insulations and #self.insulations > 0 then
    local into = self.insulations[#self.insulations].exported
    diff_into(_G, before_expose.g, into.g)
    diff_into(package.loaded, before_expose.loaded, into.loaded)
  end
  if saved then
    table.remove(self.insulations)
    restore_globals(saved)
  end
end

-- Compiles a spec file; a file that does not compile is reported at once, as busted does before
-- it runs anything (the error is the element's location; there is no message).
function M:load_file(path)
  local chunk, err = loadfile(path)
  if not chunk then
    self:report("error", { name = path, kind = "file", trace = { short_src = err } }, path, nil, nil)
  end
  return chunk
end

-- Runs one compiled spec file as an insulated block.
function M:run_file(path, chunk)
  local node = new_block({ kind = "file", name = path, isolation = "insulate",
    trace = { short_src = path, currentline = 0 } })
  self:run_block(node, chunk)
end

return M
