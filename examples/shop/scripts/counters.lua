-- Named counters shared by every replica: the value lives in Redis (counter:<name>), so
-- whichever process answers, INCR is atomic and the count is the same.
local function bad_name(name)
  return #name > 64 or not name:match("^[%w_.-]+$")
end

return {
  ["POST /counters/:name"] = function(req)
    local name = req.params.name
    if bad_name(name) then return { status = 400, json = { error = "bad counter name" } } end
    local value = redis.call("INCR", "counter:" .. name)
    return { json = { name = name, value = value } }
  end,

  ["GET /counters/:name"] = function(req)
    local name = req.params.name
    if bad_name(name) then return { status = 400, json = { error = "bad counter name" } } end
    local value = tonumber(redis.call("GET", "counter:" .. name)) or 0
    return { json = { name = name, value = value } }
  end,
}
