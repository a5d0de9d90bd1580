-- stdlib/mayfly/config.lua on its own, its source injected: runs under busted and mayfly test.
-- Run from the repository root: busted --lua=luajit tests/spec  /  mayfly test tests/spec
describe("mayfly.config", function()
  local source, config

  before_each(function()
    source = { values = {}, overrides = {} }
    package.loaded["mayfly._config_source"] = source
    config = assert(loadfile("stdlib/mayfly/config.lua"))("mayfly.config")
  end)

  after_each(function()
    package.loaded["mayfly._config_source"] = nil
  end)

  describe("get", function()
    it("returns the value of a key", function()
      source.values.greeting = "hello"
      assert.are.equal("hello", config.get("greeting"))
    end)

    it("returns the default for a missing key", function()
      assert.are.equal("fallback", config.get("missing", "fallback"))
      assert.is_nil(config.get("missing"))
    end)

    it("lets MAYFLY_CFG_<NAME> override, the name upper-cased with non-alphanumerics as _", function()
      source.values["feature-x"] = "file"
      source.overrides.FEATURE_X = "env"
      assert.are.equal("env", config.get("feature-x"))
    end)

    it("returns tables as fresh copies", function()
      source.values.nested = { inner = { 1, 2 } }
      local a = config.get("nested")
      a.inner[1] = 99
      assert.are.same({ inner = { 1, 2 } }, config.get("nested"))
    end)

    it("refuses a name that is not a string", function()
      assert.has_error(function() config.get(42) end, "config: name must be a string, got number")
    end)
  end)

  describe("number", function()
    it("parses numbers", function()
      source.values.limit = "42"
      assert.are.equal(42, config.number("limit"))
    end)

    it("raises naming the key on a value that is not a number", function()
      source.values.limit = "many"
      assert.error_matches(function() config.number("limit") end, "config 'limit': expected a number")
    end)
  end)

  describe("bool", function()
    for _, case in ipairs({ { "yes", true }, { "on", true }, { "1", true }, { "false", false }, { "off", false } }) do
      it("reads '" .. case[1] .. "'", function()
        source.values.flag = case[1]
        assert.are.equal(case[2], config.bool("flag"))
      end)
    end

    it("raises on anything else", function()
      source.values.flag = "maybe"
      assert.has_error(function() config.bool("flag") end)
    end)
  end)

  describe("duration", function()
    it("reads units into seconds #units", function()
      source.values.a, source.values.b, source.values.c = "250ms", "2m", "5"
      assert.are.near(0.25, config.duration("a"), 1e-9)
      assert.are.equal(120, config.duration("b"))
      assert.are.equal(5, config.duration("c"))
    end)

    it("raises on an unknown unit #units", function()
      source.values.a = "5 weeks"
      assert.error_matches(function() config.duration("a") end, "expected a duration")
    end)
  end)

  describe("all", function()
    it("returns a copy of every value", function()
      source.values.a = "1"
      local all = config.all()
      assert.are.equal("1", all.a)
      all.a = "2"
      assert.are.equal("1", config.get("a"))
    end)
  end)
end)
