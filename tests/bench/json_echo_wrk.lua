-- wrk -s for the JSON echo route (tests/bench/run.sh: mayfly-json, nginx-lua-json): every request
-- is a POST of json_echo_body.json, read from beside this script, as application/json.
--   wrk -s tests/bench/json_echo_wrk.lua http://127.0.0.1:PORT/echo
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local f = assert(io.open(dir .. "json_echo_body.json", "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
