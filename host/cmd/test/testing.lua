-- mayfly.testing: requests through the real router and sandbox, in-process, their runs waiting
-- on an event loop the runner turns (as a worker's) while the spec waits for a response.
--   testing.request(method, path, {headers=, query=, body=, json=, timeout=})
--     -> {status=, headers= (lower-case names, repeats joined by ", "), header_list= ({name,
--         value} as sent), body=, json= (decoded when the body is JSON)}; a streamed body is
--         read to its end, which must come within timeout s (5)
--   testing.stream(method, path, opts) -> a stream object (test.stream) once the head is in
--   testing.config{key = value}   config values scripts read, until the end of the test
--   testing.redis(cmd, ...)       a command on the handlers' Redis (to seed or inspect it)
-- With MAYFLY_REDIS_URL set the handlers use that Redis, in a database of the tests' own (the
-- URL's, or 15 when it names none; a Redis Cluster has database 0 only, so the whole cluster)
-- that must be empty when the run starts and is emptied (FLUSHDB, on every primary of a
-- cluster) after every test, so each test starts from an empty Redis. Without it, the runner
-- starts a throwaway redis-server for the run when one is on the PATH (on first use).
local native = require "test.native"
local stream = require "test.stream"
local cjson = require "cjson.safe"

local M = { _VERSION = "0.1" }

-- Calls a native function; its errors name the line of the spec that called M's function.
local function call(fn, ...)
  local r = { pcall(fn, ...) }
  if not r[1] then error(r[2], 3) end
  return unpack(r, 2, table.maxn(r))
end

local settings = {}
local DEFAULT_TIMEOUT = 5 -- seconds a streamed body may take (testing.request, testing.stream)
local used_redis, used_config = false, false

local function escape(s)
  return (tostring(s):gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

local function query_string(q)
  if type(q) == "string" then return q end
  local keys = {}
  for k in pairs(q) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  local parts = {}
  for _, k in ipairs(keys) do
    local v = q[k]
    if type(v) == "table" then
      for _, x in ipairs(v) do parts[#parts + 1] = escape(k) .. "=" .. escape(x) end
    elseif v == true then
      parts[#parts + 1] = escape(k)
    else
      parts[#parts + 1] = escape(k) .. "=" .. escape(v)
    end
  end
  return table.concat(parts, "&")
end

-- nil until Redis answered; then true (ours to empty) or the reason it is refused.
local db_state

local function check_db(level)
  if db_state == true or not native.has_redis() then return end
  if db_state == nil then
    local ok, sizes, on_cluster = pcall(native.redis_primaries, "DBSIZE")
    if not ok then return end -- unreachable: the handlers answer 503, as in production
    local n = 0
    for _, size in ipairs(sizes) do n = n + size end
    if n == 0 then
      db_state = true
    elseif on_cluster then
      db_state = "mayfly.testing: the tests' Redis Cluster holds " .. tostring(n) .. " keys; " ..
        "mayfly test empties every primary after every test, so the cluster must be empty when " ..
        "the run starts (point MAYFLY_REDIS_URL at a cluster of the tests' own)"
    else
      db_state = "mayfly.testing: the tests' Redis database holds " .. tostring(n) .. " keys; " ..
        "mayfly test empties it after every test, so it must be empty when the run starts " ..
        "(point MAYFLY_REDIS_URL at a database of its own, e.g. redis://host:6379/15, and " ..
        "FLUSHDB it)"
    end
  end
  if db_state ~= true then error(db_state, level or 3) end -- at the spec line that asked
end

-- What testing.request and testing.stream share: checks the arguments (raising at the spec's
-- line), builds the request and starts it. Returns the head, the body (nil while streamed),
-- the stream's id (nil: not streamed), "METHOD /path" and the timeout.
local function start(fname, method, path, opts)
  if type(method) ~= "string" then error(fname .. ": method must be a string", 3) end
  if type(path) ~= "string" then error(fname .. ": path must be a string", 3) end
  opts = opts or {}
  local timeout = opts.timeout or DEFAULT_TIMEOUT
  if type(timeout) ~= "number" or timeout ~= timeout or timeout <= 0 then
    error(fname .. ": timeout must be a number of seconds, more than 0", 3)
  end
  check_db(4)
  used_redis = true
  local target = path
  if opts.query ~= nil then
    local qs = query_string(opts.query)
    if qs ~= "" then target = target .. (target:find("?", 1, true) and "&" or "?") .. qs end
  end
  local fields, has_ctype = {}, false
  for name, value in pairs(opts.headers or {}) do
    local values = type(value) == "table" and value or { value }
    for _, v in ipairs(values) do
      fields[#fields + 1] = tostring(name)
      fields[#fields + 1] = tostring(v)
    end
    if tostring(name):lower() == "content-type" then has_ctype = true end
  end
  local body = opts.body
  if opts.json ~= nil then
    body = assert(cjson.encode(opts.json))
    if not has_ctype then
      fields[#fields + 1] = "Content-Type"
      fields[#fields + 1] = "application/json"
    end
  end
  if body ~= nil and type(body) ~= "string" then error(fname .. ": body must be a string", 3) end
  method = method:upper()
  local r = { pcall(native.start, method, target, fields, body) }
  if not r[1] then error(r[2], 3) end
  local status, header_list, resp_body, id = r[2], r[3], r[4], r[5]
  local headers = {}
  for _, h in ipairs(header_list) do
    local name = h[1]:lower()
    headers[name] = headers[name] and (headers[name] .. ", " .. h[2]) or h[2]
  end
  local label = method .. " " .. path
  if id and method == "HEAD" then
    -- as libmicrohttpd answers a HEAD: the head alone, its stream's client gone at once
    if not native.close(id, timeout) then
      error(fname .. ": " .. label .. ": the stream's function had not returned " .. timeout ..
        " s after its client left", 3)
    end
    id, resp_body = nil, ""
  end
  -- header_list keeps repeated fields apart (Set-Cookie values may hold commas themselves)
  return { status = status, headers = headers, header_list = header_list }, resp_body, id, label,
      timeout
end

function M.request(method, path, opts)
  local res, body, id, label, timeout = start("testing.request", method, path, opts)
  if id then -- a streamed body, read to its end
    local parts, n = {}, 0
    local deadline = native.now() + timeout
    while true do
      -- (a stream that always has bytes never makes pull wait: the deadline is checked here)
      local left = deadline - native.now()
      local bytes, why = false, nil
      if left > 0 then bytes, why = native.pull(id, left) end
      if bytes == nil then
        if why == "cut" then
          error(("testing.request: %s: the stream was cut after %d bytes: its function failed " ..
            "(an error, or MAYFLY_REQUEST_TIMEOUT; logged on stderr)"):format(label, n), 2)
        end
        break
      elseif bytes == false then
        local returned = native.close(id, timeout)
        error(("testing.request: %s: the stream did not end within %g s (timeout=); it was " ..
          "ended as if its client left%s, after %d bytes (testing.stream reads a stream " ..
          "that does not end)"):format(label, timeout, returned and "" or
          (", and its function had not returned %g s later"):format(timeout), n), 2)
      end
      parts[#parts + 1] = bytes
      n = n + #bytes
    end
    body = table.concat(parts)
  end
  res.body = body
  if (res.headers["content-type"] or ""):find("json", 1, true) then
    res.json = cjson.decode(body)
  end
  return res
end

function M.stream(method, path, opts)
  local head, body, id, label, timeout = start("testing.stream", method, path, opts)
  return stream.new(head, body, id, label, timeout)
end

function M.config(values)
  if type(values) ~= "table" then error("testing.config: expected a table of values", 2) end
  used_config = true
  call(native.config, values)
end

function M.redis(...)
  if not native.has_redis() then
    error("testing.redis: no Redis: set MAYFLY_REDIS_URL, or install redis-server (mayfly test " ..
      "starts one when it is on the PATH)", 2)
  end
  check_db()
  used_redis = true
  return call(native.redis, ...)
end

-- The runner calls these.
function M._attach(runner, s)
  settings = s
  table.insert(runner.after_test, function(node)
    -- first: a stream's function may still use Redis or the config
    local running = native.close_all(DEFAULT_TIMEOUT)
    stream.test = stream.test + 1
    if running > 0 then
      io.stderr:write(("mayfly test: %s: %d stream(s) the test left open had not ended %d s " ..
        "after their client left\n"):format(node and node.name or "?", running, DEFAULT_TIMEOUT))
    end
    if used_config then native.config(nil); used_config = false end
    if used_redis and db_state == true then pcall(native.redis_primaries, "FLUSHDB") end
    used_redis = false
  end)
end

return M
