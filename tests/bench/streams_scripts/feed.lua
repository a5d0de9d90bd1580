-- The routes tests/bench/streams.sh measures: an SSE stream per client, each subscribed to one
-- Redis channel and waiting for its messages (heartbeat at mayfly.sse's default).
return {
  ["GET /feed"] = function()
    return mayfly.sse.stream(function(ev)
      local sub = mayfly.subscribe("bench:feed")
      -- Tells the client this stream is subscribed: a PUBLISH from now on reaches it.
      if not ev:comment("subscribed") then return end
      while not ev:draining() do
        local msg, why = sub:next(30)
        if msg then
          if not ev:send({ data = msg }) then return end
        elseif why then
          return
        end
      end
    end)
  end,

  ["GET /hello"] = function()
    return "hello"
  end,
}
