-- The gateway's routes through the real router and sandbox. The catalog it calls is a second
-- mayfly, started for these tests on a free port from ../catalog by the same binary that runs
-- them; the failure cases point the gateway at ports where nothing listens.
local testing = require "mayfly.testing"

local here = debug.getinfo(1, "S").source:match("^@(.*)/spec/[^/]*$") or "."
local catalog = {}

local function sh(cmd)
  local f = assert(io.popen(cmd))
  local out = f:read("*a")
  f:close()
  return out
end

local function get(path, headers)
  return testing.request("GET", path, { headers = headers })
end

describe("gateway", function()
  setup(function()
    local bin = sh("readlink /proc/$PPID/exe"):gsub("%s+$", "")   -- the mayfly running this
    catalog.log = os.tmpname()
    catalog.pid = sh(("MAYFLY_LISTEN=127.0.0.1:0 MAYFLY_SCRIPTS=%q MAYFLY_WORKERS=1 "
      .. "MAYFLY_DRAIN_DELAY=0 MAYFLY_LOG_FORMAT=json %q serve >%q 2>&1 & echo $!")
      :format(here .. "/catalog", bin, catalog.log)):match("%d+")
    for _ = 1, 200 do
      local f = io.open(catalog.log)
      catalog.port = f and f:read("*a"):match('"msg":"listening".-"port":(%d+),')
      if f then f:close() end
      if catalog.port then break end
      sh("sleep 0.05")
    end
    assert(catalog.port, "the catalog did not start: " .. sh("cat " .. catalog.log))
  end)

  teardown(function()
    if catalog.pid then os.execute("kill " .. catalog.pid) end
    os.remove(catalog.log)
  end)

  describe("with the catalog up", function()
    before_each(function()
      testing.config { catalog_url = "http://127.0.0.1:" .. catalog.port }
    end)

    it("answers an item from the catalog", function()
      local res = get("/api/items/1")
      assert.are.equal(200, res.status)
      assert.are.equal("lamp", res.json.item.name)
      assert.are.equal("gateway", res.json.served_by)
    end)

    it("passes the request id on to the catalog", function()
      local res = get("/api/items/2", { ["X-Request-Id"] = "trace-me" })
      assert.are.equal("trace-me", res.json.item.request_id)
    end)

    it("passes a 404 on", function()
      local res = get("/api/items/9")
      assert.are.equal(404, res.status)
      assert.are.same({ error = "no such item" }, res.json)
    end)

    it("refuses an id that could shape the catalog's path", function()
      assert.are.equal(400, get("/api/items/..%2Forders").status)
    end)

    it("places an order through the catalog", function()
      local res = testing.request("POST", "/api/orders", { json = { item = 1 } })
      assert.are.equal(201, res.status)
      assert.are.equal(1, res.json.item)
      res = testing.request("POST", "/api/orders", { json = { item = 99 } })
      assert.are.equal(422, res.status)
    end)
  end)

  describe("with the catalog down", function()
    it("answers 503 naming the failure", function()
      testing.config { catalog_url = "http://127.0.0.1:1" }
      local res = get("/api/items/1")
      assert.are.equal(503, res.status)
      assert.are.same({ error = "catalog unavailable", kind = "connect" }, res.json)
    end)

    it("stops trying once the catalog's breaker is open", function()
      testing.config { catalog_url = "http://127.0.0.1:2" }
      local kinds = {}
      for i = 1, 3 do kinds[i] = get("/api/items/1").json.kind end
      -- a GET is tried 3 times per call: the 5th failure in a row opens the breaker
      assert.are.same({ "connect", "connect", "circuit_open" }, kinds)
    end)
  end)
end)
