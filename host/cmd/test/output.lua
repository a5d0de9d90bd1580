-- Output handlers, in busted's formats: utfTerminal (default; colour only on a terminal),
-- plainTerminal, TAP, junit (XML), json and gtest. Each is new(settings) returning
-- { result = fn(rec), finish = fn(summary) }; they write to io.stdout.
local M = {}

local write = function(s) io.stdout:write(s) end

local function plural(n, one, many) return n .. " " .. (n == 1 and one or many) end

local function summary_line(c, duration)
  return plural(c.success, "success", "successes") .. " / " .. plural(c.failure, "failure", "failures") ..
      " / " .. plural(c.error, "error", "errors") .. " / " .. c.pending .. " pending : " ..
      string.format("%.6f", duration) .. " seconds"
end

local function location(rec)
  local t = rec.element.trace or {}
  if t.currentline == nil then return tostring(t.short_src) end -- a file that did not compile
  return tostring(t.short_src) .. " @ " .. tostring(t.currentline)
end

-- opts: the runner's options (verbose: tracebacks too; defer_print: no progress marks;
-- xoutput: -Xoutput's words, --color/--plain for utfTerminal, the file junit writes to).
local function has(list, word)
  for _, w in ipairs(list or {}) do
    if w == word then return true end
  end
  return false
end

local function terminal(utf)
  return function(settings, opts)
    opts = opts or {}
    local colour = utf and settings.tty
    if has(opts.xoutput, "--color") then colour = utf end
    if has(opts.xoutput, "--plain") then colour = false end
    local function paint(code, s) return colour and ("\27[" .. code .. "m" .. s .. "\27[0m") or s end
    local marks = utf and
        { success = paint(32, "\226\151\143"), failure = paint(31, "\226\151\188"),
          error = paint(35, "\226\156\177"), pending = paint(33, "\226\151\140") } or
        { success = "+", failure = "-", error = "*", pending = "." }
    local arrow = utf and " \226\134\146 " or " -> "
    local by = { pending = {}, failure = {}, error = {} }
    local h = {}
    function h.suite_start(run, runs)
      write(string.format("\nRepeating all tests (run %u of %u) . . .\n\n", run, runs))
    end
    function h.result(rec)
      if not rec.hook and not opts.defer_print then
        write(marks[rec.status])
        io.stdout:flush()
      end
      if by[rec.status] then table.insert(by[rec.status], rec) end
    end
    function h.finish(s)
      write("\n" .. summary_line(s.counts, s.duration) .. "\n")
      for _, kind in ipairs({ { "pending", "Pending", 33 }, { "failure", "Failure", 31 }, { "error", "Error", 35 } }) do
        for _, rec in ipairs(by[kind[1]]) do
          if rec.element.trace == nil then -- an error of the run itself (no spec file found)
            write("\n" .. paint(kind[3], kind[2]) .. arrow .. tostring(rec.message) .. "\n" .. rec.name .. "\n")
          else
            write("\n" .. paint(kind[3], kind[2]) .. arrow .. location(rec) .. "\n" .. rec.name .. "\n")
            if rec.message then write(rec.message .. "\n") end
          end
          if opts.verbose and rec.trace and rec.trace.traceback then write(rec.trace.traceback .. "\n") end
        end
      end
    end
    return h
  end
end
M.utfTerminal = terminal(true)
M.plainTerminal = terminal(false)

function M.TAP(_, opts)
  opts = opts or {}
  local n = 0
  local h = {}
  local function comment(text)
    for line in (text .. "\n"):gmatch("(.-)\n") do write("# " .. line .. "\n") end
  end
  function h.result(rec)
    n = n + 1
    if rec.status == "success" then
      write("ok " .. n .. " - " .. rec.name .. "\n")
    elseif rec.status == "pending" then
      write("ok " .. n .. " - # SKIP " .. (rec.message or rec.name) .. "\n")
    else
      write("not ok " .. n .. " - " .. rec.name .. "\n")
      write("# " .. location(rec) .. "\n")
      comment("Failure message: " .. (rec.message or location(rec)))
      if opts.verbose and rec.trace and rec.trace.traceback then
        write("# " .. rec.trace.traceback:gsub("^\n", "", 1):gsub("\n", "\n# ") .. "\n")
      end
    end
  end
  if opts.verbose then
    function h.test_start(node)
      write("# " .. tostring(node.trace.short_src) .. " @ " .. tostring(node.trace.currentline) ..
        ": " .. (require "test.core").full_name(node) .. "\n")
    end
  end
  function h.finish()
    write("1.." .. n .. "\n")
  end
  return h
end

local function xml_escape(s)
  return (tostring(s):gsub("[&<>'\"]", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;",
    ["'"] = "&apos;", ['"'] = "&quot;" }))
end

