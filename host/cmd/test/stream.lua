-- test.stream: the objects testing.stream returns, a streamed response read as a client reads
-- it. The bytes come from the runner (test.native's pull), which turns the event loop the
-- stream's run waits on while a method waits for them. read, events and drain are separate
-- views of one body: read returns the bytes read has not returned yet, events the events events
-- has not returned yet; body holds every byte taken so far.
local native = require "test.native"
local sse = require "test.sse"

local M = {}

-- The test a stream object belongs to: the runner moves on after every test (testing.lua),
-- and closes the streams the test left open.
M.test = 0

local Stream = {}
Stream.__index = Stream

local function fail(self, what, text)
  error(("testing.stream: s:%s: %s: %s"):format(what, self._label, text), 3)
end

-- Raises, at the spec's line, for an object of another test.
local function check(self, what)
  if self._test ~= M.test then
    error(("testing.stream: s:%s: %s was made by another test (a stream serves the test " ..
      "that made it only)"):format(what, self._label), 3)
  end
end

local function seconds(self, what, t)
  if t == nil then return self._timeout end
  if type(t) ~= "number" or t ~= t or t < 0 then
    error(("testing.stream: s:%s: the timeout must be a number of seconds"):format(what), 3)
  end
  return t
end

local function take(self, bytes)
  self.body = self.body .. bytes
  self._sse:feed(bytes)
  self.retry = self._sse.retry
end

-- Takes the stream's next bytes, waiting up to timeout s: true when some came, false at the end
-- of the body, nil when the time ran out.
local function pull(self, timeout)
  if self._ended then return false end
  local bytes, why = native.pull(self._id, timeout)
  if bytes == false then return nil end
  if bytes == nil then
    self._ended = why
    if why == "cut" then self.cut = true end
    return false
  end
  take(self, bytes)
  return true
end

local function unread(self)
  local rest = self.body:sub(self._read_at)
  self._read_at = #self.body + 1
  return rest
end

-- s:read([timeout]) -> the next bytes written, or nil at the end of the body
function Stream:read(timeout)
  check(self, "read")
  timeout = seconds(self, "read", timeout)
  if self._read_at > #self.body then
    local got = pull(self, timeout)
    if got == nil then fail(self, "read", ("nothing was written within %g s"):format(timeout)) end
    if not got then return nil end
  end
  return unread(self)
end

-- s:events([n [, timeout]]) -> the next n events (every one until the end of the body when n
-- is nil); fewer only when the body ended first
function Stream:events(n, timeout)
  check(self, "events")
  if n ~= nil and (type(n) ~= "number" or n < 1 or n % 1 ~= 0) then
    error("testing.stream: s:events: n must be a whole number of events, 1 or more", 2)
  end
  timeout = seconds(self, "events", timeout)
  local all = self._sse.events
  local deadline = native.now() + timeout
  while not self._ended and (n == nil or #all - self._events_at + 1 < n) do
    local left = deadline - native.now()
    if left <= 0 or pull(self, left) == nil then
      local have = #all - self._events_at + 1
      if n then
        fail(self, "events", ("%d of the %d events asked for came within %g s"):format(have, n, timeout))
      end
      fail(self, "events", ("the stream did not end within %g s (%d events came)"):format(timeout, have))
    end
  end
  local out = {}
  local last = n and math.min(#all, self._events_at + n - 1) or #all
  for i = self._events_at, last do out[#out + 1] = all[i] end
  self._events_at = last + 1
  return out
end

-- s:comments([n [, timeout]]) -> the comment lines seen so far (a heartbeat ":" gives ""),
-- with what the stream holds now; given n, first waits until n of them were seen in all
function Stream:comments(n, timeout)
  check(self, "comments")
  if n ~= nil and (type(n) ~= "number" or n < 1 or n % 1 ~= 0) then
    error("testing.stream: s:comments: n must be a whole number of comments, 1 or more", 2)
  end
  timeout = seconds(self, "comments", timeout)
  local seen = self._sse.comments
  pull(self, 0)
  local deadline = native.now() + timeout
  while n and #seen < n and not self._ended do
    local left = deadline - native.now()
    if left <= 0 or pull(self, left) == nil then
      fail(self, "comments", ("%d of the %d comments asked for came within %g s"):format(#seen, n, timeout))
    end
  end
  local out = {}
  for i, c in ipairs(seen) do out[i] = c end
  return out
end

-- s:drain([timeout]) -> the process drains (every open stream sees out:draining() true and its
-- waits return at once); reads on until the stream ends and returns the bytes read had not
-- returned
function Stream:drain(timeout)
  check(self, "drain")
  timeout = seconds(self, "drain", timeout)
  if not self._ended then native.drain() end
  local deadline = native.now() + timeout
  while not self._ended do
    local left = deadline - native.now()
    if left <= 0 or pull(self, left) == nil then
      fail(self, "drain", ("the stream did not end within %g s of the drain"):format(timeout))
    end
  end
  return unread(self)
end

-- s:close([timeout]): the client leaves (out:write returns nil, "closed"; waits return); waits
-- up to timeout s for the stream's function to return
function Stream:close(timeout)
  check(self, "close")
  timeout = seconds(self, "close", timeout)
  if self._ended then return end
  self._ended = "closed"
  if not native.close(self._id, timeout) then
    fail(self, "close", ("its function had not returned %g s after its client left"):format(timeout))
  end
end

-- s:ended() -> true once the body ended (or the client left)
function Stream:ended()
  check(self, "ended")
  pull(self, 0)
  return self._ended ~= nil
end

-- head: {status=, headers=, header_list=}; id: the stream's (nil: the response was not
-- streamed, body is all of it); label: "GET /path" for messages.
function M.new(head, body, id, label, timeout)
  local s = setmetatable({
    status = head.status, headers = head.headers, header_list = head.header_list, body = "",
    _id = id, _label = label, _timeout = timeout, _test = M.test, _read_at = 1,
    _events_at = 1, _sse = sse.new(),
  }, Stream)
  if not id then
    take(s, body or "")
    s._ended = "ended"
  end
  return s
end

return M
