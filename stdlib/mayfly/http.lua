-- http: calls to other services. mayfly.http.request{ method=, url=, headers=, query=, body=,
-- json=, timeout=, retries=, idempotent=, redirects=, budget_header=, stream=, read_timeout= }
-- returns a response { status=, headers=, body=, attempts= } with res:json(), or nil, kind,
-- message when no response came (kind: timeout, resolve, connect, tls, circuit_open, too_large,
-- redirect, protocol, io). Any status is a response. Misuse (a bad URL or header, retries on a
-- call that is not safe to repeat) raises. With stream = true the response comes once its head
-- is in, without a body: res:read() returns the body piece by piece as it arrives, then nil;
-- res:close() drops the rest.
local require = require

local type, pairs, ipairs, tostring, error, pcall, setmetatable = type, pairs, ipairs,
  tostring, error, pcall, setmetatable
local string_upper, string_format, string_gsub, string_byte, string_find, string_sub =
  string.upper, string.format, string.gsub, string.byte, string.find, string.sub
local table_concat, table_sort = table.concat, table.sort

local _, internal = ...
local _http = internal "mayfly._http"
local json = require "mayfly.json"

local _M = { _VERSION = "0.1" }

local DEFAULT_RETRIES = 2
local DEFAULT_REDIRECTS = 3

-- RFC 9110 9.2.2: repeating these has the same effect as sending them once.
local idempotent_methods = { GET = true, HEAD = true, OPTIONS = true, TRACE = true, PUT = true,
  DELETE = true }

-- What read() hands out at most at a time where the whole body was read first.
local READ_PIECE = 65536

-- A streamed response's handle (mayfly._http's), or, where no run could wait, { body=, pos= }:
-- by response, so that a script holds nothing it could pass to _http itself.
local streams = setmetatable({}, { __mode = "k" })

-- Why the runtime refused or cut a wait short (lua/binding.h), which comes without a message.
local ending = {
  closed = "the client of this stream has gone",
  timeout = "the stream passed MAYFLY_STREAM_TIMEOUT",
  draining = "the stream is to end: the process is draining or a new version waits",
}

local response_methods = {}

-- The decoded body, or nil, "invalid_json", message.
function response_methods.json(self)
  if self.body == nil and streams[self] ~= nil then
    error("mayfly.http: json() needs the whole body; a stream = true response is read with " ..
      "read()", 2)
  end
  local ok, v = pcall(json.decode, self.body)
  if not ok then return nil, "invalid_json", tostring(v) end
  return v
end

local function stream_of(res, fn)
  local h = streams[res]
  if h == nil then
    error("mayfly.http: " .. fn .. "() is for responses of calls made with stream = true", 3)
  end
  return h
end

-- The next piece of a streamed body as it arrives; nil at its end; nil, kind, message when it
-- broke off, a read waited past read_timeout, or the stream this runs in is ending.
function response_methods.read(self)
  local h = stream_of(self, "read")
  if type(h) == "table" then
    if h.closed then error("mayfly.http: res:read() on a response that was closed", 2) end
    local pos = h.pos
    if pos > #h.body then return nil end
    h.pos = pos + READ_PIECE
    return string_sub(h.body, pos, pos + READ_PIECE - 1)
  end
  local piece, kind, message
  repeat piece, kind, message = _http.read(h) until piece ~= true
  if piece == nil and kind ~= nil and message == nil then message = ending[kind] end
  return piece, kind, message
end

-- Drops what is left of a streamed body: the transfer is aborted, read() raises from now on.
function response_methods.close(self)
  local h = stream_of(self, "close")
  if type(h) == "table" then h.closed = true else _http.close(h) end
end

-- Protected: the methods are shared by every request's responses.
local response_mt = { __index = response_methods, __metatable = "mayfly.http: response" }

local function escape(s)
  return (string_gsub(tostring(s), "[^%w%-%._~]", function(c)
    return string_format("%%%02X", string_byte(c))
  end))
end

