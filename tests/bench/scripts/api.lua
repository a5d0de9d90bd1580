-- A handler file of the size real services have: 20 routes, two user modules required per
-- request. The benchmark measures GET /api/items/:id against the hello route.
local validate = require "validate"
local render = require "render"

local function item(id) return { id = id, name = "item " .. id, price = 100 } end

return {
  ["GET /api/items"] = function() return { json = { items = { item("1"), item("2") } } } end,
  ["GET /api/items/:id"] = function(req)
    local id = validate.id(req.params.id)
    if not id then return render.error(400, "bad id") end
    return render.ok(item(id))
  end,
  ["POST /api/items"] = function(req) return render.ok(req:json(), 201) end,
  ["PUT /api/items/:id"] = function(req) return render.ok(req:json()) end,
  ["DELETE /api/items/:id"] = function() return { status = 204 } end,
  ["GET /api/users"] = function() return render.ok({}) end,
  ["GET /api/users/:id"] = function(req) return render.ok({ id = req.params.id }) end,
  ["POST /api/users"] = function(req) return render.ok(req:json(), 201) end,
  ["PUT /api/users/:id"] = function(req) return render.ok(req:json()) end,
  ["DELETE /api/users/:id"] = function() return { status = 204 } end,
  ["GET /api/orders"] = function() return render.ok({}) end,
  ["GET /api/orders/:id"] = function(req) return render.ok({ id = req.params.id }) end,
  ["POST /api/orders"] = function(req) return render.ok(req:json(), 201) end,
  ["GET /api/orders/:id/items"] = function() return render.ok({}) end,
  ["GET /api/search"] = function(req) return render.ok({ q = req.query.q }) end,
  ["GET /api/stats"] = function() return render.ok({ up = true }) end,
  ["GET /api/version"] = function() return mayfly.version end,
  ["GET /api/files/*"] = function(req) return req.params["*"] end,
  ["OPTIONS /api/items"] = function() return { status = 204, headers = { Allow = "GET, POST" } } end,
  ["PATCH /api/items/:id"] = function(req) return render.ok(req:json()) end,
}
