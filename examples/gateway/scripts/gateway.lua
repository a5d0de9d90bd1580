-- The public API. Items and orders live in the catalog service (catalog/, another mayfly),
-- called through mayfly.http: bounded by a timeout, retried when safe, failing fast while the
-- catalog's breaker is open, with this request's id passed on.
local http = require "mayfly.http"

local function catalog(path)
  return config.get("catalog_url", "http://127.0.0.1:8081") .. path
end

-- A call that got no response: 504 when the catalog was too slow, 503 otherwise (down,
-- refused, breaker open). The kind tells which.
local function unavailable(kind, message)
  log.warn("catalog call failed", { kind = kind, message = message })
  return { status = kind == "timeout" and 504 or 503,
           json = { error = "catalog unavailable", kind = kind } }
end

return {
  ["GET /api/items/:id"] = function(req)
    local id = req.params.id
    if not id:match("^%w+$") then  -- never let a client shape the upstream's path
      return { status = 400, json = { error = "bad item id" } }
    end
    -- A GET is safe to repeat: retried (twice by default) on 502/503/504 and connect errors.
    local res, kind, message = http.get(catalog("/items/" .. id), { timeout = 0.5 })
    if not res then return unavailable(kind, message) end
    if res.status == 404 then return { status = 404, json = { error = "no such item" } } end
    local item = res.status == 200 and res:json()
    if not item then
      return { status = 502, json = { error = "catalog answered " .. res.status } }
    end
    return { json = { item = item, served_by = "gateway" } }
  end,

  ["POST /api/orders"] = function(req)
    -- A POST is not retried: placing an order twice is worse than reporting an error.
    local res, kind, message = http.post(catalog("/orders"), { json = req:json(), timeout = 1 })
    if not res then return unavailable(kind, message) end
    return { status = res.status, headers = { ["Content-Type"] = "application/json" },
             body = res.body }
  end,
}
