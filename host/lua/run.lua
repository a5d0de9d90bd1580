-- The body of every request run's coroutine. It never returns: each run's result is yielded
-- with the DONE marker, and the next run's arguments come back from that yield, so one
-- coroutine serves run after run. A script's own coroutine.yield in the handler yields without
-- the marker, which the host refuses. The handler's result is read here, inside the run (its
-- environment, deadline and memory cap), into plain values the host made: no script code runs
-- after the run.
-- Only the host resumes a run's coroutine, and it does so with the RESUME token first: a resume
-- without it (no script can hold this coroutine, but were one to) starts nothing.
local DONE, RESUME, RESUME_SHARED, shared_chunk, SHARED_MODULE, SHARED_FILE, push_request,
  read_response, response_table, begin_stream, traceback = ...
local xpcall, yield, type, error = xpcall, coroutine.yield, type, error

-- What read_response read: a whole response, or the head of a streamed one, sent at once, after
-- which its function writes the body in this same run (given the out object and the request);
-- the response ends when it returns.
local function respond(req, status, body, ctype, headers, stream, heartbeat, heartbeat_text)
  if stream == nil then return status, body, ctype, headers end
  stream(begin_stream(status, body, ctype, headers, heartbeat, heartbeat_text), req)
end

-- ---- middleware ----
-- Layers around the handler, outermost first: the shared middleware file's (its table, or each
-- table of its list, in order), then the route file's own before/after. Befores run outermost
-- first; the first to return a value answers with it, and neither the inner befores nor the
-- handler run. Then the afters of the layers whose before let the request through run,
-- innermost first, each given the response as a table (response_table) and returning the one
-- to send. An error anywhere ends the run: the host answers it as a handler's.

local function not_function(role, where, value)
  error(where .. ": '" .. role .. "' is a " .. type(value) .. ", not a function", 0)
end

-- Layer i (1: the outermost) and the file it is in: the shared layers first (shared itself when
-- single, otherwise its entries), then the route file's table. No table is made per request.
local function layer_at(i, nshared, single, shared, routes, file)
  if i > nshared then return routes, file end
  if single then return shared, SHARED_FILE end
  local layer = shared[i]
  if type(layer) ~= "table" then
    error(SHARED_FILE .. ": entry " .. i .. " is a " .. type(layer) .. ", not a table", 0)
  end
  return layer, SHARED_FILE
end

-- own: the route file's table has a before or an after.
local function around(handler, req, routes, file, own, shared)
  local nshared, single = 0, false
  if shared ~= nil then
    single = shared.before ~= nil or shared.after ~= nil
    nshared = single and 1 or #shared
  end
  local n = own and nshared + 1 or nshared

  local res, role, where, through = nil, nil, nil, n
  for i = 1, n do
    local layer, from = layer_at(i, nshared, single, shared, routes, file)
    local before = layer.before
    if before ~= nil then
      if type(before) ~= "function" then not_function("before", from, before) end
      res = before(req)
      if res ~= nil then
        role, where, through = "before", from, i - 1
        break
      end
    end
  end
  if through == n then res = handler(req) end
  for i = through, 1, -1 do
    local layer, from = layer_at(i, nshared, single, shared, routes, file)
    local after = layer.after
    if after ~= nil then
      if type(after) ~= "function" then not_function("after", from, after) end
      res = after(req, response_table(res, role, where))
      role, where = "after", from
    end
  end
  return respond(req, read_response(res, role, where))
end

-- ---- the run ----


-- The route file's table (its chunk run in the run's environment) and the route's handler.
local function route_of(chunk, module, key, file)
  local routes = chunk(module)
  if type(routes) ~= "table" then
    error(file .. " returned a " .. type(routes) .. " instead of its table of routes", 0)
  end
  local handler = routes[key]
  if type(handler) ~= "function" then
    error("route '" .. key .. "' is not a function in this run of " .. file, 0)
  end
  return routes, handler
end

local function dispatch(chunk, module, key, file)
  local routes, handler = route_of(chunk, module, key, file)
  if routes.before == nil and routes.after == nil then
    -- respond's work in line: the common route pays for no call more than it must.
    local req = push_request()
    local status, body, ctype, headers, stream, heartbeat, heartbeat_text =
      read_response((handler(req)))
    if stream == nil then return status, body, ctype, headers end
    stream(begin_stream(status, body, ctype, headers, heartbeat, heartbeat_text), req)
    return
  end
  return around(handler, push_request(), routes, file, true)
end

-- A version with a shared middleware file: its chunk runs first, in the run's environment.
local function dispatch_shared(chunk, module, key, file)
  local shared = shared_chunk()(SHARED_MODULE)
  if type(shared) ~= "table" then
    error(SHARED_FILE .. " returned a " .. type(shared) .. " instead of its middleware", 0)
  end
  local routes, handler = route_of(chunk, module, key, file)
  return around(handler, push_request(), routes, file,
    routes.before ~= nil or routes.after ~= nil, shared)
end

return function(token, chunk, module, key, file)
  while true do
    if token == RESUME then
      token, chunk, module, key, file =
        yield(DONE, xpcall(dispatch, traceback, chunk, module, key, file))
    elseif token == RESUME_SHARED then
      token, chunk, module, key, file =
        yield(DONE, xpcall(dispatch_shared, traceback, chunk, module, key, file))
    else
      token, chunk, module, key, file = yield()
    end
  end
end
