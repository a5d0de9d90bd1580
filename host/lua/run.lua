-- The body of every request run's coroutine. It never returns: each run's result is yielded
-- with the DONE marker, and the next run's arguments come back from that yield, so one
-- coroutine serves run after run. A script's own coroutine.yield in the handler yields without
-- the marker, which the host refuses. The handler's result is read here, inside the run (its
-- environment, deadline and memory cap), into plain values the host made: no script code runs
-- after the run.
local DONE, push_request, read_response, traceback = ...
local xpcall, yield, type, error = xpcall, coroutine.yield, type, error

local function dispatch(chunk, module, key, file, r)
  local routes = chunk(module)
  if type(routes) ~= "table" then
    error(file .. " returned a " .. type(routes) .. " instead of its table of routes", 0)
  end
  local handler = routes[key]
  if type(handler) ~= "function" then
    error("route '" .. key .. "' is not a function in this run of " .. file, 0)
  end
  return read_response(handler(push_request(r)))
end

return function(chunk, module, key, file, r)
  while true do
    chunk, module, key, file, r =
      yield(DONE, xpcall(dispatch, traceback, chunk, module, key, file, r))
  end
end
