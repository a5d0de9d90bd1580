-- session: a server-side session in Redis, carried by a cookie that holds only its id.
--   local s = session.load(req)                 -- reads the cookie; slides the expiry
--   s:get("user"); s:set("user", "ada"); s:set({ a = 1, b = 2 }); s:all()
--   s:regenerate()                              -- new id, same data: call it on login
--   s:destroy()                                 -- logout
--   return s:attach({ json = ... })             -- adds the Set-Cookie header
-- The data is a Redis hash "session:<id>" whose expiry is pushed back by every load and write
-- (a sliding expiry of opts.ttl seconds). Values are stored as strings (numbers and booleans
-- converted as redis.call converts them). The id is 32 hex digits from the kernel's CSPRNG;
-- a cookie that is not such an id is ignored. The cookie is read from req.cookies and written
-- by mayfly.cookie.serialize, which refuses options a browser would drop.
local redis = require "mayfly.redis"
local crypto = require "mayfly.crypto"
local cookie = require "mayfly.cookie"

local type, pairs, next, error, pcall, setmetatable, unpack = type, pairs, next, error, pcall,
  setmetatable, unpack
local string_find = string.find
local math_floor = math.floor

local _M = { _VERSION = "0.1" }

local defaults = {
  cookie = "mayfly_session", -- cookie name
  ttl = 1800,                -- seconds of inactivity before the session expires
  secure = true,             -- Secure flag: the cookie only travels over HTTPS
  same_site = "Lax",         -- Strict, Lax or None
  path = "/",
  domain = nil,
  prefix = "session:",       -- Redis key prefix
}

local Session = {}
local session_mt = { __index = Session, __metatable = "mayfly.session: session" }

local function option(opts, name)
  local v = opts and opts[name]
  if v == nil then return defaults[name] end
  return v
end

-- The request's cookies: req.cookies, or a Cookie header parsed the same way for a table that
-- stands in for a request.
local function cookies_of(req)
  local c = req.cookies
  if type(c) == "table" then return c end
  local header = req.headers and req.headers.cookie
  return type(header) == "string" and cookie.parse(header) or {}
end

local function cookie_options(s)
  return {
    path = s._path,
    domain = s._domain,
    max_age = s.id and s._ttl or 0,
    http_only = true,
    same_site = s._same_site,
    secure = s._secure and true or false,
  }
end

local function key(s)
  return s._prefix .. s.id
end

-- Loads the session named by req's cookie. Returns a session object; s.id is nil while there is
-- no session (no cookie, an expired or unknown id), and becomes set by the first s:set().
function _M.load(req, opts)
  if type(req) ~= "table" and type(req) ~= "userdata" then
    error("session.load: expected the request", 2)
  end
  local ttl = option(opts, "ttl")
  if type(ttl) ~= "number" or ttl < 1 then error("session: ttl must be seconds >= 1", 2) end
  local s = setmetatable({
    id = nil,
    data = {},
    _name = option(opts, "cookie"),
    _ttl = math_floor(ttl),
    _secure = option(opts, "secure"),
    _same_site = option(opts, "same_site"),
    _path = option(opts, "path"),
    _domain = option(opts, "domain"),
    _prefix = option(opts, "prefix"),
    _changed_id = false,
  }, session_mt)
  -- Options a browser would refuse (SameSite=None without Secure) fail here, not at attach.
  local ok, err = pcall(cookie.serialize, s._name, "", cookie_options(s))
  if not ok then error("session: " .. err, 2) end
  local id = cookies_of(req)[s._name]
  if id and #id == 32 and not string_find(id, "[^0-9a-f]") then
    local r = redis.pipeline(function(p)
      p:call("HGETALL", s._prefix .. id)
      p:call("EXPIRE", s._prefix .. id, s._ttl)
    end)
    local flat = r[1]
    if #flat > 0 then
      s.id = id
      for i = 1, #flat, 2 do s.data[flat[i]] = flat[i + 1] end
    end
  end
  return s
