-- Output handlers, in busted's formats: utfTerminal (default; colour only on a terminal),
-- plainTerminal, TAP, junit (XML) and json. Each is new(settings) returning
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

-- Short names the design promises (-o utf|tap|junit|json) and busted's own.
M.aliases = { utf = "utfTerminal", plain = "plainTerminal", tap = "TAP", TAP = "TAP",
  junit = "junit", json = "json", utfTerminal = "utfTerminal", plainTerminal = "plainTerminal" }

return M
