-- mayfly test [paths...] [options]: busted 2.1.1's command line and .busted file, read as busted
-- reads them; finds the spec files, runs them with the busted API, reports in the chosen format;
-- returns the exit code (0 when everything passed).
local core = require "test.core"
local output = require "test.output"
local native = require "test.native"

local M = {}

local usage = [=[
usage: mayfly test [OPTIONS] [--] [ROOT-1 [ROOT-2 [...]]]

Runs busted spec files with busted 2.1.1's API and luassert's, against the handlers of the
scripts folder (MAYFLY_SCRIPTS). ROOT: spec files, or folders searched for files whose name
matches --pattern (default: spec/ and the scripts folder). Options are busted's, and a .busted
file in the working directory is read as busted reads it (tasks: -r NAME).

  -p, --pattern=PATTERN       only run test files matching the Lua pattern (default: _spec)
  --exclude-pattern=PATTERN   do not run test files matching the Lua pattern
  -e STATEMENT                execute statement STATEMENT before the specs
  -o, --output=LIBRARY        utfTerminal (the default on a terminal), plainTerminal (the
                              default otherwise), TAP, junit, json, gtest
  -C, --directory=DIR         change to directory DIR before running tests
  -f, --config-file=FILE      load configuration options from FILE (instead of .busted)
  -t, --tags=TAGS             only run tests with these #tags
  --exclude-tags=TAGS         do not run tests with these #tags
  --filter=PATTERN            only run test names matching the Lua pattern
  --filter-out=PATTERN        do not run test names matching the Lua pattern
  -m, --lpath=PATH            prefixed to the module search path
                              (default: ./src/?.lua;./src/?/?.lua;./src/?/init.lua)
  --cpath=PATH                prefixed to the C module search path (spec code only)
  -r, --run=RUN               task to run from the .busted file
  --repeat=COUNT              run the tests repeatedly
  --seed=SEED                 random seed for shuffling
  --helper=PATH               a helper script run before the tests
  -Xoutput OPTION, -Xhelper OPTION
                              options for the output handler / the helper script
  -v, --[no-]verbose          tracebacks with failures and errors
  -l, --list                  list the names of all tests instead of running them
  --[no-]lazy                 setup/teardown mean lazy_setup/lazy_teardown
  --[no-]auto-insulate        insulate every file (default: on)
  -k, --[no-]keep-going       go on after an error or failure (default: on)
  -R, --[no-]recursive        recurse into subfolders (default: on)
  --[no-]shuffle, --[no-]shuffle-files, --[no-]shuffle-tests
  --[no-]sort, --[no-]sort-files, --[no-]sort-tests
  --[no-]suppress-pending     leave pending tests out of the report
  --[no-]defer-print          no progress marks while the tests run
  --version                   the busted version this runner follows
  -h, --help                  this text

Accepted for busted's sake, without effect here (each says so on stderr): -c/--coverage
(LuaCov), --coverage-config-file, --lua, --lang (other than en), -s/--enable-sound.
]=]

-- ---- the command line, as busted's (lua-cliargs) ----

local DEFAULT_LPATH = "./src/?.lua;./src/?/?.lua;./src/?/init.lua"
local DEFAULT_CPATH = "./csrc/?.so;./csrc/?/?.so;"

