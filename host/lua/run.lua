-- The body of every request run's coroutine. It never returns: each run's result is yielded
-- with the DONE marker, and the next run's arguments come back from that yield, so one
-- coroutine serves run after run. A script's own coroutine.yield in the handler yields without
-- the marker, which the host refuses. The handler's result is read here, inside the run (its
-- environment, deadline and memory cap), into plain values the host made: no script code runs
-- after the run.
-- Only the host resumes a run's coroutine, and it does so with the RESUME token first: a resume
-- without it (no script can hold this coroutine, but were one to) starts nothing.
local DONE, RESUME, push_request, read_response, traceback = ...
local xpcall, yield, type, error = xpcall, coroutine.yield, type, error

local function dispatch(chunk, module, key, file)
  local routes = chunk(module)
  if type(routes) ~= "table" then
    error(file .. " returned a " .. type(routes) .. " instead of its table of routes", 0)
  end
  local handler = routes[key]
  if type(handler) ~= "function" then
    error("route '" .. key .. "' is not a function in this run of " .. file, 0)
  end
  return read_response(handler(push_request()))
end

return function(token, chunk, module, key, file)
  while true do
    if token == RESUME then
      token, chunk, module, key, file =
        yield(DONE, xpcall(dispatch, traceback, chunk, module, key, file))
    else
      token, chunk, module, key, file = yield()
    end
  end
end
