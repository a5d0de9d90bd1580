-- cache: a read-through cache in Redis shared by every worker and replica.
--   local user = cache.get("user:" .. id, 60, function() return load_user(id) end)
-- A hit returns the stored value; a miss calls loader() and stores what it returns (JSON
-- encoded, so tables, strings, numbers and booleans round-trip) for ttl seconds. A nil from the
-- loader is returned and not stored.
--
-- Stampede protection: of many concurrent misses on one key (any worker, any replica) one takes
-- a short lock key ("{<key>}:lock", SET NX PX) and runs the loader; the others wait on a list
-- ("{<key>}:done") with BLPOP for at most opts.wait seconds (both hash to the value's slot:
-- the three live on one node of a Redis Cluster). The loader's owner pushes a token there when
-- the value is stored, and each woken waiter passes the token on, so all of them wake and read
-- the value without calling the loader. A waiter that sees the lock vanish
-- without a value (the loader failed or returned nil) tries to take the lock itself; one that
-- waited opts.wait in vain calls the loader itself rather than fail. Each BLPOP blocks at most
-- 50 ms: keep MAYFLY_REDIS_TIMEOUT above that.
local redis = require "mayfly.redis"
local crypto = require "mayfly.crypto"
local json = require "mayfly.json"
local _, internal = ...
local script = internal "mayfly._script"

local type, error, pcall, math_floor, math_ceil = type, error, pcall, math.floor, math.ceil
local string_find, string_gsub = string.find, string.gsub
local redis_call = redis.call

local _M = { _VERSION = "0.1" }

local POLL = 0.05 -- seconds one BLPOP may block

-- Deletes the lock only if we still own it, and wakes the first waiter.
local finish = script.new([[
if redis.call("GET", KEYS[1]) == ARGV[1] then redis.call("DEL", KEYS[1]) end
redis.call("DEL", KEYS[2])
redis.call("RPUSH", KEYS[2], "1")
redis.call("PEXPIRE", KEYS[2], ARGV[2])
return 1
]])

-- A key in the same Redis Cluster slot as key: the slot is the CRC16 of the key's hash tag (the
-- text between its first '{' and the next '}', when not empty) or of the whole key. A key with a
-- tag keeps it when suffixed; one without is wrapped in braces, which makes the whole key the
-- tag. A key that has a '}' but no tag cannot be wrapped: its lock and wake-up keys then share
-- a slot with each other only (the script below needs no more).
local function sibling(key, suffix)
  local open = string_find(key, "{", 1, true)
  local close = open and string_find(key, "}", open + 1, true)
  if close and close > open + 1 then return key .. suffix end
  if not string_find(key, "}", 1, true) then return "{" .. key .. "}" .. suffix end
  local tag = string_gsub(key, "}", "")
  return "{" .. (tag ~= "" and tag or "_") .. "}" .. suffix
end

local function decode(data)
  return json.decode(data)
end

local function ms(seconds)
  local v = math_floor(seconds * 1000 + 0.5)
  return v < 1 and 1 or v
end

-- Runs the loader as the lock's owner; stores and returns its value.
local function load(key, ttl, loader, lock_key, done_key, token, lock_ms)
  local ok, value = pcall(loader)
  if ok and value ~= nil then
    local okenc, data = pcall(json.encode, value)
    if not okenc then
      finish(2, lock_key, done_key, token, lock_ms)
      error("cache: the loader's value for '" .. key .. "' cannot be stored: " .. data, 0)
    end
    redis_call("SET", key, data, "PX", ms(ttl))
  end
  finish(2, lock_key, done_key, token, lock_ms)
  if not ok then error(value, 0) end -- the loader's own error object, untouched
  return value
end

-- Returns the value under key, from Redis or from loader(). opts: lock (seconds the lock is
-- held at most, default 10: longer than the slowest load), wait (seconds a waiter waits for
-- another's load, default = lock).
function _M.get(key, ttl, loader, opts)
  if type(key) ~= "string" or key == "" then error("cache.get: key must be a non-empty string", 2) end
  if type(ttl) ~= "number" or ttl <= 0 then error("cache.get: ttl must be seconds > 0", 2) end
  if type(loader) ~= "function" then error("cache.get: loader must be a function", 2) end
  local lock = opts and opts.lock or 10
  local wait = opts and opts.wait or lock
  local lock_ms = ms(lock)
  local data = redis_call("GET", key)
  if data then return decode(data) end

  local lock_key, done_key = sibling(key, ":lock"), sibling(key, ":done")
  local token = crypto.random_hex(8)
  for _ = 1, math_ceil(wait / POLL) do
    if redis_call("SET", lock_key, token, "NX", "PX", lock_ms) then
      -- Someone may have stored the value between our GET and our lock.
      data = redis_call("GET", key)
      if data then
        finish(2, lock_key, done_key, token, lock_ms)
        return decode(data)
      end
      return load(key, ttl, loader, lock_key, done_key, token, lock_ms)
    end
    local woke = redis_call("BLPOP", done_key, POLL)
    data = redis_call("GET", key)
    if data then
      if woke then redis_call("RPUSH", done_key, "1") end -- wake the next waiter
      return decode(data)
    end
  end
  -- The owner of the lock took longer than we may wait: load without the lock.
  local value = loader()
  if value ~= nil then
    redis_call("SET", key, json.encode(value), "PX", ms(ttl))
  end
  return value
end

-- Removes key's value (the next get loads it again).
function _M.delete(key)
  if type(key) ~= "string" or key == "" then error("cache.delete: key must be a non-empty string", 2) end
  redis_call("DEL", key)
end

return _M
