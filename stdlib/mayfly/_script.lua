-- Server-side Lua scripts for the stdlib: a script is sent once per Redis and then named by its
-- SHA-1 (EVALSHA); when Redis does not know it (restart, SCRIPT FLUSH, a failover) the source
-- goes along (EVAL), which also loads it for the next call. Runs atomically on the server.
local redis = require "mayfly.redis"
local crypto = require "mayfly.crypto"

local pcall, error, type = pcall, error, type
local string_find = string.find
local redis_call = redis.call

local _M = { _VERSION = "0.1" }

-- Returns run(numkeys, key..., arg...) -> the script's reply. Raises like redis.call: an error
-- reply as a Lua error, an outage as the host's 503.
function _M.new(source)
  local sha = crypto.sha1hex(source)
  return function(numkeys, ...)
    local ok, res = pcall(redis_call, "EVALSHA", sha, numkeys, ...)
    if ok then return res end
    if type(res) == "string" and string_find(res, "NOSCRIPT", 1, true) then
      return redis_call("EVAL", source, numkeys, ...)
    end
    error(res, 0) -- the same error object: a 503 stays a 503
  end
end

return _M
