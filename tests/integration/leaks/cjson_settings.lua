-- lua-cjson's settings (require "cjson" gives each request an instance of its own): every
-- setting changed, plus the instance's functions replaced.
local lk = require "lk"
local MARK = lk.marker("cjson_settings")

local shared = require "leak_cjson"

return {
  ["GET /cjson_settings/plant"] = function(req)
    local out = {}
    shared.plant(out, require "cjson", MARK)
    return lk.report(out)
  end,

  ["GET /cjson_settings/probe"] = function(req)
    local problems = {}
    shared.probe(problems, require "cjson", "cjson", MARK)
    return lk.verdict(problems)
  end,
}