function M.junit(_, opts)
  opts = opts or {}
  local cases = {}
  local h = {}
  -- As busted: errors outside tests (hooks, describe bodies) count in the errors attribute but
  -- have no testcase of their own.
  function h.result(rec)
    local d = rec.element.descriptor
    if d == "it" or d == "pending" then cases[#cases + 1] = rec end
  end
  function h.finish(s)
    local c = s.counts
    local total = #cases
    local head = string.format("tests='%d' failures='%d' skip='%d' time='%.4f' errors='%d'",
      total, c.failure, c.pending, s.duration, c.error)
    local out = { '<?xml version="1.0" encoding="UTF-8"?>\n', "<testsuites ", head, ">\n",
      "\t<testsuite name='mayfly test' timestamp='", os.date("!%Y-%m-%dT%H:%M:%S"), "' ", head, ">\n" }
    for _, rec in ipairs(cases) do
      local t = rec.element.trace or {}
      out[#out + 1] = string.format("\t\t<testcase classname='%s' name='%s' time='%.4f'",
        xml_escape(tostring(t.short_src) .. ":" .. tostring(t.currentline)), xml_escape(rec.name), rec.duration or 0)
      if rec.status == "success" then
        out[#out + 1] = "/>\n"
      else
        local tag = ({ failure = "failure", error = "error", pending = "skipped" })[rec.status]
        local text = rec.message or ""
        if rec.trace and rec.trace.traceback then text = text .. rec.trace.traceback end
        if rec.status == "pending" and text == "" then
          out[#out + 1] = ">\n\t\t\t<skipped/>\n\t\t</testcase>\n"
        else
          out[#out + 1] = ">\n\t\t\t<" .. tag .. " message='" .. xml_escape((rec.message or ""):match("[^\n]*")) ..
              "'>" .. xml_escape(text) .. "</" .. tag .. ">\n\t\t</testcase>\n"
        end
      end
    end
    out[#out + 1] = "\t</testsuite>\n</testsuites>\n"
    local file = opts.xoutput and opts.xoutput[1]
    if file then -- -Xoutput FILE: the report goes there, as busted's junit handler
      local f = assert(io.open(file, "w"))
      f:write(table.concat(out))
      f:close()
    else
      write(table.concat(out))
    end
  end
  return h
end

function M.json()
  local json = require "cjson"
  local lists = { success = {}, failure = {}, error = {}, pending = {} }
  local h = {}
  function h.result(rec)
    local trace = rec.trace and { traceback = rec.trace.traceback } or nil
    if trace and rec.element.trace then
      trace.short_src = rec.element.trace.short_src
      trace.currentline = rec.element.trace.currentline
    end
    table.insert(lists[rec.status], {
      name = rec.name,
      message = rec.message,
      trace = trace,
      element = {
        name = rec.element.name,
        descriptor = rec.element.descriptor,
        trace = rec.element.trace and {
          short_src = rec.element.trace.short_src,
          currentline = rec.element.trace.currentline,
          source = rec.element.trace.source,
        },
      },
    })
  end
  local function array(list)
    local parts = {}
    for i, v in ipairs(list) do parts[i] = json.encode(v) end
    return "[" .. table.concat(parts, ",") .. "]"
  end
  function h.finish(s)
    write('{"pendings":' .. array(lists.pending) .. ',"successes":' .. array(lists.success) ..
      ',"failures":' .. array(lists.failure) .. ',"errors":' .. array(lists.error) ..
      ',"duration":' .. string.format("%.6f", s.duration) .. "}\n")
  end
  return h
end

-- gtest: Google Test's layout, as busted's gtest handler writes it (colour on a terminal).
function M.gtest(settings, opts)
  opts = opts or {}
  local colour = settings.tty
  if has(opts.xoutput, "--color") then colour = true end
  if has(opts.xoutput, "--plain") then colour = false end
  local codes = { green = 32, yellow = 33, red = 31, magenta = 35, cyan = 36, bright = 1 }
  local c = setmetatable({}, { __index = function(_, name)
    return function(text)
      text = tostring(text)
      return colour and ("\27[" .. codes[name] .. "m" .. text .. "\27[0m") or text
    end
  end })
  local summary = {
    pending = { header = c.yellow("[ SKIPPED  ]") .. " %u %s, listed below:\n",
      test = c.yellow("[ SKIPPED  ]") .. " %s\n", footer = " %u SKIPPED %s\n" },
    failure = { header = c.red("[  FAILED  ]") .. " %u %s, listed below:\n",
      test = c.red("[  FAILED  ]") .. " %s\n", footer = " %u FAILED %s\n" },
    error = { header = c.magenta("[  ERROR   ]") .. " %u %s, listed below:\n",
      test = c.magenta("[  ERROR   ]") .. " %s\n", footer = " %u %s\n" },
  }
  local lists = { pending = {}, failure = {}, error = {} }
  local counts = { tests = 0, files = 0, success = 0, pending = 0, failure = 0, error = 0 }
  local file_tests = 0
  local function fileline(trace)
    if not trace or trace.short_src == nil or trace.currentline == nil then return "" end
    return c.cyan(trace.short_src) .. " @ " .. c.cyan(trace.currentline) .. ": "
  end
  local function description(rec)
    local message = rec.message
    local t = rec.element.trace
    if message == nil and t and t.currentline == nil then message = t.short_src end -- (no compile)
    local text = message == nil and "Nil error" or tostring(message)
    text = text .. "\n"
    if opts.verbose and rec.trace and rec.trace.traceback then text = text .. rec.trace.traceback .. "\n" end
    return text
  end
  local function ms(d) return (d or 0) * 1000 end
  local h = {}
  function h.suite_start(run, runs)
    write(string.format("\nRepeating all tests (run %u of %u) . . .\n\n", run, runs))
  end
  local started = false
  local function begin()
    if started then return end
    started = true
    if opts.shuffle_tests and opts.seed then
      write(string.format(c.yellow("Note: Randomizing test order with a seed of %u.\n"), opts.seed))
    end
    write(c.green("[==========]") .. " Running tests from scanned files.\n")
    write(c.green("[----------]") .. " Global test environment setup.\n")
  end
  function h.file_start(node)
    begin()
    file_tests = 0
    write(string.format(c.green("[----------]") .. " Running tests from %s\n", node.name))
  end
  function h.file_end(node, duration)
    counts.files = counts.files + 1
    write(string.format(c.green("[----------]") .. " %u %s from %s (%.2f ms total)\n\n", file_tests,
      file_tests == 1 and "test" or "tests", node.name, ms(duration)))
  end
  function h.test_start(node)
    write(string.format(c.green("[ RUN      ]") .. " %s\n",
      fileline(node.trace) .. c.bright((require "test.core").full_name(node))))
  end
  function h.result(rec)
    local d = rec.element.descriptor
    if d ~= "it" and d ~= "pending" then -- an error outside tests
      if not opts.defer_print then write(description(rec)) end
      counts.error = counts.error + 1
      table.insert(lists.error, rec)
      return
    end
    begin()
    file_tests = file_tests + 1
    counts.tests = counts.tests + 1
    counts[rec.status] = counts[rec.status] + 1
    if lists[rec.status] then table.insert(lists[rec.status], rec) end
    if (rec.status == "failure" or rec.status == "error") and not opts.defer_print then
      write(description(rec))
    end
    local tag = ({ success = c.green("[       OK ]"), pending = c.yellow("[ SKIPPED  ]"),
      failure = c.red("[  FAILED  ]"), error = c.magenta("[  ERROR   ]") })[rec.status]
    write(string.format(tag .. " %s (%.2f ms)\n", fileline(rec.element.declared) .. c.bright(rec.name),
      ms(rec.duration)))
  end
  function h.finish(s)
    begin()
    write(c.green("[----------]") .. " Global test environment teardown.\n")
    write(string.format(c.green("[==========]") .. " %u %s from %u test %s ran. (%.2f ms total)\n",
      counts.tests, counts.tests == 1 and "test" or "tests", counts.files,
      counts.files == 1 and "file" or "files", ms(s.duration)))
    write(string.format(c.green("[  PASSED  ]") .. " %u %s.\n", counts.success,
      counts.success == 1 and "test" or "tests"))
    for _, status in ipairs({ "pending", "failure", "error" }) do
      local n = counts[status]
      if n > 0 then
        local what = status == "error" and (n == 1 and "error" or "errors") or (n == 1 and "test" or "tests")
        write(string.format(summary[status].header, n, what))
        for _, rec in ipairs(lists[status]) do
          write(string.format(summary[status].test, fileline(rec.element.declared or rec.element.trace) ..
            c.bright(rec.name)))
          if opts.defer_print then
            write(status == "pending" and (rec.message and tostring(rec.message) .. "\n" or "") or description(rec))
          end
        end
      end
    end
    if counts.pending + counts.failure + counts.error > 0 then write("\n") end
    for _, status in ipairs({ "pending", "failure", "error" }) do
      local n = counts[status]
      if n > 0 then
        local what = status == "error" and (n == 1 and "ERROR" or "ERRORS") or (n == 1 and "TEST" or "TESTS")
        write(string.format(summary[status].footer, n, what))
      end
    end
  end
  return h
end

-- Short names the design promises (-o utf|tap|junit|json) and busted's own.
M.aliases = { utf = "utfTerminal", plain = "plainTerminal", tap = "TAP", TAP = "TAP", gtest = "gtest",
  junit = "junit", json = "json", utfTerminal = "utfTerminal", plainTerminal = "plainTerminal" }

return M
