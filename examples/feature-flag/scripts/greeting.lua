-- A feature flag read from config: `new_greeting` (a file in the config folder, i.e. a key of
-- the ConfigMap mounted there). config.* reads the current snapshot at every call, so the
-- flag flips at the first request after the kubelet swaps the mounted ConfigMap: no restart,
-- no rollout, no request dropped.
return {
  ["GET /greeting"] = function(req)
    local name = req.query.name or "friend"
    if config.bool("new_greeting", false) then
      return { json = { greeting = "Welcome back, " .. name .. "!", new_greeting = true } }
    end
    return { json = { greeting = "Hello " .. name, new_greeting = false } }
  end,

  -- A typo in the ConfigMap ("ture") is refused: the old config stays and the refusal is
  -- logged, instead of every request failing on a value that does not parse.
  on_config = function()
    local ok = pcall(config.bool, "new_greeting", false)
    if not ok then return false, "new_greeting must be true or false" end
  end,
}
