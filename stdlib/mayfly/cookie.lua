-- cookie: Set-Cookie values (RFC 6265) and the pairs of a Cookie header.
--   headers["set-cookie"] = cookie.serialize("theme", "dark", { max_age = 86400, path = "/",
--                                            secure = true, http_only = true, same_site = "Lax" })
--   --> "theme=dark; Path=/; Max-Age=86400; HttpOnly; SameSite=Lax; Secure"
--   cookie.parse("a=1; b=2")  --> { a = "1", b = "2" }   (req.cookies is this for the request)
-- serialize refuses (raises) what a browser would drop or misread instead of encoding it: a name
-- that is not an HTTP token, a value outside RFC 6265's cookie-octets (no space, '"', ',', ';',
-- '\' or byte outside printable ASCII: encode such data first, e.g. with
-- mayfly.crypto.base64url or mayfly.url.escape), SameSite=None or Partitioned without Secure,
-- a __Secure- name without Secure, a __Host- name without Secure and Path=/ or with a Domain.
-- Attributes come in one order: Path, Domain, Max-Age, Expires, HttpOnly, SameSite, Secure,
-- Partitioned.
local type, pairs, error, tostring, require = type, pairs, error, tostring, require
local string_find, string_format, string_lower, string_sub, string_match =
  string.find, string.format, string.lower, string.sub, string.match
local table_concat = table.concat
local math_floor = math.floor
-- mayfly.time's, required when an expiry is first written: the session, which writes none,
-- does not depend on it.
local http_date

local _M = { _VERSION = "0.1" }

local TOKEN = "^[%w!#$%%&'*+%-.^_`|~]+$"
-- cookie-octet: %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E
-- (']' escaped: unescaped, it would end the class)
local NOT_COOKIE_OCTET = "[^\33\35-\43\45-\58\60-\91%]\94-\126]"
-- An attribute value (Path, Domain): any character but a control byte or ';'.
local NOT_AV_OCTET = "[%z\1-\31\127;]"

local SAME_SITE = { strict = "Strict", lax = "Lax", none = "None" }

local OPTIONS = {
  max_age = true, expires = true, path = true, domain = true, secure = true, http_only = true,
  same_site = true, partitioned = true,
}

-- Raises blaming serialize's caller (level 3 from here, one more from a helper of serialize).
local function fail(msg, level)
  error("cookie.serialize: " .. msg, level or 3)
end

local function attribute(opts, name)
  local v = opts[name]
  if v == nil then return nil end
  if type(v) ~= "string" or v == "" or string_find(v, NOT_AV_OCTET) then
    fail(name .. " must be a non-empty string without control bytes or ';'", 4)
  end
  return v
end

function _M.serialize(name, value, opts)
  if type(name) ~= "string" or not string_find(name, TOKEN) then
    fail("the name must be an HTTP token (letters, digits and !#$%&'*+-.^_`|~)")
  end
  if type(value) == "number" and value == math_floor(value) and value > -2^53 and value < 2^53 then
    value = string_format("%d", value)
  end
  if type(value) ~= "string" then
    fail("the value must be a string, got " .. type(value))
  end
  if string_find(value, NOT_COOKIE_OCTET) then
    fail("the value of '" .. name .. "' has a byte outside RFC 6265's cookie-octets (a space, " ..
      "'\"', ',', ';', '\\' or a byte outside printable ASCII): encode it first, e.g. with " ..
      "mayfly.crypto.base64url")
  end
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then fail("opts must be a table") end
  for k in pairs(opts) do
    if not OPTIONS[k] then fail("unknown option '" .. tostring(k) .. "'") end
  end

  local parts = { name .. "=" .. value }
  local path, domain = attribute(opts, "path"), attribute(opts, "domain")
  if path then parts[#parts + 1] = "Path=" .. path end
  if domain then parts[#parts + 1] = "Domain=" .. domain end
  local max_age = opts.max_age
  if max_age ~= nil then
    if type(max_age) ~= "number" or max_age ~= math_floor(max_age) or max_age < 0 or
        max_age >= 2^53 then
      fail("max_age must be a whole number of seconds >= 0")
    end
    parts[#parts + 1] = string_format("Max-Age=%d", max_age)
  end
  if opts.expires ~= nil then
    local e = opts.expires
    if type(e) ~= "number" or not (e >= -62135596800 and e < 253402300800) then
      fail("expires must be a Unix time (a number) in the years 1 to 9999")
    end
    if not http_date then http_date = require("mayfly.time").http_date end
    parts[#parts + 1] = "Expires=" .. http_date(e)
  end
  if opts.http_only then parts[#parts + 1] = "HttpOnly" end
  local secure = opts.secure and true or false
  if opts.same_site ~= nil and opts.same_site ~= false then
    local s = type(opts.same_site) == "string" and SAME_SITE[string_lower(opts.same_site)]
    if not s then fail("same_site must be \"Strict\", \"Lax\" or \"None\"") end
    if s == "None" and not secure then
      fail("same_site \"None\" requires secure (browsers drop such a cookie)")
    end
    parts[#parts + 1] = "SameSite=" .. s
  end
  if secure then parts[#parts + 1] = "Secure" end
  if opts.partitioned then
    if not secure then fail("partitioned requires secure") end
    parts[#parts + 1] = "Partitioned"
  end
  -- The prefixes browsers enforce (RFC 6265bis, 4.1.3), matched as they match them.
  local lower = string_lower(string_sub(name, 1, 9))
  local host = string_sub(lower, 1, 7) == "__host-"
  if (host or lower == "__secure-") and not secure then
    fail("a cookie named __Secure-... or __Host-... requires secure")
  end
  if host and (path ~= "/" or domain) then
    fail("a cookie named __Host-... requires path \"/\" and no domain")
  end
  return table_concat(parts, "; ")
end

-- The same rules as req.cookies (host/http/cookie.c): pairs split at ';', spaces and tabs
-- around them dropped, the value's enclosing double quotes removed; a pair without '=', with a
-- name that is not a token or a value holding a control byte, DEL or '"' is skipped; the first
-- of a repeated name wins; no percent-decoding.
function _M.parse(header)
  local t = {}
  if header == nil then return t end
  if type(header) ~= "string" then
    error("cookie.parse: expected a string, got " .. type(header), 2)
  end
  local pos, len = 1, #header
  while pos <= len do
    local semi = string_find(header, ";", pos, true) or len + 1
    local pair = string_sub(header, pos, semi - 1)
    pos = semi + 1
    local name, value = string_match(pair, "^[ \t]*([^=]-)[ \t]*=[ \t]*(.-)[ \t]*$")
    if name then
      if #value >= 2 and string_sub(value, 1, 1) == '"' and string_sub(value, -1) == '"' then
        value = string_sub(value, 2, -2)
      end
      if string_find(name, TOKEN) and not string_find(value, '[%z\1-\31\127"]') and
          t[name] == nil then
        t[name] = value
      end
    end
  end
  return t
end

return _M
