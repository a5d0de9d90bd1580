-- What the sandbox removes from io and os: files, processes, exit, locale. A plant that could
-- create its file (the path the test passes as ?tmp=) leaves evidence the test looks for.
local lk = require "lk"

return {
  ["GET /absent_io_os/plant"] = function(req)
    local out = {}
    local path = req.query.tmp or "/tmp/mayfly-leaks-absent_io_os"
    lk.try(out, "io.open", function() assert(io.open(path .. ".io", "w")):write("x") end)
    lk.try(out, "io.output", function() io.output(path .. ".out") end)
    lk.try(out, "io.popen", function() io.popen("touch '" .. path .. ".popen'") end)
    lk.try(out, "os.execute", function() os.execute("touch '" .. path .. ".exec'") end)
    lk.try(out, "os.remove", function() os.remove(path .. ".io") end)
    lk.try(out, "os.rename", function() os.rename(path .. ".io", path .. ".renamed") end)
    lk.try(out, "os.tmpname", function() return os.tmpname() end)
    lk.try(out, "os.setlocale", function() assert(os.setlocale("de_DE.UTF-8", "numeric") or os.setlocale("C.UTF-8")) end)
    lk.try(out, "os.exit", function() os.exit(3) end)
    lk.try(out, "dofile", function() dofile(path .. ".lua") end)
    lk.try(out, "loadfile", function() loadfile(path .. ".lua") end)
    lk.try(out, "require 'io'", function() require("io").open(path .. ".req", "w") end)
    lk.try(out, "require 'os'.execute", function() require("os").execute("touch '" .. path .. ".req'") end)
    lk.try(out, "os.execute replaced", function() os.execute = lk.evil("LEAK_absent_io_os") end)
    return lk.report(out)
  end,

  ["GET /absent_io_os/probe"] = function(req)
    local problems = {}
    for _, n in ipairs { "io", "dofile", "loadfile" } do
      if _G[n] ~= nil then problems[#problems + 1] = n .. " is reachable" end
    end
    for _, n in ipairs { "execute", "exit", "remove", "rename", "tmpname", "setlocale" } do
      if os[n] ~= nil then problems[#problems + 1] = "os." .. n .. " is reachable" end
    end
    if pcall(require, "io") then problems[#problems + 1] = "require 'io' works" end
    if not rawequal(require "os", os) then problems[#problems + 1] = "require 'os' is not the read-only os" end
    if string.format("%.1f", 0.5) ~= "0.5" or tostring(0.5) ~= "0.5" or tonumber("0.5") ~= 0.5 then
      problems[#problems + 1] = "the numeric locale changed: " .. string.format("%.1f", 0.5)
    end
    return lk.verdict(problems)
  end,
}
