-- The config harness's handler: reads every key of the fuzzed config through each accessor.
return {
  ["GET /config"] = function()
    local all = config.all()
    local n = 0
    for k in pairs(all) do
      if type(k) == "string" then
        pcall(config.get, k)
        pcall(config.number, k)
        pcall(config.bool, k)
        pcall(config.duration, k)
        n = n + 1
      end
    end
    return { json = { n = n, all = all } }
  end,
}
