-- The catalog service the gateway calls. It answers with the request id it was given, so the
-- id a client sent to the gateway can be followed into this service's logs.
local items = {
  ["1"] = { id = "1", name = "lamp", price = 30 },
  ["2"] = { id = "2", name = "chair", price = 85 },
}

return {
  ["GET /items/:id"] = function(req)
    local item = items[req.params.id]
    if not item then return { status = 404, json = { error = "no such item" } } end
    item.request_id = req.id
    return { json = item }
  end,

  ["POST /orders"] = function(req)
    local order = req:json()
    if type(order) ~= "table" or not items[tostring(order.item)] then
      return { status = 422, json = { error = "order needs an existing item" } }
    end
    log.info("order placed", { item = order.item })
    return { status = 201, json = { item = order.item, request_id = req.id } }
  end,
}
