-- Call-heavy Lua: recursion, sorting with a Lua comparator, string formatting and matching.
local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
local t, seed = {}, 42
for i = 1, 100000 do
  seed = (seed * 1103515245 + 12345) % 2147483648
  t[i] = seed
end
table.sort(t, function(a, b) return a > b end)
local parts = {}
for i = 1, 40000 do parts[#parts + 1] = string.format("%d:%s", i, tostring(i * 3)) end
local s = table.concat(parts, ",")
local count = 0
for _ in s:gmatch("%d+") do count = count + 1 end
local words = {}
for i = 1, 20000 do words[i] = ("w" .. i):rep(3):upper():lower() end
RESULT = string.format("%d %d %d %d %s", fib(25), t[1], count, #words, words[777])
