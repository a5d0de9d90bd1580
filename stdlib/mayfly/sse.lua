-- sse: Server-Sent Events (the HTML standard's text/event-stream) over a streamed response.
--   return mayfly.sse.stream(function(ev, req)
--     ev:send{ event = "news", id = "42", data = "line 1\nline 2" }  -- true, or nil, why
--     ev:comment("hello")
--     while not ev:draining() do ... end
--   end, { heartbeat = 15, retry = 3000, headers = {...}, status = 200 })
-- ev.last_event_id is the client's Last-Event-ID (nil on a first connection): where a
-- reconnecting client left off. While the function waits, a comment line is written after
-- `heartbeat` seconds without a write (false: none), so that proxies keep the connection.
local json = require "mayfly.json"

local type, error, tostring, pairs, setmetatable, math_floor = type, error, tostring, pairs,
  setmetatable, math.floor
local string_find, string_gsub, string_gmatch = string.find, string.gsub, string.gmatch
local table_concat = table.concat

local _M = { _VERSION = "0.1" }

local DEFAULT_HEARTBEAT = 15

local ev_methods = {}

-- A field value that must stay on its line: event and id.
local function one_line(name, v, level)
  if type(v) == "number" then v = tostring(v) end
  if type(v) ~= "string" then
    error("mayfly.sse: " .. name .. " must be a string, not a " .. type(v), level + 1)
  end
  if string_find(v, "[\r\n%z]") then
    error("mayfly.sse: " .. name .. " must not hold CR, LF or NUL", level + 1)
  end
  return v
end

-- Each line of s (split on CRLF, LF or CR, as the client splits them) as `prefix line`.
local function lines(parts, prefix, s)
  s = string_gsub(s, "\r\n?", "\n")
  for line in string_gmatch(s .. "\n", "([^\n]*)\n") do
    parts[#parts + 1] = prefix
    parts[#parts + 1] = line
    parts[#parts + 1] = "\n"
  end
end

-- The text of one event; data may be a string, a number or a table (sent as JSON).
function _M.format(e)
  if type(e) ~= "table" then error("mayfly.sse: an event is a table", 2) end
  local parts = {}
  if e.event ~= nil then
    parts[#parts + 1] = "event: " .. one_line("event", e.event, 2) .. "\n"
  end
  if e.id ~= nil then
    parts[#parts + 1] = "id: " .. one_line("id", e.id, 2) .. "\n"
  end
  if e.retry ~= nil then
    local r = e.retry
    if type(r) ~= "number" or r < 0 or r ~= math_floor(r) then
      error("mayfly.sse: retry must be a whole number of milliseconds", 2)
    end
    parts[#parts + 1] = "retry: " .. string_gsub(tostring(r), "%.0$", "") .. "\n"
  end
  local data = e.data
  if type(data) == "table" then
    data = json.encode(data)
  elseif type(data) == "number" then
    data = tostring(data)
  elseif data ~= nil and type(data) ~= "string" then
    error("mayfly.sse: data must be a string, a number or a table, not a " .. type(data), 2)
  end
  if data ~= nil then lines(parts, "data: ", data) end
  if #parts == 0 then error("mayfly.sse: an event needs data, event, id or retry", 2) end
  parts[#parts + 1] = "\n"
  return table_concat(parts)
end

-- ev:send{event=, id=, data=, retry=} -> true, or nil, why (the client left: "closed"; the
-- stream is to end: "timeout", "draining").
function ev_methods:send(e)
  return self._out:write(_M.format(e))
end

-- ev:comment(text): a comment line per line of text; clients ignore them.
function ev_methods:comment(text)
  if type(text) ~= "string" then error("mayfly.sse: a comment is a string", 2) end
  local parts = {}
  lines(parts, ":", text)
  return self._out:write(table_concat(parts))
end

function ev_methods:draining()
  return self._out:draining()
end

local ev_mt = { __index = ev_methods, __metatable = "mayfly.sse: event stream" }

-- mayfly.sse.stream(fn, opts) -> the response: fn(ev, req) writes the events.
function _M.stream(fn, opts)
  if type(fn) ~= "function" then error("mayfly.sse.stream: expected a function", 2) end
  opts = opts or {}
  if type(opts) ~= "table" then error("mayfly.sse.stream: options must be a table", 2) end
  local every = opts.heartbeat
  if every == nil then every = DEFAULT_HEARTBEAT end
  if every ~= false and (type(every) ~= "number" or not (every > 0)) then
    error("mayfly.sse.stream: heartbeat must be a number of seconds above 0, or false", 2)
  end
  local first
  if opts.retry ~= nil then first = _M.format({ retry = opts.retry }) end
  local headers = {
    ["Content-Type"] = "text/event-stream; charset=utf-8",
    ["Cache-Control"] = "no-cache",
    -- nginx (and what is built on it) buffers a response unless told not to.
    ["X-Accel-Buffering"] = "no",
  }
  if opts.headers ~= nil then
    if type(opts.headers) ~= "table" then error("mayfly.sse.stream: headers must be a table", 2) end
    for k, v in pairs(opts.headers) do headers[k] = v end
  end
  return {
    status = opts.status,
    headers = headers,
    heartbeat = every and { every = every, text = ":\n\n" } or nil,
    stream = function(out, req)
      local ev = setmetatable({ _out = out, last_event_id = req.headers["last-event-id"] }, ev_mt)
      if first and not out:write(first) then return end
      return fn(ev, req)
    end,
  }
end

return _M