local function split(s, sep)
  local out = {}
  for piece in (s .. sep):gmatch("(.-)" .. sep:gsub("%p", "%%%0")) do out[#out + 1] = piece end
  return out
end

local function append(list, s)
  for _, v in ipairs(split(s, ",")) do list[#list + 1] = v end
  return list
end

local function join_dir(base, rel)
  if rel:sub(1, 1) == "/" or base == nil or base == "" or base == "./" then return rel end
  return (base:gsub("/+$", "")) .. "/" .. rel
end

-- Options that take a value: long name -> how it accumulates.
local valued = {
  pattern = "multi", ["exclude-pattern"] = "multi", e = "multi", output = "one",
  directory = "dir", ["config-file"] = "one", ["coverage-config-file"] = "one", tags = "list",
  ["exclude-tags"] = "list", filter = "multi", ["filter-out"] = "multi", lpath = "path",
  cpath = "path", run = "one", ["repeat"] = "number", seed = "number", lang = "one",
  loaders = "loaders", helper = "one", lua = "one", Xoutput = "list", Xhelper = "list",
}
-- Flags: long name -> true when it has a --no- form.
local flags = {
  version = false, list = false, ["ignore-lua"] = false, help = false, coverage = true,
  verbose = true, ["enable-sound"] = true, lazy = true, ["auto-insulate"] = true,
  ["keep-going"] = true, recursive = true, shuffle = true, ["shuffle-files"] = true,
  ["shuffle-tests"] = true, sort = true, ["sort-files"] = true, ["sort-tests"] = true,
  ["suppress-pending"] = true, ["defer-print"] = true,
}
local short = {
  p = "pattern", e = "e", o = "output", C = "directory", f = "config-file", t = "tags",
  m = "lpath", r = "run", c = "coverage", v = "verbose", s = "enable-sound", l = "list",
  k = "keep-going", R = "recursive", h = "help", Xoutput = "Xoutput", Xhelper = "Xhelper",
}

local defaults = {
  pattern = { "_spec" }, ["exclude-pattern"] = {}, e = {}, directory = "./", tags = {},
  ["exclude-tags"] = {}, filter = {}, ["filter-out"] = {}, lpath = DEFAULT_LPATH,
  cpath = DEFAULT_CPATH, ["repeat"] = 1, lang = "en", loaders = "lua,moonscript", Xoutput = {},
  Xhelper = {}, coverage = false, verbose = false, ["enable-sound"] = false, list = false,
  ["ignore-lua"] = false, lazy = false, ["auto-insulate"] = true, ["keep-going"] = true,
  recursive = true, ["suppress-pending"] = false, ["defer-print"] = false,
}

-- Returns the options given (only those: a .busted task fills in the rest), or nil, err.
local function parse(args)
  local given = {}
  local function set(name, value, opt)
    local how = valued[name]
    if how == "multi" then
      given[name] = given[name] or {}
      table.insert(given[name], value)
    elseif how == "list" then
      given[name] = append(given[name] or {}, value)
    elseif how == "path" then
      given[name] = given[name] and (given[name] .. ";" .. value) or value
    elseif how == "loaders" then
      given[name] = given[name] and (given[name] .. "," .. value) or value
    elseif how == "dir" then
      given[name] = join_dir(given[name], value)
    elseif how == "number" then
      local n = tonumber(value)
      if not n then return nil, "argument to " .. opt:gsub("=.*", "") .. " must be a number" end
      given[name] = n
    else
      given[name] = value
    end
    return true
  end
  local i, only_roots = 1, false
  while i <= #args do
    local a = args[i]
    if only_roots or a:sub(1, 1) ~= "-" or a == "-" then
      given.ROOT = given.ROOT or {}
      append(given.ROOT, a)
    elseif a == "--" then
      only_roots = true
    else
      local name, value
      if a:sub(1, 2) == "--" then
        name, value = a:match("^%-%-([^=]+)=(.*)$")
        name = name or a:sub(3)
      else
        local s = a:sub(2)
        local key, v = s:match("^([^=]+)=(.*)$")
        if key and short[key] then s, value = key, v end
        if short[s] then
          name = short[s]
        elseif short[s:sub(1, 1)] and valued[short[s:sub(1, 1)]] then
          name, value = short[s:sub(1, 1)], s:sub(2) -- -pPATTERN
        else
          return nil, "unknown option " .. a
        end
      end
      local negated = name:match("^no%-(.+)$")
      if valued[name] then
        if value == nil then
          i = i + 1
          value = args[i]
          if value == nil then return nil, "option " .. a .. " requires an argument" end
        end
        local ok, err = set(name, value, a)
        if not ok then return nil, err end
      elseif flags[name] ~= nil and value == nil then
        given[name] = true
      elseif negated and flags[negated] and value == nil then
        given[negated] = false
        name = negated
      else
        return nil, "unknown option " .. a
      end
      -- --shuffle and --sort stand for their -files and -tests pairs
      if name == "shuffle" or name == "sort" then
        given[name .. "-files"] = given[name]
        given[name .. "-tests"] = given[name]
      end
    end
    i = i + 1
  end
  return given
end

local function merge(base, over)
  local out = {}
  for k, v in pairs(base) do out[k] = v end
  for k, v in pairs(over) do out[k] = v end
  return out
end

local function is_file(path)
  local f = io.open(path, "r")
  if not f then return false end
  f:close()
  return not native.isdir(path)
end

-- The .busted file (or --config-file) merged as busted merges it: the task (-r NAME, else
-- "default") under the options given, "_all" under that, busted's defaults under everything.
local function configure(given)
  local file
  if given["config-file"] then
    file = given["config-file"]
    if not is_file(file) then return nil, ("specified config file '%s' not found"):format(file) end
  else
    local candidate = join_dir(given.directory or "./", ".busted")
    if is_file(candidate) then file = candidate end
  end
  if not file then return merge(defaults, given) end
  local chunk, err = loadfile(file)
  if not chunk then return nil, ("failed loading config file `%s`: %s"):format(file, err) end
  local ok, conf = pcall(chunk)
  if not ok then return nil, ("failed loading config file `%s`: %s"):format(file, tostring(conf)) end
  if type(conf) ~= "table" then return nil, ".busted file does not return a table." end
  local config = given
  local run = given.run
  if run and run ~= "" then
    if type(conf[run]) ~= "table" then return nil, "Task `" .. run .. "` not found, or not a table." end
    config = merge(conf[run], config)
  elseif type(conf.default) == "table" then
    config = merge(conf.default, config)
  end
  if type(conf._all) == "table" then config = merge(conf._all, config) end
  return merge(defaults, config), file
end

local function list_of(v)
  if v == nil then return {} end
  return type(v) == "table" and v or { v }
end

local function split_list(v)
  local out = {}
  for _, x in ipairs(list_of(v)) do append(out, tostring(x)) end
  return out
end

-- ---- finding spec files, as busted's loader ----

local function basename(path) return path:match("([^/]*)/*$") end

local function find_specs(path, o, into)
  if native.isdir(path) then
    local entries = native.readdir(path) or {}
    for _, e in ipairs(entries) do
      if e.name:sub(1, 1) ~= "." then
        local full = (path:sub(-1) == "/" and path or path .. "/") .. e.name
        if e.dir then
          if o.recursive then find_specs(full, o, into) end
        else
          local excluded = false
          for _, p in ipairs(o.exclude_pattern) do
            if p ~= "" and e.name:find(p) then excluded = true end
          end
          local matched = #o.pattern == 0
          for _, p in ipairs(o.pattern) do
            if e.name:find(p) then matched = true end
          end
          if matched and not excluded then into[#into + 1] = full end
        end
      end
    end
    return true
  end
  if not is_file(path) then return false end
  into[#into + 1] = path
  return true
end

-- The modules busted spec files require, answered by this framework. They are loaded modules,
-- as under busted (not preloads): a spec that clears package.loaded.say and requires it again
-- gets the one on its path, as there.
local function install_aliases(api)
  local luassert = require "test.assert"
  local spy = require "test.spy"
  local loaded = package.loaded
  loaded["say"] = require "test.say"
  loaded["luassert"] = luassert.assert
  loaded["luassert.assert"] = luassert.assert
  loaded["luassert.spy"] = spy
  loaded["luassert.stub"] = spy.stub
  loaded["luassert.mock"] = spy.mock
  loaded["luassert.match"] = require "test.match"
  loaded["luassert.util"] = require "test.util"
  loaded["luassert.state"] = require "test.state"
  -- require "busted": the API, plus what busted exports there only
  loaded["busted"] = setmetatable({ version = "2.1.1", fail = luassert.fail, gettime = os.time,
    monotime = os.clock }, { __index = api })
  -- spec files that can also run standalone start with require "busted.runner"(); under a
  -- runner that is a no-op, as busted's own is when busted runs them
  loaded["busted.runner"] = function() end
  package.preload["mayfly.testing"] = function() return require "test.testing" end
end

-- Once per run, for what busted's options cannot mean here.
local function note(text) io.stderr:write("mayfly test: " .. text .. "\n") end

local function ignored(c)
  if c.coverage then note("--coverage ignored: mayfly test does not load LuaCov") end
  -- (asking for LuaJIT, as .busted files often do, is asking for what runs anyway)
  if c.lua and not c["ignore-lua"] and not tostring(c.lua):match("luajit[^/]*$") then
    note("--lua " .. tostring(c.lua) .. " ignored: the specs run on mayfly's own LuaJIT")
  end
  if c.lang and c.lang ~= "en" then note("--lang " .. tostring(c.lang) .. " ignored: messages are in English") end
  if c["enable-sound"] then note("--enable-sound ignored") end
end

-- Runs the loaded files once; returns the counts.
local function run_once(o, files, problems, settings, handler)
  local runner = core.new(o, handler)
  for _, message in ipairs(problems) do
    runner:report("error", { name = "", kind = "", hook = true }, "", message, nil)
  end
  local api = runner:api()
  install_aliases(api)
  local testing = require "test.testing"
  testing._attach(runner, settings)

  if o.sort_files then
    table.sort(files)
  elseif o.shuffle_files then
    runner:shuffle(files)
  end
  local base_path = package.path
  local chunks = {}
  for i, file in ipairs(files) do chunks[i] = runner:load_file(file) end
  for i, file in ipairs(files) do
    if chunks[i] and not runner.skip_all then
      local dir = file:match("^(.*)/[^/]*$") or "."
      -- after busted's path: the spec's folder and the scripts folder, for what it cannot find
      package.path = base_path .. ";" .. dir .. "/?.lua;" .. dir .. "/?/init.lua;" ..
          settings.scripts_dir .. "/?.lua"
      runner:run_file(file, chunks[i])
    end
  end
  package.path = base_path
  return runner
end

function M.main(args, settings)
  -- spec code sees the command line in arg, as under busted
  _G.arg = { [0] = "mayfly", unpack(args) }
  -- luassert marks the difference in a table in red on a terminal
  require("test.state").set_parameter("TableErrorHighlightColor", settings.tty and "red" or "none")
  local given, err = parse(args)
  if not given then
    io.stderr:write("mayfly test: " .. err .. "; re-run with --help for usage.\n")
    return 2
  end
  if given.help then
    io.stdout:write(usage)
    return 0
  end
  local c
  c, err = configure(given)
  if not c then
    io.stderr:write("mayfly test: " .. err .. "\n")
    return 1
  end
  if c.version then
    io.stdout:write("2.1.1\n")
    return 0
  end
  if c.directory and c.directory ~= "./" and c.directory ~= "." then
    local ok, cerr = native.chdir(c.directory)
    if not ok then
      io.stderr:write("mayfly test: " .. cerr .. "\n")
      return 1
    end
  end
  ignored(c)

  local o = {
    filter = list_of(c.filter), filter_out = list_of(c["filter-out"]),
    tags = split_list(c.tags), exclude_tags = split_list(c["exclude-tags"]),
    pattern = list_of(c.pattern), exclude_pattern = list_of(c["exclude-pattern"]),
    seed = tonumber(c.seed), lazy = c.lazy, list = c.list, auto_insulate = c["auto-insulate"],
    keep_going = c["keep-going"], recursive = c.recursive,
    shuffle_files = c["shuffle-files"], shuffle_tests = c["shuffle-tests"],
    sort_files = c["sort-files"], sort_tests = c["sort-tests"],
    suppress_pending = c["suppress-pending"], verbose = c.verbose,
    defer_print = c["defer-print"], xoutput = split_list(c.Xoutput),
  }
  for _, l in ipairs(split_list(c.loaders)) do
    if l == "lua" then o.lua_loader = true end
  end
  for _, ex in ipairs(o.exclude_tags) do
    for _, inc in ipairs(o.tags) do
      if ex == inc then
        io.stderr:write("mayfly test: Cannot use --tags and --exclude-tags for the same tags\n")
        return 1
      end
    end
  end
  -- busted's default: utfTerminal on a terminal, plainTerminal otherwise
  local default_out = settings.tty and "utfTerminal" or "plainTerminal"
  local out_name = tostring(c.output or default_out)
  local out = output.aliases[out_name]
  if not out then
    note("output '" .. out_name .. "' is not one of utfTerminal, plainTerminal, TAP, junit, json, gtest; using " ..
      default_out)
    out = default_out
  end
  if (o.shuffle_files or o.shuffle_tests) and not o.seed then
    o.seed = os.time()
    note("shuffled with --seed " .. o.seed) -- to repeat the order
  end

  if #tostring(c.lpath) > 0 then package.path = (c.lpath .. ";" .. package.path):gsub(";;", ";") end
  if #tostring(c.cpath) > 0 then package.cpath = (c.cpath .. ";" .. package.cpath):gsub(";;", ";") end
  for _, statement in ipairs(list_of(c.e)) do
    local chunk, lerr = loadstring(statement)
    if not chunk then
      io.stderr:write("mayfly test: -e: " .. lerr .. "\n")
      return 1
    end
    chunk()
  end

  local roots = c.ROOT and split_list(c.ROOT) or nil
  if not roots then
    roots = {}
    if native.isdir("spec") then roots[#roots + 1] = "spec" end
    if native.isdir(settings.scripts_dir) then roots[#roots + 1] = settings.scripts_dir end
  end
  -- what busted reports as errors of the run, before any test
  local files, problems = {}, {}
  for _, p in ipairs(roots) do
    local found = {}
    if not find_specs(p, o, found) then
      problems[#problems + 1] = "Cannot find file or directory: " .. p
    end
    table.sort(found)
    for _, f in ipairs(found) do files[#files + 1] = f end
  end
  -- (what the pattern matched counts, but only Lua files are loaded: busted's lua loader; it
  -- has no MoonScript here)
  local found_any = #files > 0
  local lua_files = {}
  for _, f in ipairs(files) do
    if o.lua_loader and f:match("%.lua$") then lua_files[#lua_files + 1] = f end
  end
  files = lua_files
  if not found_any then
    local pattern = #o.pattern > 1 and ("\n\t" .. table.concat(o.pattern, "\n\t")) or tostring(o.pattern[1])
    problems[#problems + 1] = "No test files found matching Lua pattern: " .. pattern
  end

  if c.helper and c.helper ~= "" then
    local saved = rawget(_G, "arg")
    local ok, herr = pcall(function()
      _G.arg = split_list(c.Xhelper)
      if c.helper:match("%.lua$") then dofile(c.helper) else require(c.helper) end
    end)
    _G.arg = saved
    if not ok then
      io.stderr:write("mayfly test: failed running the specified helper (" .. c.helper ..
        "), error: " .. tostring(herr) .. "\n")
      return 1
    end
  end

  local runs = math.max(1, math.floor(tonumber(c["repeat"]) or 1))
  local failed = false
  for run = 1, runs do
    -- --list prints the tests only; errors in describe bodies (which still run) go to stderr.
    local handler = o.list and { result = function(rec)
      if rec.status == "error" then note(rec.name .. ": " .. tostring(rec.message)) end
    end } or output[out](settings, o)
    if runs > 1 and handler.suite_start then handler.suite_start(run, runs) end
    local started, wall = os.clock(), os.time()
    local runner = run_once(o, { unpack(files) }, problems, settings, handler)
    if o.list then
      for _, node in ipairs(runner.listed) do
        if not (o.suppress_pending and node.kind == "pending") then
          -- busted names the place of tests inside a block only
          local at = node.parent.kind == "file" and "" or
              (node.trace.short_src .. ":" .. node.trace.currentline .. ": ")
          io.stdout:write(at .. core.full_name(node) .. "\n")
        end
      end
      failed = failed or runner.counts.error > 0
    else
      local duration = os.clock() - started
      if os.time() - wall > duration then duration = os.time() - wall end
      handler.finish({ counts = runner.counts, duration = duration, seed = o.seed })
      io.stdout:flush()
      local n = runner.counts
      failed = failed or (n.failure + n.error > 0)
    end
    if runner.skip_all then break end
  end
  return failed and 1 or 0
end

return M
