-- mayfly test [paths...] [options]: finds the spec files, runs them with the busted API as
-- globals, reports in the chosen format; returns the exit code (0 when everything passed).
local core = require "test.core"
local output = require "test.output"
local native = require "test.native"

local M = {}

local usage = [[
usage: mayfly test [paths...] [options]

Runs the spec files (*_spec.lua) found in paths (files or folders; default: spec/ and the
scripts folder), with busted's API and luassert.

options:
  -o, --output NAME      utfTerminal (default), plainTerminal, TAP, junit, json
  --filter PATTERN       only the tests whose full name matches (Lua pattern; repeatable)
  --filter-out PATTERN   not the tests whose full name matches (repeatable)
  -t, --tags TAGS        only the tests tagged #tag in their names (comma separated)
  --exclude-tags TAGS    not the tests with these tags
  -p, --pattern PATTERN  spec file names to look for (Lua pattern; default _spec)
  --shuffle              run files and tests in a random order (its --seed goes to stderr)
  --seed N               the random order's seed
  --lazy                 setup/teardown mean lazy_setup/lazy_teardown
  -l, --list             list the tests that would run, without running them
  -h, --help             this text
]]

local function split_list(v, into)
  for w in v:gmatch("[^,%s]+") do into[#into + 1] = w end
end

local function parse(args)
  local o = { paths = {}, filter = {}, filter_out = {}, tags = {}, exclude_tags = {},
    pattern = "_spec", output = "utfTerminal" }
  local takes = { ["-o"] = "output", ["--output"] = "output", ["--filter"] = "filter",
    ["--filter-out"] = "filter_out", ["-t"] = "tags", ["--tags"] = "tags",
    ["--exclude-tags"] = "exclude_tags", ["-p"] = "pattern", ["--pattern"] = "pattern",
    ["--seed"] = "seed" }
  local flags = { ["--shuffle"] = "shuffle", ["--lazy"] = "lazy", ["-l"] = "list",
    ["--list"] = "list", ["-h"] = "help", ["--help"] = "help" }
  local i = 1
  while i <= #args do
    local a = args[i]
    local name, value = a:match("^(%-%-[%w%-]+)=(.*)$")
    name = name or a
    if takes[name] then
      if value == nil then
        i = i + 1
        value = args[i]
        if value == nil then return nil, a .. " needs a value" end
      end
      local key = takes[name]
      if key == "tags" or key == "exclude_tags" then split_list(value, o[key])
      elseif key == "filter" or key == "filter_out" then table.insert(o[key], value)
      elseif key == "seed" then
        o.seed = tonumber(value)
        if not o.seed then return nil, "--seed needs a number, got '" .. value .. "'" end
      else o[key] = value end
    elseif flags[name] and value == nil then
      o[flags[name]] = true
    elseif a:sub(1, 1) == "-" then
      return nil, "unknown option " .. a
    else
      table.insert(o.paths, a)
    end
    i = i + 1
  end
  local out = output.aliases[o.output]
  if not out then return nil, "unknown output '" .. o.output .. "' (utfTerminal, plainTerminal, TAP, junit, json)" end
  o.output = out
  return o
end

local function find_specs(path, pattern, into)
  if native.isdir(path) then
    local entries = native.readdir(path) or {}
    table.sort(entries, function(a, b) return a.name < b.name end)
    for _, e in ipairs(entries) do
      if e.name:sub(1, 1) ~= "." then
        local full = (path:sub(-1) == "/" and path or path .. "/") .. e.name
        if e.dir then
          find_specs(full, pattern, into)
        elseif e.name:match("%.lua$") and e.name:gsub("%.lua$", ""):find(pattern) then
          into[#into + 1] = full
        end
      end
    end
    return true
  end
  local f = io.open(path, "r")
  if not f then return false end
  f:close()
  into[#into + 1] = path
  return true
end

local function dirname(path)
  return path:match("^(.*)/[^/]*$") or "."
end

-- The modules busted spec files require, answered by this framework.
local function install_aliases(api)
  local luassert = require "test.assert"
  local spy = require "test.spy"
  local preload = package.preload
  local function const(v) return function() return v end end
  preload["say"] = const(require "test.say")
  preload["luassert"] = const(luassert.assert)
  preload["luassert.assert"] = const(luassert.assert)
  preload["luassert.spy"] = const(spy)
  preload["luassert.stub"] = const(spy.stub)
  preload["luassert.mock"] = const(spy.mock)
  preload["luassert.match"] = const(require "test.match")
  preload["busted"] = const(api)
  preload["mayfly.testing"] = function() return require "test.testing" end
end

function M.main(args, settings)
  local o, err = parse(args)
  if not o then
    io.stderr:write("mayfly test: " .. err .. "\n")
    return 2
  end
  if o.help then
    io.stdout:write(usage)
    return 0
  end
  if o.shuffle and not o.seed then
    o.seed = os.time()
    io.stderr:write("mayfly test: shuffled with --seed " .. o.seed .. "\n") -- to repeat the order
  end
  local paths = o.paths
  if #paths == 0 then
    paths = {}
    if native.isdir("spec") then paths[#paths + 1] = "spec" end
    if native.isdir(settings.scripts_dir) then paths[#paths + 1] = settings.scripts_dir end
  end
  local files = {}
  for _, p in ipairs(paths) do
    if not find_specs(p, o.pattern, files) then
      io.stderr:write("mayfly test: " .. p .. ": no such file or folder\n")
      return 2
    end
  end

  -- --list prints the tests only; errors in describe bodies (which still run) go to stderr.
  local handler = o.list and { result = function(rec)
    if rec.status == "error" then io.stderr:write("mayfly test: " .. rec.name .. ": " .. tostring(rec.message) .. "\n") end
  end } or output[o.output](settings)
  local runner = core.new(o, handler)
  local api = runner:api()
  for k, v in pairs(api) do rawset(_G, k, v) end
  install_aliases(api)
  local testing = require "test.testing"
  testing._attach(runner, settings)

  if o.shuffle then runner:shuffle(files) end
  local base_path = package.path
  local started = os.clock()
  local wall = os.time()
  local chunks = {}
  for i, file in ipairs(files) do chunks[i] = runner:load_file(file) end
  for i, file in ipairs(files) do
    if chunks[i] then
      local dir = dirname(file)
      package.path = dir .. "/?.lua;" .. dir .. "/?/init.lua;" .. settings.scripts_dir .. "/?.lua;" .. base_path
      runner:run_file(file, chunks[i])
    end
  end
  package.path = base_path

  if o.list then
    for _, node in ipairs(runner.listed) do
      -- busted names the place of tests inside a block only
      local at = node.parent.kind == "file" and "" or
          (node.trace.short_src .. ":" .. node.trace.currentline .. ": ")
      io.stdout:write(at .. core.full_name(node) .. "\n")
    end
    return runner.counts.error > 0 and 1 or 0
  end
  local duration = os.clock() - started
  if os.time() - wall > duration then duration = os.time() - wall end
  handler.finish({ counts = runner.counts, duration = duration, seed = o.seed })
  io.stdout:flush()
  local c = runner.counts
  return (c.failure + c.error > 0) and 1 or 0
end

return M
