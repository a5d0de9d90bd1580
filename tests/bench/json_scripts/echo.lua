-- The JSON echo route of tests/bench/run.sh (mayfly-json) and json_instructions.sh: the request's
-- JSON body decoded and answered re-encoded, as nginx_json.conf.in does with lua-cjson.
return {
  ["POST /echo"] = function(req) return { json = req:json() } end,
}
