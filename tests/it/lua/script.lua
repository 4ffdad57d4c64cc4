-- Exercises the paths of Lua that go through function-pointer tables: library tables
-- (luaL_Reg), metamethods, comparators, gsub callbacks, coroutines, errors (longjmp).
local out = {}
local function say(...) local t = table.pack(...) for i = 1, t.n do t[i] = tostring(t[i]) end print(table.concat(t, " ")) end

-- arithmetic, integers and floats
local acc = 0
for i = 1, 100000 do acc = (acc * 31 + i) % 1000000007 end
say("int", acc, 7 // 2, 7 % -3, 2^10, math.floor(-3.5), math.maxinteger + 1 == math.mininteger)
say("float", string.format("%.10f %.6e %g", math.sin(1.25), math.exp(3.5), math.sqrt(2)))

-- strings and patterns with callbacks
local s = ("the quick brown fox jumps over the lazy dog "):rep(3)
say("gsub", (s:gsub("%w+", function(w) return w:upper():sub(1, 2) end)))
say("find", s:find("fox"), s:match("(%a+) dog"), #s, s:byte(5), ("%5.2f|%-5s|%x"):format(3.14159, "ab", 255))

-- tables, sort with a Lua comparator (called from C through lua_call)
local t = {}
for i = 1, 2000 do t[i] = (i * 7919) % 2003 end
table.sort(t, function(a, b) return a > b end)
say("sort", t[1], t[2], t[1000], t[2000], #t, table.concat(t, ",", 1, 5))

-- metatables
local V = {}
V.__index = V
V.__add = function(a, b) return setmetatable({x = a.x + b.x, y = a.y + b.y}, V) end
V.__tostring = function(v) return "(" .. v.x .. "," .. v.y .. ")" end
V.__eq = function(a, b) return a.x == b.x and a.y == b.y end
local function vec(x, y) return setmetatable({x = x, y = y}, V) end
local sum = vec(0, 0)
for i = 1, 100 do sum = sum + vec(i, -i) end
say("meta", tostring(sum), sum == vec(5050, -5050), rawequal(sum, vec(5050, -5050)))

-- closures and upvalues
local function counter() local n = 0 return function() n = n + 1 return n end end
local c1, c2 = counter(), counter()
c1(); c1()
say("closure", c1(), c2())

-- coroutines
local gen = coroutine.wrap(function() for i = 1, 5 do coroutine.yield(i * i) end return "done" end)
local squares = {}
for _ = 1, 6 do squares[#squares + 1] = tostring(gen()) end
say("coroutine", table.concat(squares, " "))

-- errors unwinding through C (longjmp) and pcall
local ok, err = pcall(function() error({code = 42}) end)
say("pcall", ok, type(err), err.code)
ok, err = pcall(function() local x = nil; return x.field end)
say("error", ok, (tostring(err):gsub("^.-:%d+: ", "")))
say("xpcall", xpcall(function() error("boom") end, function(m) return "handled " .. m:gsub("^.-:%d+: ", "") end))

-- garbage collector with finalizers
local finalized = 0
for i = 1, 1000 do setmetatable({}, {__gc = function() finalized = finalized + 1 end}) end
collectgarbage(); collectgarbage()
say("gc", finalized)

-- string.pack, utf8, load
say("pack", string.unpack("<i4", string.pack("<i4", -123456)), utf8.len("héllo wörld"), utf8.char(72, 228, 8364))
say("load", load("return 6 * 7")())
say("end")
