-- test.sse: a Server-Sent Events parser that follows the HTML Standard's rules for
-- interpreting an event stream (the event-stream section of "Server-sent events"), fed the bytes
-- of a body as they arrive:
--   * lines end with CRLF, LF or CR (a CRLF split between two chunks is one line end); a
--     leading byte order mark is dropped;
--   * a blank line dispatches the event being built; a line starting with ":" is a comment;
--     "name: value" sets a field (one space after the colon is dropped), a line without a
--     colon names a field with an empty value;
--   * event sets the type, data appends a line (lines joined with "\n"), id sets the last event
--     ID unless the value holds a NUL, retry sets the reconnection time when it is all ASCII
--     digits; other fields are ignored;
--   * a block with no data dispatches nothing; the last event ID lasts across events (as
--     EventSource's lastEventId); an event cut off by the end of the body is never dispatched.
-- Events are tables { event = type ("message" unless set), data = ..., id = the last event ID
-- (nil while it is empty), retry = the reconnection time a retry field of the same block set }.
-- Bytes are kept as they came (no UTF-8 decoding).
local M = {}

local Parser = {}
Parser.__index = Parser

function M.new()
  return setmetatable({
    events = {},   -- dispatched events, in order
    comments = {}, -- comment lines' text, in order
    retry = nil,   -- the stream's reconnection time, once a retry field set it
    _pending = "", -- bytes after the last complete line
    _started = false,
    _skip_lf = false, -- the last chunk ended with CR: a LF that starts the next is its pair
    _data = nil,      -- the data buffer (nil: empty)
    _type = "",
    _last_id = "",
    _block_retry = nil,
  }, Parser)
end

local function dispatch(p)
  local retry = p._block_retry
  p._block_retry = nil
  if p._data == nil then
    p._type = ""
    return
  end
  local data = p._data
  if data:sub(-1) == "\n" then data = data:sub(1, -2) end
  p.events[#p.events + 1] = {
    event = p._type ~= "" and p._type or "message",
    data = data,
    id = p._last_id ~= "" and p._last_id or nil,
    retry = retry,
  }
  p._data, p._type = nil, ""
end

local function field(p, name, value)
  if name == "event" then
    p._type = value
  elseif name == "data" then
    p._data = (p._data or "") .. value .. "\n"
  elseif name == "id" then
    if not value:find("\0", 1, true) then p._last_id = value end
  elseif name == "retry" then
    if value:find("^%d+$") then
      p.retry = tonumber(value)
      p._block_retry = p.retry
    end
  end
end

local function line(p, text)
  if text == "" then return dispatch(p) end
  local colon = text:find(":", 1, true)
  if colon == 1 then
    local comment = text:sub(2)
    if comment:sub(1, 1) == " " then comment = comment:sub(2) end
    p.comments[#p.comments + 1] = comment
  elseif colon then
    local value = text:sub(colon + 1)
    if value:sub(1, 1) == " " then value = value:sub(2) end
    field(p, text:sub(1, colon - 1), value)
  else
    field(p, text, "")
  end
end

-- Parses what bytes completes; returns how many events were dispatched so far.
function Parser:feed(bytes)
  local buf = self._pending .. bytes
  if not self._started then
    -- the BOM is dropped only at the very start: wait until three bytes say whether it is one
    if #buf < 3 and ("\239\187\191"):sub(1, #buf) == buf then
      self._pending = buf
      return #self.events
    end
    self._started = true
    if buf:sub(1, 3) == "\239\187\191" then buf = buf:sub(4) end
  end
  local pos = 1
  if self._skip_lf and buf:sub(1, 1) == "\n" then pos = 2 end
  self._skip_lf = false
  while true do
    local at, _, ending = buf:find("([\r\n])", pos)
    if not at then break end
    line(self, buf:sub(pos, at - 1))
    pos = at + 1
    if ending == "\r" then
      if at == #buf then
        self._skip_lf = true
      elseif buf:sub(pos, pos) == "\n" then
        pos = pos + 1
      end
    end
  end
  self._pending = buf:sub(pos)
  return #self.events
end

return M
