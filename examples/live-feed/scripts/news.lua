-- A live news feed: POST /news publishes an item; GET /news streams items as Server-Sent Events
-- to every client, on every replica, as they are published; a client that reconnects (its
-- replica drained, a network blip) gets what it missed, from where its Last-Event-ID says.
-- Items are kept in a Redis Stream (news:log, bounded) and announced on the pub/sub channel
-- "news"; each event's id is the item's stream id.
local json = mayfly.json

local LOG, CHANNEL = "news:log", "news"

-- Stream ids are "milliseconds-sequence".
local function parse_id(id)
  local ms, seq = (id or ""):match("^(%d+)-(%d+)$")
  return tonumber(ms), tonumber(seq)
end

local function later(a, b)
  local am, as = parse_id(a)
  local bm, bs = parse_id(b)
  return am > bm or (am == bm and as > bs)
end

return {
  ["POST /news"] = function(req)
    local item = req:json()
    if type(item.title) ~= "string" or item.title == "" or #item.title > 200 then
      return { status = 400, json = { error = "title: a string of 1 to 200 characters" } }
    end
    local body = json.encode({ title = item.title, url = item.url })
    local id = redis.call("XADD", LOG, "MAXLEN", "~", config.number("keep", 1000), "*", "item", body)
    redis.call("PUBLISH", CHANNEL, id .. " " .. body)
    return { status = 201, json = { id = id } }
  end,

  -- The newest items, newest first.
  ["GET /news/recent"] = function(req)
    local n = math.min(tonumber(req.query.n) or 20, 100)
    local items = {}
    for _, entry in ipairs(redis.call("XREVRANGE", LOG, "+", "-", "COUNT", n)) do
      local item = json.decode(entry[2][2])
      item.id = entry[1]
      items[#items + 1] = item
    end
    return { json = { items = items } }
  end,

  ["GET /news"] = function(req)
    return mayfly.sse.stream(function(ev)
      local sub = mayfly.subscribe(CHANNEL) -- first, so that nothing falls between the two
      local last = ev.last_event_id
      if parse_id(last) then
        -- A client coming back: what it missed, oldest first.
        for _, entry in ipairs(redis.call("XRANGE", LOG, "(" .. last, "+", "COUNT", 1000)) do
          if not ev:send{ event = "news", id = entry[1], data = entry[2][2] } then return end
          last = entry[1]
        end
      end
      while not ev:draining() do
        local msg = sub:next(config.number("poll", 15))
        if msg then
          local id, body = msg:match("^(%S+) (.*)$")
          if id and (not parse_id(last) or later(id, last)) then
            if not ev:send{ event = "news", id = id, data = body } then return end
            last = id
          end
        end
      end
      -- The process drains (or a new version takes over): the client reconnects elsewhere,
      -- resuming after `last`, in a second.
      ev:send{ event = "bye", retry = 1000, data = "reconnect" }
    end, { retry = 1000 })
  end,
}
