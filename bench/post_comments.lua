-- wrk script: POST the comments of `texts_file` (one JSON string per line: our corpus's comments,
-- shuffled, written by bench/run.py), each from a new author so flood checks stay quiet. No line
-- is posted twice: thread k posts the file's texts at positions k, k + 16, k + 32, ...
-- (up to 16 wrk threads never share one), and past the end of the file a text gets the number of
-- the round appended.
local STRIDE = 16
local texts = {}
local counter = 0
local thread_id = 0
local next_thread = 0

function setup(thread)
  thread:set("tid", next_thread)
  next_thread = next_thread + 1
end

function init(args)
  thread_id = tid
  for line in io.lines(texts_file) do
    texts[#texts + 1] = line
  end
end

request = function()
  local n = #texts
  local position = counter * STRIDE + thread_id
  counter = counter + 1
  local index = position % n
  local round = math.floor(position / n)
  local text = texts[index + 1]
  if round > 0 then
    text = string.sub(text, 1, -2) .. " (" .. round .. ")\""
  end
  local body = string.format(
    '{"name":"Reader %d","email":"r%d.%d@example.org","text":%s,"ip":"198.51.%d.%d"}',
    counter, thread_id, counter, text, thread_id % 250, counter % 250)
  return wrk.format("POST", "/v1/comments", wrk.headers, body)
end
