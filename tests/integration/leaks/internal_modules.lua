-- The primitives behind the stdlib (mayfly._http, mayfly._script, mayfly._config_source,
-- mayfly._jwks: the process-wide JWKS documents) are not require-able: a script that held
-- mayfly._http could claim its run may wait where it cannot (inside a string.gsub callback),
-- leave the call in flight after its run ended, and have a later request on the worker resumed
-- with that call's response. The public calls made from such callbacks block instead, and
-- nothing reaches the next request.
local lk = require "lk"
local MARK = lk.marker("internal_modules")

local internal = { "mayfly._http", "mayfly._script", "mayfly._config_source", "mayfly._jwks",
  "mayfly._internal" }

return {
  ["GET /internal_modules/plant"] = function(req)
    local out = {}
    for _, name in ipairs(internal) do
      local ok, m = pcall(require, name)
      out[#out + 1] = "require '" .. name .. "': " .. (ok and "planted (got it)" or "refused: " .. tostring(m))
      if ok and type(m) == "table" and type(m.request) == "function" then
        -- The forged "may wait" flag, where no yield can succeed: a connection refused at once.
        lk.try(out, name .. ".request inside gsub", function()
          string.gsub("a", "a", function()
            m.request("GET", "http://127.0.0.1:1/" .. MARK, nil, nil, 1, 0, 0, nil, true)
          end)
        end)
      end
    end
    -- The public API from the same non-yieldable place: it must block and answer.
    lk.try(out, "mayfly.http inside gsub", function()
      string.gsub("a", "a", function() mayfly.http.get("http://127.0.0.1:1/" .. MARK, { retries = 0 }) end)
    end)
    lk.try(out, "redis.pcall inside gsub", function()
      string.gsub("a", "a", function() redis.pcall("PING") end)
    end)
    lk.try(out, "redis.pcall inside table.sort", function()
      table.sort({ 3, 1, 2 }, function(a, b) redis.pcall("PING") return a < b end)
    end)
    return lk.report(out)
  end,

  ["GET /internal_modules/probe"] = function(req)
    local problems = {}
    for _, name in ipairs(internal) do
      if pcall(require, name) then problems[#problems + 1] = "require '" .. name .. "' works" end
    end
    if mayfly._http ~= nil or mayfly._script ~= nil or mayfly._jwks ~= nil then problems[#problems + 1] = "mayfly holds an internal module" end
    -- A call that waits: it must get its own answer, not an earlier call's.
    -- (Port 2, not the plant's: the breakers are shared by design; an open one answers
    -- circuit_open.)
    local res, kind, msg = mayfly.http.get("http://127.0.0.1:2/probe", { retries = 0 })
    if res ~= nil or (kind ~= "connect" and kind ~= "circuit_open") then
      problems[#problems + 1] = "mayfly.http.get got " .. tostring(res and res.status or kind) .. " " .. tostring(msg)
    elseif tostring(msg):find(MARK, 1, true) then
      problems[#problems + 1] = "mayfly.http.get got the planted call's error: " .. tostring(msg)
    end
    local ok, pong = pcall(redis.call, "PING")
    if ok and pong ~= "PONG" then problems[#problems + 1] = "redis PING answered " .. tostring(pong) end
    if not ok and not tostring(pong):find("redis", 1, true) and not tostring(pong):find("Redis", 1, true) then
      problems[#problems + 1] = "redis PING raised " .. tostring(pong)
    end
    return lk.verdict(problems)
  end,
}
