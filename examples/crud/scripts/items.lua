-- A JSON CRUD API on Redis. Each item is a hash `item:<id>`; the sorted set `items` lists the
-- ids in creation order; `items:next_id` hands out ids. Nothing is kept in the process, so any
-- number of replicas serve the same data.
local json = require "mayfly.json"

-- Checks a decoded body; returns the fields to store, or nil and what is wrong.
local function validate(body)
  if type(body) ~= "table" then return nil, "the body must be a JSON object" end
  if type(body.name) ~= "string" or body.name == "" or #body.name > 200 then
    return nil, "name: a non-empty string of at most 200 characters"
  end
  local qty = body.qty == nil and 0 or body.qty
  if type(qty) ~= "number" or qty < 0 or qty % 1 ~= 0 then
    return nil, "qty: a whole number >= 0"
  end
  return { name = body.name, qty = qty }
end

local function load(id)
  local h = redis.call("HGETALL", "item:" .. id)
  if #h == 0 then return nil end
  local item = { id = tonumber(id) }
  for i = 1, #h, 2 do item[h[i]] = h[i + 1] end
  item.qty = tonumber(item.qty)
  return item
end

local function bad(msg) return { status = 400, json = { error = msg } } end
local function missing(id) return { status = 404, json = { error = "no item " .. id } } end

-- Replaces an item only if it exists, in one step (a check then a write from two replicas
-- could resurrect an item deleted in between).
local UPDATE = [[
if redis.call("EXISTS", KEYS[1]) == 0 then return 0 end
redis.call("HSET", KEYS[1], "name", ARGV[1], "qty", ARGV[2])
return 1
]]

return {
  ["POST /items"] = function(req)
    local fields, err = validate(req:json())
    if not fields then return bad(err) end
    local id = redis.call("INCR", "items:next_id")
    redis.call("HSET", "item:" .. id, "name", fields.name, "qty", fields.qty)
    redis.call("ZADD", "items", id, id)
    fields.id = id
    return { status = 201, headers = { Location = "/items/" .. id }, json = fields }
  end,

  ["GET /items"] = function(req)
    local ids = redis.call("ZRANGE", "items", 0, -1)
    local parts = {}
    for _, id in ipairs(ids) do
      local item = load(id)
      if item then parts[#parts + 1] = json.encode(item) end
    end
    -- Written by hand so that no items is `[]`: lua-cjson encodes an empty table as `{}`.
    return {
      headers = { ["Content-Type"] = "application/json" },
      body = '{"items":[' .. table.concat(parts, ",") .. "]}",
    }
  end,

  ["GET /items/:id"] = function(req)
    local item = load(req.params.id)
    if not item then return missing(req.params.id) end
    return { json = item }
  end,

  ["PUT /items/:id"] = function(req)
    local fields, err = validate(req:json())
    if not fields then return bad(err) end
    local id = req.params.id
    if redis.call("EVAL", UPDATE, 1, "item:" .. id, fields.name, fields.qty) == 0 then
      return missing(id)
    end
    return { json = load(id) }
  end,

  ["DELETE /items/:id"] = function(req)
    local id = req.params.id
    if redis.call("DEL", "item:" .. id) == 0 then return missing(id) end
    redis.call("ZREM", "items", id)
    return { status = 204 }
  end,
}
