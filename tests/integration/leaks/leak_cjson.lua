-- A module (no route keys): the plant and probe shared by cjson_settings and
-- cjson_safe_settings.
local lk = require "lk"

local M = {}

function M.plant(out, cjson, mark)
  lk.try(out, "encode_number_precision(3)", cjson.encode_number_precision, 3)
  lk.try(out, "encode_sparse_array(true, 1, 1)", cjson.encode_sparse_array, true, 1, 1)
  lk.try(out, "decode_max_depth(2)", cjson.decode_max_depth, 2)
  lk.try(out, "encode_max_depth(2)", cjson.encode_max_depth, 2)
  lk.try(out, "encode_keep_buffer(false)", cjson.encode_keep_buffer, false)
  lk.try(out, "encode_invalid_numbers(true)", cjson.encode_invalid_numbers, true)
  lk.try(out, "decode_invalid_numbers(false)", cjson.decode_invalid_numbers, false)
  lk.try(out, "encode replaced", function() cjson.encode = lk.evil(mark) end)
  lk.try(out, "null replaced", function() cjson.null = mark end)
  lk.try(out, "new key", function() cjson[mark] = mark end)
  lk.try(out, "new().encode_number_precision(2)", function() cjson.new().encode_number_precision(2) end)
end

function M.probe(problems, cjson, name, mark)
  local function bad(what) problems[#problems + 1] = name .. " " .. what end
  lk.check_table(problems, name, cjson, mark)
  local function is(fn, want)
    local ok, v = pcall(cjson[fn])
    if not ok or v ~= want then bad(fn .. "() is " .. tostring(v)) end
  end
  is("encode_number_precision", 14)
  is("decode_max_depth", 1000)
  is("encode_max_depth", 1000)
  is("encode_keep_buffer", true)
  is("encode_invalid_numbers", false)
  is("decode_invalid_numbers", true)
  local ok, convert, ratio, safe = pcall(cjson.encode_sparse_array)
  if not ok or convert ~= false or ratio ~= 2 or safe ~= 10 then
    bad("encode_sparse_array() is " .. tostring(convert) .. ", " .. tostring(ratio) .. ", " .. tostring(safe))
  end
  ok, convert = pcall(cjson.encode, 1 / 3)
  if not ok or convert ~= "0.33333333333333" then bad("encode(1/3) is " .. tostring(convert)) end
  local s
  ok, s = pcall(cjson.encode, { [1] = 1, [20] = 2 })
  if ok and s ~= nil then bad("encodes a sparse array: " .. tostring(s)) end
  ok, s = pcall(cjson.decode, "[[[[[1]]]]]")
  if not ok or type(s) ~= "table" then bad("cannot decode 5 levels: " .. tostring(s)) end
  if cjson.null ~= mayfly.json.null then bad("null is " .. tostring(cjson.null)) end
end

return M
