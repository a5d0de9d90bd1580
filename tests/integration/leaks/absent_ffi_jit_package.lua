-- ffi, jit, package, module, newproxy and C modules: all absent.
local lk = require "lk"
local MARK = lk.marker("absent_ffi_jit_package")

return {
  ["GET /absent_ffi_jit_package/plant"] = function(req)
    local out = {}
    for _, name in ipairs { "ffi", "jit", "jit.util", "jit.opt", "jit.profile", "package", "io", "_G", "lpeg", "socket", "cjson.util", "mayfly" } do
      lk.try(out, "require '" .. name .. "'", function()
        local m = require(name)
        m[MARK] = MARK
      end)
    end
    lk.try(out, "ffi.cdef", function() ffi.cdef("int getpid(void);") end)
    lk.try(out, "jit.off", function() jit.off() end)
    lk.try(out, "package.loaded", function() package.loaded[MARK] = { [MARK] = MARK } end)
    lk.try(out, "package.preload", function() package.preload[MARK] = lk.evil(MARK) end)
    lk.try(out, "package.loadlib", function() package.loadlib("libc.so.6", "getpid") end)
    lk.try(out, "module()", function() module(MARK) end)
    lk.try(out, "newproxy", function() return newproxy(true) end)
    return lk.report(out)
  end,

  ["GET /absent_ffi_jit_package/probe"] = function(req)
    local problems = {}
    for _, n in ipairs { "ffi", "jit", "package", "module", "newproxy", "gcinfo", MARK } do
      if _G[n] ~= nil then problems[#problems + 1] = n .. " is reachable" end
    end
    for _, n in ipairs { "ffi", "jit", "jit.util", "package", "io", MARK } do
      local ok, m = pcall(require, n)
      if ok then problems[#problems + 1] = "require '" .. n .. "' works: " .. tostring(m) end
    end
    return lk.verdict(problems)
  end,
}
