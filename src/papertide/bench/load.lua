-- wrk script of `papertide bench load` (src/papertide/bench/load.py writes the data file).
-- Arguments: the data file (a Lua chunk returning ids, words, voters) and the mix:
--   healthz    GET /healthz only (the baseline)
--   anonymous  /, /trending, /search?q=<1-3 random words>, /papers/{id}, /api/search?q=...,
--              one in five each; a thread keeps the pt_csrf cookie it is given, as a
--              browser does (so its pages can come from the server's cache), and every
--              request asks for gzip as a browser's does
--   voters     signed-in readers: upvote or withdraw on a recent paper (half the requests,
--              JSON API with the session's CSRF token), else /, /trending or /papers/{id}
--   overload   the anonymous mix, counting answers: refused (503 with Retry-After),
--              accepted (any other status below 500) and others
-- done() prints one line starting with PTLOAD: JSON the bench reads.

local data, mix
-- What a browser asks for: pages and API answers come gzipped, as they would to a reader.
GZIP = "gzip, deflate, br, zstd"
local cookie = nil
local threads = {}
shed, accepted, other = 0, 0, 0

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  data = dofile(args[1])
  mix = args[2]
  math.randomseed(os.time() + tonumber(args[3] or "0") + math.floor(os.clock() * 1e6))
end

local function pick(list)
  return list[math.random(#list)]
end

local function words()
  local out = {}
  for i = 1, math.random(1, 3) do
    out[i] = pick(data.words)
  end
  return table.concat(out, "+")
end

local function anonymous()
  local kind = math.random(5)
  local path
  if kind == 1 then
    path = "/"
  elseif kind == 2 then
    path = "/trending"
  elseif kind == 3 then
    path = "/search?q=" .. words()
  elseif kind == 4 then
    path = "/papers/" .. pick(data.ids)
  else
    path = "/api/search?q=" .. words()
  end
  local headers = { ["Accept-Encoding"] = GZIP }
  if cookie then
    headers["Cookie"] = cookie
  end
  return wrk.format("GET", path, headers)
end

local function voter()
  local who = pick(data.voters)
  local headers = { ["Cookie"] = who.cookie, ["Accept-Encoding"] = GZIP }
  local kind = math.random(6)
  if kind <= 3 then
    headers["X-CSRF-Token"] = who.csrf
    headers["Accept"] = "application/json"
    local method = kind == 3 and "DELETE" or "POST"
    return wrk.format(method, "/api/papers/" .. pick(data.vote_ids) .. "/vote", headers)
  elseif kind == 4 then
    return wrk.format("GET", "/", headers)
  elseif kind == 5 then
    return wrk.format("GET", "/trending", headers)
  end
  return wrk.format("GET", "/papers/" .. pick(data.vote_ids), headers)
end

function request()
  if mix == "healthz" then
    return wrk.format("GET", "/healthz")
  elseif mix == "overload" then
    return anonymous()
  elseif mix == "voters" then
    return voter()
  end
  return anonymous()
end

function response(status, headers, body)
  if status == 503 and (headers["Retry-After"] or headers["retry-after"]) then
    shed = shed + 1
  elseif status < 500 then
    accepted = accepted + 1
  else
    other = other + 1
  end
  if (mix == "anonymous" or mix == "overload") and cookie == nil then
    local set = headers["Set-Cookie"] or headers["set-cookie"]
    if set then
      cookie = set:match("(pt_csrf=[^;]+)")
    end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local refused, kept, others = 0, 0, 0
  for _, thread in ipairs(threads) do
    refused = refused + thread:get("shed")
    kept = kept + thread:get("accepted")
    others = others + thread:get("other")
  end
  -- wrk keeps one latency distribution for every answer. Refusals are the fastest answers
  -- (answered before any work), so the accepted requests' p-th percentile is the whole
  -- distribution's at (1 - a) + a * p, a the accepted share: an estimate that errs high
  -- (an accepted cache hit as fast as a refusal moves it up, never down).
  local share = kept / math.max(1, refused + kept + others)
  local function accepted_at(p)
    return latency:percentile(math.min(100, (1 - share) * 100 + share * p))
  end
  io.write(string.format(
    'PTLOAD {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, '
      .. '"status": %d, "timeout": %d, "p50": %d, "p95": %d, "p99": %d, "max": %d, '
      .. '"shed": %d, "accepted": %d, "other": %d, "p50_accepted": %d, "p99_accepted": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    refused, kept, others, accepted_at(50), accepted_at(99)
  ))
end
