-- The default handlers: what a ConfigMap mounted on the scripts folder replaces.
return {
  ["GET /hello"] = function(req)
    return "hello " .. (req.query.name or "world")
  end,

  ["POST /echo"] = function(req)
    return { json = { method = req.method, body = req:json(), id = req.id } }
  end,
}
