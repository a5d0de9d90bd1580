-- The busted core: the describe/it tree, hooks, and their ordering and error rules.
-- A block's body runs when the block's turn comes (declaring its tests and hooks), then its
-- setup, its children in order, its teardown. Per test: before_each hooks outer to inner, the
-- body, its finally callback, after_each hooks inner to outer. Results are success, failure
-- (an assertion failed in a test), error (anything else raised, in a test or a hook) and
-- pending; an error in a hook is reported as an error element of its own named "<block> <hook>",
-- and the tests the hook's failure kept from running are not reported.
--
-- Environments are busted's: spec files run with an environment that reads, from the element
-- running (a test, a hook, a block) outwards, each element's own globals, then the root's (the
-- busted API) and finally _G; a global assigned lands in the running element's table, except in
-- hooks (their block's) and expose blocks (their parent block's). Insulated elements (insulate
-- blocks and, unless --no-auto-insulate, files) put _G and package.loaded back when they end;
-- an expose block ending inside one makes its changes part of what is put back.
local luassert = require "test.assert"
local spy = require "test.spy"

local M = {}

local pending_mt = { __tostring = function(p) return p.message end }

local hook_names = { "strict_setup", "lazy_setup", "before_each", "after_each",
  "lazy_teardown", "strict_teardown" }
local function new_block(node)
  node.children = {}
  node.hooks = {}
  for _, h in ipairs(hook_names) do node.hooks[h] = {} end
  return node
end

