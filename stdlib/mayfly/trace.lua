-- trace: the scripts' own spans, beside the ones the host records (OpenTelemetry, exported over
-- OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set).
--   mayfly.trace.span(name, fn, attributes) runs fn() as a span under the current one (the
--     request's, a hook's, or the enclosing span) and returns what fn returns; an error marks
--     the span and propagates as it was.
--   mayfly.trace.set(key, value) sets an attribute (string, number, boolean) of the current span.
--   mayfly.trace.event(name, attributes) adds an event to the current span.
-- With tracing off, or a trace not sampled, span only calls fn; arguments are checked either way.
local type, error, pcall = type, error, pcall

local _, internal = ...
local _trace = internal "mayfly._trace"
local begin, finish = _trace.begin, _trace.finish

local _M = { _VERSION = "0.1", set = _trace.set, event = _trace.event }

local function close(serial, ok, ...)
  if ok then
    finish(serial)
    return ...
  end
  local err = ...
  finish(serial, err)
  error(err, 0) -- as it was: a message keeps its position, an HTTP error its status
end

function _M.span(name, fn, attributes)
  if type(name) ~= "string" or name == "" then
    error("bad argument #1 to 'span' (non-empty string expected, got " .. type(name) .. ")", 2)
  end
  if type(fn) ~= "function" then
    error("bad argument #2 to 'span' (function expected, got " .. type(fn) .. ")", 2)
  end
  if attributes ~= nil and type(attributes) ~= "table" then
    error("bad argument #3 to 'span' (table expected, got " .. type(attributes) .. ")", 2)
  end
  local serial = begin(name, attributes)
  if not serial then
    return fn()
  end
  return close(serial, pcall(fn))
end

return _M
