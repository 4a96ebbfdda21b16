// The official openai npm client against `anemll serve` (tests/serve_test.sh installs it):
// node tests/serve_openai.mjs PORT, with WANT = what `anemll chat --prompt "What is a kluge?"` prints.
import OpenAI from "openai";

const port = process.argv[2];
const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: "unused", maxRetries: 0, timeout: 60000 });
const want = process.env.WANT;
const ok = (name) => console.log(`PASS ${name}`);
const bad = (name, why) => console.log(`FAIL ${name}: ${why}`);
const check = (name, cond, why) => (cond ? ok(name) : bad(name, why));
const messages = [{ role: "user", content: "What is a kluge?" }];

async function step(name, fn) {
  try {
    await fn();
  } catch (e) {
    bad(name, `${e.constructor.name}: ${e.message}`);
  }
}

await step("openai_chat", async () => {
  const r = await client.chat.completions.create({ model: "anemll-tiny", messages, temperature: 0 });
  const c = r.choices[0];
  check("openai_chat_equals_anemll_chat", c.message.content === want, `${JSON.stringify(c.message.content)} vs ${JSON.stringify(want)}`);
  check("openai_chat_shape", r.object === "chat.completion" && c.message.role === "assistant" && c.finish_reason === "stop" &&
    r.usage.total_tokens === r.usage.prompt_tokens + r.usage.completion_tokens && r.usage.completion_tokens > 0, JSON.stringify(r));
});

await step("openai_chat_stream", async () => {
  const stream = await client.chat.completions.create({ model: "anemll-tiny", messages, temperature: 0, stream: true,
    stream_options: { include_usage: true } });
  let text = "", finish = null, usage = null, chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    if (chunk.usage) usage = chunk.usage;
    for (const ch of chunk.choices) {
      text += ch.delta.content ?? "";
      finish = ch.finish_reason ?? finish;
    }
  }
  check("openai_chat_stream_equals_anemll_chat", text === want, `${JSON.stringify(text)} vs ${JSON.stringify(want)}`);
  check("openai_chat_stream_finish_and_usage", finish === "stop" && usage && usage.completion_tokens > 0 && chunks >= 3,
    `${finish} ${JSON.stringify(usage)} ${chunks}`);
});

await step("openai_completion", async () => {
  const r = await client.completions.create({ model: "anemll-tiny", prompt: "A hacker is", max_tokens: 5, temperature: 0 });
  check("openai_completion", r.object === "text_completion" && typeof r.choices[0].text === "string" &&
    r.choices[0].finish_reason === "length" && r.usage.completion_tokens === 5, JSON.stringify(r));
});

await step("openai_models", async () => {
  const list = await client.models.list();
  const ids = list.data.map((m) => m.id);
  check("openai_models", ids.length === 1 && ids[0] === "anemll-tiny", JSON.stringify(ids));
});

await step("openai_error", async () => {
  try {
    await client.chat.completions.create({ model: "anemll-tiny", messages, n: 2 });
    bad("openai_error_n_2", "no error");
  } catch (e) {
    check("openai_error_n_2", e instanceof OpenAI.APIError && e.status === 400 && e.param === "n" &&
      e.code === "unsupported_parameter", `${e.status} ${e.message}`);
  }
});