-- Query tables as a=1&b=x%20y, keys sorted so that one table always gives one URL; an array
-- value repeats its key; true gives a key without a value.
local function encode_query(q, level)
  local keys = {}
  for k in pairs(q) do
    if type(k) ~= "string" then error("mayfly.http: query keys must be strings", level) end
    keys[#keys + 1] = k
  end
  table_sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do
    local v = q[k]
    local list = type(v) == "table" and v or { v }
    for _, x in ipairs(list) do
      local t = type(x)
      if x == true then
        parts[#parts + 1] = escape(k)
      elseif t == "string" or t == "number" then
        parts[#parts + 1] = escape(k) .. "=" .. escape(x)
      elseif x ~= false then
        error("mayfly.http: query value for '" .. k .. "' must be a string, number or boolean",
          level)
      end
    end
  end
  return table_concat(parts, "&")
end

local function has_header(headers, name)
  for k in pairs(headers) do
    if type(k) == "string" and k:lower() == name then return true end
  end
  return false
end

local function call(opts, level)
  if type(opts) ~= "table" then
    error("mayfly.http: request takes a table of options", level)
  end
  local url = opts.url
  if type(url) ~= "string" then error("mayfly.http: url must be a string", level) end
  if opts.query ~= nil then
    if type(opts.query) ~= "table" then error("mayfly.http: query must be a table", level) end
    local q = encode_query(opts.query, level + 1)
    if q ~= "" then url = url .. (string_find(url, "?", 1, true) and "&" or "?") .. q end
  end
  local method = opts.method or "GET"
  if type(method) ~= "string" then error("mayfly.http: method must be a string", level) end
  method = string_upper(method)

  local headers = {}
  if opts.headers ~= nil then
    if type(opts.headers) ~= "table" then error("mayfly.http: headers must be a table", level) end
    for k, v in pairs(opts.headers) do headers[k] = v end
  end
  local body = opts.body
  if opts.json ~= nil then
    if body ~= nil then error("mayfly.http: give body or json, not both", level) end
    body = json.encode(opts.json)
    if not has_header(headers, "content-type") then headers["Content-Type"] = "application/json" end
  elseif body ~= nil and type(body) ~= "string" then
    error("mayfly.http: body must be a string (or use json=)", level)
  end

  local safe = opts.idempotent
  if safe == nil then safe = idempotent_methods[method] or false end
  local retries = opts.retries
  if retries == nil then
    retries = safe and DEFAULT_RETRIES or 0
  elseif type(retries) ~= "number" then
    error("mayfly.http: retries must be a number", level)
  elseif retries > 0 and not safe then
    error("mayfly.http: retries on a " .. method .. " call need idempotent = true (the " ..
      "upstream may act on a request twice)", level)
  end
  local redirects = opts.redirects
  if redirects == nil then redirects = DEFAULT_REDIRECTS end

  local stream = opts.stream
  if stream ~= nil and stream ~= true and stream ~= false then
    error("mayfly.http: stream must be true or false", level)
  end
  if opts.read_timeout ~= nil and not stream then
    error("mayfly.http: read_timeout is for stream = true calls", level)
  end
  if stream then
    local h, why = _http.stream(method, url, headers, body, opts.timeout, retries, redirects,
      opts.budget_header, opts.read_timeout)
    if h == nil then return nil, why, ending[why] end
    if h then
      local status, res_headers, attempts
      repeat status, res_headers, attempts = _http.head(h) until status ~= true
      if not status then
        _http.close(h)
        return nil, res_headers, attempts or ending[res_headers]
      end
      local res = setmetatable({ status = status, headers = res_headers, attempts = attempts },
        response_mt)
      streams[res] = h
      return res
    end
    -- No run can wait here (a hook, a file's top level, code that cannot yield): the whole
    -- body is read now and read() hands it out.
  end

  local status, res_headers, res_body, attempts = _http.request(method, url, headers, body,
    opts.timeout, retries, redirects, opts.budget_header)
  if not status then return nil, res_headers, res_body end
  if stream then
    local res = setmetatable({ status = status, headers = res_headers, attempts = attempts },
      response_mt)
    streams[res] = { body = res_body, pos = 1 }
    return res
  end
  return setmetatable({ status = status, headers = res_headers, body = res_body,
    attempts = attempts }, response_mt)
end

-- Level 2: the tail call leaves no frame of request's own between call and its caller.
function _M.request(opts)
  return call(opts, 2)
end

-- get(url, opts), post(url, opts), ...: request with the method and url filled in.
local function shorthand(method)
  return function(url, opts)
    if opts ~= nil and type(opts) ~= "table" then
      error("mayfly.http." .. method:lower() .. ": options must be a table", 2)
    end
    local o = {}
    for k, v in pairs(opts or {}) do o[k] = v end
    o.method, o.url = method, url
    return call(o, 2)
  end
end

_M.get = shorthand("GET")
_M.post = shorthand("POST")
_M.put = shorthand("PUT")
_M.patch = shorthand("PATCH")
_M.delete = shorthand("DELETE")

return _M
