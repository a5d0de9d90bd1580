-- stdlib/mayfly/cookie.lua on its own, mayfly.time replaced by a stand-in (the real one is C:
-- tests/integration/fixtures/web_toolkit checks Expires with it): runs under busted and mayfly
-- test. Run from the repository root: busted --lua=luajit tests/spec  /  mayfly test tests/spec
describe("mayfly.cookie", function()
  local cookie

  before_each(function()
    package.loaded["mayfly.time"] = { http_date = function(t) return "<date " .. t .. ">" end }
    cookie = assert(loadfile("stdlib/mayfly/cookie.lua"))("mayfly.cookie")
  end)

  after_each(function()
    package.loaded["mayfly.time"] = nil
  end)

  describe("serialize", function()
    it("writes the name and value alone without options", function()
      assert.are.equal("a=1", cookie.serialize("a", "1"))
      assert.are.equal("a=", cookie.serialize("a", ""))
      assert.are.equal("n=42", cookie.serialize("n", 42))
    end)

    it("writes every attribute in one order", function()
      assert.are.equal("id=x; Path=/; Domain=example.com; Max-Age=60; Expires=<date 100>; " ..
        "HttpOnly; SameSite=None; Secure; Partitioned",
        cookie.serialize("id", "x", { partitioned = true, secure = true, same_site = "None",
          http_only = true, expires = 100, max_age = 60, domain = "example.com", path = "/" }))
    end)

    it("writes what mayfly.session wrote before it used this module", function()
      assert.are.equal("mayfly_session=ab; Path=/; Max-Age=1800; HttpOnly; SameSite=Lax; Secure",
        cookie.serialize("mayfly_session", "ab", { path = "/", max_age = 1800, http_only = true,
          same_site = "Lax", secure = true }))
    end)

    it("takes SameSite in any case and leaves it out when false", function()
      assert.are.equal("a=1; SameSite=Strict", cookie.serialize("a", "1", { same_site = "strict" }))
      assert.are.equal("a=1", cookie.serialize("a", "1", { same_site = false, secure = false }))
    end)

    it("accepts every cookie-octet", function()
      local octets = {}
      for b = 0x21, 0x7e do
        local c = string.char(b)
        if not c:find('[",;\\]') then octets[#octets + 1] = c end
      end
      local v = table.concat(octets)
      assert.are.equal("a=" .. v, cookie.serialize("a", v))
    end)

    it("refuses a value outside cookie-octets instead of encoding it", function()
      for _, v in ipairs({ "a b", 'a"b', "a,b", "a;b", "a\\b", "caf\195\169", "a\0b", "a\127" }) do
        assert.error_matches(function() cookie.serialize("a", v) end,
          "cookie.serialize: the value of 'a' has a byte outside RFC 6265's cookie%-octets")
      end
    end)

    it("refuses a name that is not a token", function()
      for _, n in ipairs({ "", "a b", "a=b", "a;b", "a(b)", "\195\169" }) do
        assert.error_matches(function() cookie.serialize(n, "v") end, "name must be an HTTP token")
      end
      assert.error_matches(function() cookie.serialize(nil, "v") end, "name must be an HTTP token")
    end)

    it("refuses what browsers would drop", function()
      assert.error_matches(function() cookie.serialize("a", "b", { same_site = "None" }) end,
        'same_site "None" requires secure')
      assert.error_matches(function() cookie.serialize("a", "b", { partitioned = true }) end,
        "partitioned requires secure")
      assert.error_matches(function() cookie.serialize("__Secure-a", "b") end, "requires secure")
      assert.error_matches(function() cookie.serialize("__host-a", "b", { secure = true }) end,
        'requires path "/" and no domain')
      assert.error_matches(function()
        cookie.serialize("__Host-a", "b", { secure = true, path = "/", domain = "x.com" })
      end, 'requires path "/" and no domain')
      assert.are.equal("__Host-a=b; Path=/; Secure",
        cookie.serialize("__Host-a", "b", { secure = true, path = "/" }))
    end)

    it("refuses bad options, naming them", function()
      local cases = {
        { { httponly = true }, "unknown option 'httponly'" },
        { { same_site = "sometimes" }, 'same_site must be "Strict", "Lax" or "None"' },
        { { max_age = -1 }, "max_age must be a whole number" },
        { { max_age = 1.5 }, "max_age must be a whole number" },
        { { max_age = "60" }, "max_age must be a whole number" },
        { { expires = "tomorrow" }, "expires must be a Unix time" },
        { { path = "/a;b" }, "path must be a non%-empty string without control bytes or ';'" },
        { { path = "" }, "path must be" },
        { { domain = "a\nb" }, "domain must be" },
      }
      for _, case in ipairs(cases) do
        assert.error_matches(function() cookie.serialize("a", "b", case[1]) end, case[2])
      end
      assert.error_matches(function() cookie.serialize("a", "b", "secure") end, "opts must be a table")
    end)
  end)

  describe("parse", function()
    it("reads the pairs as req.cookies does", function()
      assert.are.same({ a = "1", b = "two", sp = "v", e = "" },
        cookie.parse('a=1; b="two"; a=3; bad name=x; q=x"y;  sp = v ;noeq; e='))
    end)

    it("keeps percent-escapes and commas as they are", function()
      assert.are.same({ a = "x%20y", b = "1,2" }, cookie.parse("a=x%20y;b=1,2"))
    end)

    it("reads nothing from nil or an empty header", function()
      assert.are.same({}, cookie.parse(nil))
      assert.are.same({}, cookie.parse(""))
    end)

    it("skips values with control bytes", function()
      assert.are.same({ b = "2" }, cookie.parse("a=1\0; b=2; c=\127"))
    end)
  end)
end)
