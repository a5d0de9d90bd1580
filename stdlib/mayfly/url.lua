-- url: percent-encoding (RFC 3986) and query strings.
--   url.escape("a b/c")            --> "a%20b%2Fc"   (only A-Z a-z 0-9 - . _ ~ are kept)
--   url.unescape("a%20b+c")        --> "a b+c"       ('+' stays '+': it is a space in forms only)
--   url.encode_query({ q = "x y", tag = { "a", "b" }, all = true })
--                                  --> "all&q=x%20y&tag=a&tag=b"
--   url.parse_query("q=x+y&tag=a&tag=b&all")
--                                  --> { q = "x y", tag = { "a", "b" }, all = true }
-- parse_query follows req.query's rules (and req:form()'s): '+' and %20 are spaces, a repeated
-- key gives an array of its values in order, a key without '=' is true, an empty key is
-- dropped, an invalid escape is kept as it is. encode_query writes what parse_query reads back:
-- keys sorted (the same table always gives the same string), an array value repeats its key,
-- true gives the key alone, false (or an empty array) leaves the key out.
local type, pairs, error, tostring, tonumber = type, pairs, error, tostring, tonumber
local string_char, string_format, string_gsub, string_find, string_sub =
  string.char, string.format, string.gsub, string.find, string.sub
local table_concat, table_sort = table.concat, table.sort
local math_floor, math_huge = math.floor, math.huge

local _M = { _VERSION = "0.1" }

-- Every byte but the unreserved ones, as %XX (upper-case hex, as RFC 3986 recommends).
local escapes = {}
for b = 0, 255 do escapes[string_char(b)] = string_format("%%%02X", b) end

-- A value as text; level is where a bad one is blamed (error's level, counted from here).
local function as_text(v, fn, what, level)
  local t = type(v)
  if t == "string" then return v end
  if t == "number" then
    if v == math_floor(v) and v > -2^53 and v < 2^53 then return string_format("%d", v) end
    if v ~= v or v == math_huge or v == -math_huge then
      error("url." .. fn .. ": " .. what .. " is not a finite number", level)
    end
    return tostring(v)
  end
  error("url." .. fn .. ": " .. what .. " must be a string or a number, got " .. t, level)
end

local function escape(s)
  return (string_gsub(s, "[^A-Za-z0-9%-%._~]", escapes))
end

function _M.escape(s)
  return escape(as_text(s, "escape", "the value", 3))
end

local function hex_byte(h)
  return string_char(tonumber(h, 16))
end

local function unescape(s)
  if not string_find(s, "%", 1, true) then return s end
  return (string_gsub(s, "%%(%x%x)", hex_byte))
end

function _M.unescape(s)
  if type(s) ~= "string" then error("url.unescape: expected a string, got " .. type(s), 2) end
  return unescape(s)
end

local function form_decode(s)
  if string_find(s, "+", 1, true) then s = string_gsub(s, "%+", " ") end
  return unescape(s)
end

function _M.parse_query(s)
  if type(s) ~= "string" then error("url.parse_query: expected a string, got " .. type(s), 2) end
  local t, pos, len = {}, 1, #s
  while pos <= len do
    local amp = string_find(s, "&", pos, true) or len + 1
    local eq = string_find(s, "=", pos, true)
    if eq and eq > amp then eq = nil end
    local k = string_sub(s, pos, (eq or amp) - 1)
    if k ~= "" then
      k = form_decode(k)
      local v = true
      if eq then v = form_decode(string_sub(s, eq + 1, amp - 1)) end
      local prev = t[k]
      if prev == nil then
        t[k] = v
      elseif type(prev) == "table" then
        prev[#prev + 1] = v
      else
        t[k] = { prev, v }
      end
    end
    pos = amp + 1
  end
  return t
end

function _M.encode_query(t)
  if type(t) ~= "table" then error("url.encode_query: expected a table, got " .. type(t), 2) end
  local keys = {}
  for k in pairs(t) do
    if type(k) ~= "string" then
      error("url.encode_query: keys must be strings, got " .. type(k), 2)
    end
    keys[#keys + 1] = k
  end
  table_sort(keys)
  local out = {}
  local function add(ek, v)
    if v == true then
      out[#out + 1] = ek
    elseif v ~= false then
      out[#out + 1] = ek .. "=" .. escape(as_text(v, "encode_query", "a value", 4))
    end
  end
  for i = 1, #keys do
    local k = keys[i]
    local v, ek = t[k], escape(k)
    if type(v) == "table" then
      for j = 1, #v do
        if type(v[j]) == "table" then
          error("url.encode_query: the value of '" .. k .. "' nests a table", 2)
        end
        add(ek, v[j])
      end
    else
      add(ek, v)
    end
  end
  return table_concat(out, "&")
end

return _M