end

function Session:get(name)
  return self.data[name]
end

-- A copy of every field.
function Session:all()
  local t = {}
  for k, v in pairs(self.data) do t[k] = v end
  return t
end

local function stringify(v)
  if type(v) == "boolean" then return v and "1" or "0" end
  if type(v) == "number" then
    if v == math_floor(v) and v > -2^53 and v < 2^53 then return ("%d"):format(v) end
    return ("%.17g"):format(v)
  end
  if type(v) ~= "string" then error("session: values must be strings, numbers or booleans", 4) end
  return v
end

-- s:set(name, value) or s:set({name = value, ...}); a nil value (s:set(name)) deletes the
-- field. Starts a session when there is none.
function Session:set(name, value)
  local fields = name
  if type(name) == "string" then
    fields = { [name] = value }
  elseif type(name) ~= "table" then
    error("session: set(name, value) or set({name = value, ...})", 2)
  end
  local hset, hdel = {}, {}
  for f, v in pairs(fields) do
    if type(f) ~= "string" then error("session: field names must be strings", 2) end
    hset[#hset + 1] = f
    hset[#hset + 1] = stringify(v)
  end
  if type(name) == "string" and value == nil then hdel[1] = name end
  if not self.id then
    self.id = crypto.random_hex(16)
    self._changed_id = true
  end
  local k = key(self)
  redis.pipeline(function(p)
    if #hset > 0 then p:call("HSET", k, unpack(hset)) end
    if #hdel > 0 then p:call("HDEL", k, unpack(hdel)) end
    p:call("EXPIRE", k, self._ttl)
  end)
  for i = 1, #hset, 2 do self.data[hset[i]] = hset[i + 1] end
  for i = 1, #hdel do self.data[hdel[i]] = nil end
end

-- A new id for the same data, the old id deleted: after a login, so an id an attacker planted
-- before it (session fixation) is worth nothing.
function Session:regenerate()
  local old = self.id and key(self)
  self.id = crypto.random_hex(16)
  self._changed_id = true
  local k = key(self)
  redis.pipeline(function(p)
    if old then p:call("DEL", old) end
    if next(self.data) then
      local args = { "HSET", k }
      for f, v in pairs(self.data) do
        args[#args + 1] = f
        args[#args + 1] = v
      end
      p:call(unpack(args))
      p:call("EXPIRE", k, self._ttl)
    end
  end)
end

-- Deletes the session; the cookie s:attach then sends expires at once.
function Session:destroy()
  if self.id then redis.call("DEL", key(self)) end
  self.id = nil
  self.data = {}
  self._changed_id = true
end

-- The Set-Cookie value (mayfly.cookie.serialize): the id with Path, Max-Age (the sliding ttl),
-- HttpOnly, SameSite, and Secure unless opts.secure was false; an expired cookie once the
-- session is destroyed.
function Session:cookie()
  return cookie.serialize(self._name, self.id or "", cookie_options(self))
end

-- Adds the cookie to a handler's response (a string becomes {body = s}) and returns it. The
-- cookie is sent whenever a session exists (its Max-Age slides with the expiry) or was ended.
function Session:attach(resp)
  if type(resp) ~= "table" then resp = { body = resp } end
  if not self.id and not self._changed_id then return resp end
  local headers = {}
  for k, v in pairs(resp.headers or {}) do headers[k] = v end
  local c = self:cookie()
  local prev = headers["set-cookie"]
  if prev == nil then
    headers["set-cookie"] = c
  elseif type(prev) == "table" then
    local list = {}
    for i = 1, #prev do list[i] = prev[i] end
    list[#list + 1] = c
    headers["set-cookie"] = list
  else
    headers["set-cookie"] = { prev, c }
  end
  local out = {}
  for k, v in pairs(resp) do out[k] = v end
  out.headers = headers
  return out
end

return _M