-- Options: filter, filter_out (lists of Lua patterns), tags, exclude_tags (lists), seed,
-- shuffle_tests, sort_tests, lazy (setup/teardown mean lazy_*), list (only report the tests that
-- would run), auto_insulate (false: files are not insulated), keep_going (false: stop at the
-- first failure or error), suppress_pending.
function M.new(opts, handler)
  local self = {
    opts = opts,
    handler = handler,
    counts = { success = 0, failure = 0, error = 0, pending = 0 },
    after_test = {}, -- callbacks run after every test (the testing module's cleanup)
    listed = {},
    stack = {},
    states = {},
  }
  self.root = new_block({ kind = "root", env = {} })
  self.ctx = self.root
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
    table.insert(names, 1, node.name ~= nil and tostring(node.name) or node.kind)
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
    if info.what ~= "C" and not info.short_src:find("host/cmd/test/", 1, true) and info.currentline > 0 then
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
    if line ~= "stack traceback:" and not line:find("host/cmd/test/", 1, true)
        and not line:find("[C]: in function 'error'", 1, true) then
      keep[#keep + 1] = line
    end
  end
  return { traceback = "\nstack traceback:\n" .. table.concat(keep, "\n") .. "\n" }
end

function M:report(status, node, name, message, trace)
  if status == "pending" and self.opts.suppress_pending then return end
  if (status == "failure" or status == "error") and self.opts.keep_going == false then
    self.skip_all = true -- --no-keep-going: nothing more runs after this
  end
  self.counts[status] = self.counts[status] + 1
  local rec = {
    status = status,
    name = name,
    message = message,
    trace = trace,
    element = { name = node.name, descriptor = node.kind, trace = node.trace, attributes = {},
      declared = node.declared or node.trace },
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
  return status, message_of(e, at), trace, e, at
end

-- ---- the declaration API (the root environment of spec files) ----

function M:declare(kind, name, fn, trace)
  local parent = self.ctx
  if not parent or parent.kind == "root" then error(kind .. " called outside of a spec file's run", 3) end
  local node = { kind = kind, name = name, fn = fn, parent = parent, trace = trace }
  parent.children[#parent.children + 1] = node
  return node
end

function M:hook(which, kind, name, fn, trace)
  local block = self.ctx
  if not block or not block.hooks then error(which .. " must be called in a describe block", 3) end
  local list = block.hooks[kind]
  list[#list + 1] = { kind = kind, fn = fn, name = name or which, trace = trace, parent = block,
    envmode = "unwrap" }
end


-- The names spec files call, each as busted's publisher: f(name, fn) declares at once; f(fn)
-- takes the alias as the name; f(name) returns a function that takes fn (it "x" (function()
-- ... end)), except pending, whose body is optional.
local declarers = { "describe", "context", "insulate", "expose", "it", "spec", "test", "pending",
  "setup", "teardown", "lazy_setup", "lazy_teardown", "strict_setup", "strict_teardown",
  "before_each", "after_each" }

function M:api()
  local core = self
  local api = {}
  local function publisher(alias, default_fn, register)
    return function(name, fn)
      if not fn and type(name) == "function" then
        fn, name = name, alias
      elseif not fn then
        fn = default_fn
      end
      local trace = where(2)
      local function publish(f) register(name, f, trace) end
      if fn then publish(fn) else return publish end
    end
  end
  local function block(isolation, alias)
    return publisher(alias, nil, function(name, fn, trace)
      local node = core:declare("describe", name, fn, trace)
      node.envmode = isolation
      new_block(node)
    end)
  end
  api.describe = block(nil)
  api.context = block(nil, "context")
  api.insulate = block("insulate", "insulate")
  api.expose = block("expose", "expose")
  local function test(alias)
    return publisher(alias, nil, function(name, fn, trace) core:declare("it", name, fn, trace) end)
  end
  api.it, api.spec, api.test = test(nil), test("spec"), test("test")
  api.pending = publisher(nil, function() end, function(name, _, trace)
    core:declare("pending", name, nil, trace)
  end)
  for _, h in ipairs({ "setup", "teardown", "lazy_setup", "lazy_teardown", "strict_setup",
    "strict_teardown", "before_each", "after_each" }) do
    local kind = h
    if h == "setup" then kind = self.opts.lazy and "lazy_setup" or "strict_setup" end
    if h == "teardown" then kind = self.opts.lazy and "lazy_teardown" or "strict_teardown" end
    local alias = (h == "setup" or h == "teardown") and h or nil
    api[h] = publisher(alias, nil, function(name, fn, trace) core:hook(h, kind, name, fn, trace) end)
  end
  api.assert = luassert.assert
  api.spy = spy
  api.stub = spy.stub
  api.mock = spy.mock
  api.match = require "test.match"
  for k, v in pairs(api) do self.root.env[k] = v end
  return api
end

-- ---- environments ----

local function save_globals()
  local g = {}
  for k in next, _G do g[k] = rawget(_G, k) end
  local loaded = {}
  for k, v in pairs(package.loaded) do loaded[k] = v end
  return { gmt = debug.getmetatable(_G), g = g, loaded = loaded }
end

local function restore_globals(state)
  setmetatable(_G, state.gmt)
  for k in next, _G do rawset(_G, k, state.g[k]) end
  for k, v in next, state.g do
    if rawget(_G, k) == nil then rawset(_G, k, v) end
  end
  for k in pairs(package.loaded) do package.loaded[k] = state.loaded[k] end
end

-- Globals a hook or an expose block assigns go to the element levels further out (_G past the
-- root).
local function unwrap(node, levels)
  local parent = node
  for _ = 1, levels do
    parent = parent.parent
    if not parent then break end
  end
  node.env = node.env or {}
  setmetatable(node.env, { __newindex = function(_, k, v)
    if not parent then
      _G[k] = v
    else
      parent.env = parent.env or {}
      parent.env[k] = v
    end
  end })
end

-- Enters node (the element that runs next): its environment rules start.
function M:push(node)
  if self.ctx ~= node then
    local state = false
    if node.envmode == "insulate" then state = save_globals()
    elseif node.envmode == "unwrap" then unwrap(node, 1)
    elseif node.envmode == "expose" then unwrap(node, 2) end
    table.insert(self.states, state)
  end
  table.insert(self.stack, self.ctx)
  self.ctx = node
end

function M:pop()
  local current = self.ctx
  self.ctx = table.remove(self.stack)
  if self.ctx ~= current then
    local state = table.remove(self.states)
    if current.envmode == "expose" then
      self.states[#self.states] = self.states[#self.states] and save_globals()
    end
    if state then restore_globals(state) end
  end
end

-- The environment spec files' functions run in.
function M:environment()
  if self.proxy then return self.proxy end
  local core = self
  self.proxy = setmetatable({}, {
    __index = function(_, k)
      local node = core.ctx
      while node do
        local env = node.env
        if env then
          local v = env[k]
          if v then return v end
        end
        node = node.parent
      end
      return _G[k]
    end,
    __newindex = function(_, k, v)
      local node = core.ctx
      node.env = node.env or {}
      node.env[k] = v
    end,
  })
  return self.proxy
end

-- Inside tests and hooks, declaring is refused (as busted: the names are shadowed).
function M:reject_all(node)
  node.env = node.env or {}
  local function reject(name)
    rawset(node.env, name, function() error("'" .. name .. "' not supported inside current context block", 2) end)
  end
  reject("randomize")
  for _, name in ipairs(declarers) do reject(name) end
end

function M:block_env(block)
  block.env = block.env or {}
  local core = self
  rawset(block.env, "randomize", function(...)
    local on = select("#", ...) == 0 or ...
    block.randomize = on and true or false
    if on then
      local seed = tonumber(({ ... })[1]) or tonumber(({ ... })[2])
      if seed then block.seed = seed end
    end
    return core
  end)
end

-- ---- running ----

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
    self:reject_all(h)
    self:push(h)
    local status, message, trace = protected(h.fn)
    self:pop()
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

-- Sorts (--sort-tests) or shuffles (--shuffle-tests, randomize()) a block's children.
local function by_name(a, b)
  if a.name and b.name then return tostring(a.name) < tostring(b.name) end
  return b.name ~= nil
end

function M:order(block)
  if self.opts.sort_tests then
    table.sort(block.children, by_name)
  elseif block.randomize or (block.randomize == nil and self.opts.shuffle_tests) then
    self:shuffle(block.children)
  end
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

  node.env = {}
  self:reject_all(node)
  local finally
  node.env.finally = function(fn) finally = fn end
  node.env.pending = function(name)
    local at = where(2)
    error(setmetatable({ message = at.short_src .. ":" .. at.currentline .. ": " .. tostring(name),
      trace = at }, pending_mt), 0)
  end
  self:push(node)
  local started = os.clock()
  local ran_before = 0
  local before_ok = true
  for i, blk in ipairs(chain) do
    if not self:run_hooks(blk, "before_each") then before_ok = false; break end
    ran_before = i
  end
  local status, message, trace = "success"
  if before_ok then
    -- (as busted: a test starts once its before_each hooks ran)
    if self.handler.test_start then self.handler.test_start(node) end
    local raised
    status, message, trace, raised = protected(node.fn)
    if status == "pending" then -- reported where pending() was (gtest: where the test is)
      node.declared = node.declared or node.trace
      node.trace = raised.trace
    end
    if finally then
      local fs, fm, ft = protected(finally)
      if fs ~= "success" and status == "success" then
        status, message, trace = "error", fm, ft
      end
    end
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
  self:pop()
  for _, f in ipairs(self.after_test) do f(node) end
end

function M:run_pending(node)
  if not self:selected(node) then return end
  if self.opts.list then
    self.listed[#self.listed + 1] = node
    return
  end
  if self.handler.test_start and not self.opts.suppress_pending then self.handler.test_start(node) end
  self:report("pending", node, full_name(node), nil, nil)
end

-- Runs a block: its body (declaring children), strict setup, children, teardown.
function M:run_block(block, body, ...)
  self:push(block)
  self:block_env(block)
  local status, message, trace, _, at = protected(body, ...)
  if status ~= "success" then
    local name = full_name(block)
    if block.kind == "file" then
      -- busted names an error in a file's own code "suite <file>", placed where it was raised
      -- (in a module the file required, it may be)
      name = "suite " .. block.name
      local src, line = (at or ""):match("^(.*):(%d+)$")
      if src then
        block.trace.short_src, block.trace.currentline = src, tonumber(line)
      else
        block.trace.currentline = tonumber(tostring(message):match("^[^\n]-:(%d+): ")) or 0
      end
    end
    self:report("error", block, name, message, trace)
  else
    self:order(block)
    local setup_ok = self.opts.list or self:run_hooks(block, "strict_setup")
    if setup_ok then
      for _, child in ipairs(block.children) do
        if self.skip_all then break end
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
    if block.lazy_done and not self.opts.list then self:run_hooks(block, "lazy_teardown") end
    if not self.opts.list then self:run_hooks(block, "strict_teardown") end
  end
  self:pop()
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

-- Runs one compiled spec file as a block (insulated unless --no-auto-insulate).
function M:run_file(path, chunk)
  setfenv(chunk, self:environment())
  local node = new_block({ kind = "file", name = path, parent = self.root,
    envmode = self.opts.auto_insulate ~= false and "insulate" or nil,
    trace = { short_src = path, currentline = 0 } })
  local started = os.clock()
  if self.handler.file_start then self.handler.file_start(node) end
  self:run_block(node, chunk)
  if self.handler.file_end then self.handler.file_end(node, os.clock() - started) end
end

return M
