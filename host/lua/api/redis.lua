-- redis.call, redis.pcall and redis.pipeline over redis.c's primitives. A primitive sends
-- the command and returns ok, value (or the error message) and its kind; a handler's command
-- suspends its run meanwhile where it can (the primitive decides), else blocks. Raising happens
-- here, once the reply is in.
local c = ...
local run, run_pipeline, raise, new_pipeline = c.run, c.run_pipeline, c.raise, c.new_pipeline
local type, error = type, error

local _M = { null = c.null }

function _M.call(...)
  local ok, v, kind = run("redis.call", ...)
  if ok then return v end
  return raise(kind, v)
end

function _M.pcall(...)
  local ok, v = run("redis.pcall", ...)
  if ok then return v end
  return nil, v
end

-- redis.pipeline(fn): calls fn(p), then sends what p:call queued in one round trip and returns
-- the replies in order (nil as redis.null, error replies as {err = msg}). Raises the 503 error
-- when Redis is unreachable.
function _M.pipeline(fn)
  if type(fn) ~= "function" then
    error("bad argument #1 to 'pipeline' (function expected, got " .. type(fn) .. ")", 2)
  end
  local p = new_pipeline()
  fn(p)
  local ok, v = run_pipeline(p)
  if ok then return v end
  return raise("unavailable", v)
end

return _M
