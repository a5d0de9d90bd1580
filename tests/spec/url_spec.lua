-- stdlib/mayfly/url.lua on its own: runs under busted and mayfly test.
-- Run from the repository root: busted --lua=luajit tests/spec  /  mayfly test tests/spec
describe("mayfly.url", function()
  local url

  before_each(function()
    url = assert(loadfile("stdlib/mayfly/url.lua"))("mayfly.url")
  end)

  local function every_byte()
    local t = {}
    for b = 0, 255 do t[#t + 1] = string.char(b) end
    return table.concat(t)
  end

  describe("escape", function()
    it("keeps RFC 3986's unreserved characters and escapes every other byte", function()
      assert.are.equal("AZaz09-._~", url.escape("AZaz09-._~"))
      assert.are.equal("a%20b%2Bc%2F%3F%26%3D%25", url.escape("a b+c/?&=%"))
      assert.are.equal("%00%FF%C3%A9", url.escape("\0\255\195\169"))
    end)

    it("writes numbers as text", function()
      assert.are.equal("42", url.escape(42))
      assert.are.equal("-1.5", url.escape(-1.5))
    end)

    it("refuses other values", function()
      assert.error_matches(function() url.escape({}) end, "url.escape: the value must be a string")
      assert.error_matches(function() url.escape(nil) end, "url.escape")
    end)
  end)

  describe("unescape", function()
    it("decodes %XX, either case", function()
      assert.are.equal("a b/c\0", url.unescape("a%20b%2fc%00"))
    end)

    it("leaves '+' alone: it is a space in forms only", function()
      assert.are.equal("a+b", url.unescape("a+b"))
    end)

    it("keeps an invalid escape as it is", function()
      assert.are.equal("%zz%4%", url.unescape("%zz%4%"))
    end)

    it("undoes escape for every byte", function()
      local all = every_byte()
      assert.are.equal(all, url.unescape(url.escape(all)))
    end)
  end)

  describe("parse_query", function()
    it("follows req.query's rules", function()
      assert.are.same({ a = { "1", "2" }, b = "x y+z", flag = true, c = "%zz", e = "" },
        url.parse_query("a=1&b=x+y%2Bz&a=2&flag&=empty&c=%zz&e="))
    end)

    it("splits at the first '=' and decodes keys too", function()
      assert.are.same({ ["a b"] = "c=d" }, url.parse_query("a+b=c=d"))
    end)

    it("collects a key given without and with a value", function()
      assert.are.same({ a = { true, "1" } }, url.parse_query("a&a=1"))
    end)

    it("reads an empty string and empty pairs as nothing", function()
      assert.are.same({}, url.parse_query(""))
      assert.are.same({ a = "1" }, url.parse_query("&&a=1&&"))
    end)

    it("refuses what is not a string", function()
      assert.error_matches(function() url.parse_query(nil) end, "url.parse_query: expected a string")
    end)
  end)

  describe("encode_query", function()
    it("sorts the keys, repeats a key for an array, writes true as the key alone", function()
      assert.are.equal("all&n=42&q=x%20y%26z&tag=a&tag=b%2Fc",
        url.encode_query({ tag = { "a", "b/c" }, q = "x y&z", all = true, n = 42 }))
    end)

    it("leaves out false and empty arrays", function()
      assert.are.equal("b=1", url.encode_query({ a = false, b = 1, c = {} }))
      assert.are.equal("", url.encode_query({}))
    end)

    it("is read back by parse_query", function()
      local t = { q = "x y&z=1", tag = { "a", "b/c", "" }, all = true, bytes = every_byte() }
      assert.are.same(t, url.parse_query(url.encode_query(t)))
    end)

    it("refuses keys that are not strings and nested tables", function()
      assert.error_matches(function() url.encode_query({ "a" }) end, "keys must be strings")
      assert.error_matches(function() url.encode_query({ a = { {} } }) end, "nests a table")
      assert.error_matches(function() url.encode_query({ a = print }) end,
        "a value must be a string or a number, got function")
      assert.error_matches(function() url.encode_query("a=1") end, "expected a table")
    end)
  end)
end)
