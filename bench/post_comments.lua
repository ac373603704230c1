-- wrk script: POST a realistic mix of comments, each from a new author so flood checks stay quiet.
local texts = {
  "Clear piece on the frigate delays, thanks. The budget table was especially useful.",
  "I think the minister is wrong here, but the article explains both sides fairly.",
  "Source? The figure of 12 civilians killed in the strike differs from the UN report.",
  "Great analysis of the chip export rules. Would love a follow-up on the Dutch angle.",
  "As a veteran I can say the procurement process has been broken for decades.",
  "The drone footage shows the launcher was hit, not the depot as claimed.",
  "Typo in the third paragraph: it's the F-35A, not the B.",
  "CONGRATULATIONS you won a $1000 gift card, claim now at http://gift-claim.example/win",
  "Earn $500 a day from home, message me on whatsapp +44 7700 900123",
  "You are a pathetic idiot and everyone here knows it.",
}
local counter = 0
local thread_id = 0
local next_thread = 0

function setup(thread)
  thread:set("tid", next_thread)
  next_thread = next_thread + 1
end

function init(args)
  thread_id = tid
end

request = function()
  counter = counter + 1
  local text = texts[(counter % #texts) + 1]
  local body = string.format(
    '{"name":"Reader %d","email":"r%d.%d@example.org","text":"%s (%d)","ip":"198.51.%d.%d"}',
    counter, thread_id, counter, text, counter, thread_id % 250, counter % 250)
  return wrk.format("POST", "/v1/comments", wrk.headers, body)
end
