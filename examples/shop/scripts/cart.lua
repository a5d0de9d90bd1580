-- A shopping cart per logged-in user: the hash cart:<user> maps sku -> quantity.
local session = require "session"

local MAX_QTY = 99

local function valid_sku(sku)
  return type(sku) == "string" and #sku <= 32 and sku:match("^[%w_-]+$") ~= nil
end

-- { items = { sku = qty, ... }, total_items = n }; items is a JSON object, {} when empty.
-- (JSON object keys come out in no particular order, which may differ between replicas.)
local function cart_of(user)
  local flat = redis.call("HGETALL", "cart:" .. user)   -- { sku1, qty1, sku2, qty2, ... }
  local items, total = {}, 0
  for i = 1, #flat, 2 do
    local qty = tonumber(flat[i + 1])
    items[flat[i]] = qty
    total = total + qty
  end
  return { json = { items = items, total_items = total } }
end

return {
  ["GET /cart"] = session.required(function(_, user)
    return cart_of(user)
  end),

  ["POST /cart/items"] = session.required(function(req, user)
    local body = req:json()
    if type(body) ~= "table" then
      return { status = 400, json = { error = "expected a JSON object {sku=, qty=}" } }
    end
    local sku, qty = body.sku, body.qty
    if qty == nil then qty = 1 end
    if not valid_sku(sku) then
      return { status = 400, json = { error = "sku must be 1-32 characters of A-Za-z0-9_-" } }
    end
    if type(qty) ~= "number" or qty ~= math.floor(qty) or qty < 1 or qty > MAX_QTY then
      return { status = 400, json = { error = "qty must be an integer from 1 to " .. MAX_QTY } }
    end
    redis.call("HINCRBY", "cart:" .. user, sku, qty)
    return cart_of(user)
  end),

  ["DELETE /cart/items/:sku"] = session.required(function(req, user)
    local sku = req.params.sku
    if not valid_sku(sku) then return { status = 400, json = { error = "bad sku" } } end
    if redis.call("HDEL", "cart:" .. user, sku) == 0 then
      return { status = 404, json = { error = "no such item in the cart" } }
    end
    return cart_of(user)
  end),
}
