-- lease: a lock with an expiry and an owner token, kept in Redis under "lease:<key>". Only the
-- owner can renew or release it; if the owner dies the lease lapses after ttl seconds. Each
-- operation is one atomic server-side script. Plain functions of (key, ttl, owner), usable from
-- handlers and from host-driven hooks (singleton periodic jobs) alike. On a Redis outage they
-- raise like redis.call (the 503 error); wrap them in pcall where that must not escape.
local _, internal = ...
local script = internal "mayfly._script"
local crypto = require "mayfly.crypto"
local redis = require "mayfly.redis"

local error, type, math_floor = error, type, math.floor

local _M = { _VERSION = "0.1" }

-- Takes a free lease, or extends one the owner already holds (re-entrant).
local acquire = script.new([[
local v = redis.call("GET", KEYS[1])
if not v then
  redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
  return 1
end
if v == ARGV[1] then
  redis.call("PEXPIRE", KEYS[1], ARGV[2])
  return 1
end
return 0
]])

local renew = script.new([[
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 0
]])

local release = script.new([[
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0
]])

local function key_of(key)
  if type(key) ~= "string" or key == "" then error("lease: key must be a non-empty string", 3) end
  return "lease:" .. key
end

local function owner_of(owner)
  if type(owner) ~= "string" or owner == "" then error("lease: owner must be a non-empty string", 3) end
  return owner
end

local function ms_of(ttl)
  if type(ttl) ~= "number" or ttl <= 0 then error("lease: ttl must be seconds > 0", 3) end
  local ms = math_floor(ttl * 1000 + 0.5)
  return ms < 1 and 1 or ms
end

-- A fresh owner token (unpredictable, 32 hex digits).
function _M.token()
  return crypto.random_hex(16)
end

-- Returns true when owner now holds the lease for ttl seconds, false when someone else does.
function _M.acquire(key, ttl, owner)
  return acquire(1, key_of(key), owner_of(owner), ms_of(ttl)) == 1
end

-- Extends owner's lease to ttl seconds from now; false when owner no longer holds it.
function _M.renew(key, ttl, owner)
  return renew(1, key_of(key), owner_of(owner), ms_of(ttl)) == 1
end

-- Gives the lease up; false when owner did not hold it (lapsed, or taken by another).
function _M.release(key, owner)
  return release(1, key_of(key), owner_of(owner)) == 1
end

-- The current owner's token, or nil when the lease is free.
function _M.owner(key)
  return redis.call("GET", key_of(key))
end

return _M
