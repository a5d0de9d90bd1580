-- The smallest mayfly app: one route, text and JSON answers.
return {
  ["GET /hello"] = function(req)
    return "hello " .. (req.query.name or "world")
  end,

  ["GET /hello/:name"] = function(req)
    return { json = { greeting = "hello", name = req.params.name, request_id = req.id } }
  end,
}
