-- mayfly.http reuses its libcurl handles and connections from call to call (the worker's and the
-- blocking client's): what one request's call set (credentials in the URL, headers, a method and
-- a body, a redirect followed) must not go out with a later request's call. Uses the isolation
-- test's upstream (config suspend_upstream, whose /echo answers what it received); without it
-- there is nothing to look at.
local lk = require "lk"
local MARK = lk.marker("http_handle_reuse")

local function upstream()
  return config.get("suspend_upstream")
end

-- Calls fn on the worker's loop and, inside a string.gsub callback, on the blocking client.
local function both_ways(fn)
  local a = { pcall(fn) }
  local b
  string.gsub("a", "a", function() b = { pcall(fn) } end)
  return a, b
end

return {
  ["GET /http_handle_reuse/plant"] = function(req)
    local out = {}
    local up = upstream()
    if not up then return "refused: no upstream configured\n" end
    local creds = up:gsub("^http://", "http://" .. MARK .. ":" .. MARK .. "@")
    local calls = {
      { "credentials in the URL", function() return mayfly.http.get(creds .. "/echo", { retries = 0 }) end },
      { "headers", function()
        return mayfly.http.get(up .. "/echo", { retries = 0, headers = { Authorization = "Bearer " .. MARK,
          Cookie = MARK .. "=1", ["X-" .. MARK] = MARK } })
      end },
      { "a PUT with a body", function()
        return mayfly.http.request { method = "PUT", url = up .. "/echo", body = MARK, retries = 0 }
      end },
      { "a POST with a body", function()
        return mayfly.http.post(up .. "/echo", { body = MARK, retries = 0 })
      end },
      { "a redirect with credentials", function()
        return mayfly.http.get(creds .. "/redirect?to=" .. up .. "/echo", { retries = 0 })
      end },
    }
    for _, c in ipairs(calls) do
      local a, b = both_ways(c[2])
      out[#out + 1] = c[1] .. ": " .. tostring(a[1] and a[2] and a[2].status) .. " / " .. tostring(b and b[1] and b[2] and b[2].status)
    end
    return lk.report(out)
  end,

  ["GET /http_handle_reuse/probe"] = function(req)
    local problems = {}
    local up = upstream()
    if not up then return "clean" end
    local a, b = both_ways(function() return mayfly.http.get(up .. "/echo", { retries = 0 }) end)
    for name, r in pairs { loop = a, blocking = b } do
      local ok, res, kind = r[1], r[2], r[3]
      if not ok then
        problems[#problems + 1] = name .. ": the call raised " .. tostring(res)
      elseif res and res.status == 200 then
        local e = res:json() or {}
        if res.body:find(MARK, 1, true) then problems[#problems + 1] = name .. ": the upstream received " .. MARK .. ": " .. res.body end
        if e.method ~= "GET" then problems[#problems + 1] = name .. ": sent as " .. tostring(e.method) end
        if e.body ~= "" then problems[#problems + 1] = name .. ": sent a body " .. tostring(e.body) end
        if type(e.headers) == "table" and (e.headers.authorization or e.headers.cookie) then
          problems[#problems + 1] = name .. ": sent credentials " .. tostring(e.headers.authorization or e.headers.cookie)
        end
      elseif kind ~= "circuit_open" and kind ~= "timeout" then
        problems[#problems + 1] = name .. ": no answer from the upstream: " .. tostring(res and res.status or kind)
      end
    end
    return lk.verdict(problems)
  end,
}
