-- tests/bench/outbound.sh: one outbound call per request, its body returned.
local http = require "mayfly.http"

return {
  ["GET /proxy"] = function()
    local res, kind = http.get(config.get("upstream") .. "/hello")
    if not res then return { status = 502, body = kind } end
    return res.body
  end,
}
