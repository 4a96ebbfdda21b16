#!/usr/bin/env python3
"""HTTP client checks of `anemll serve` (standard library only, loopback only).
Prints PASS/FAIL lines as tests/run.sh counts them.

  serve_client.py concurrency PORT       8 streams at once, each equal to its run alone
  serve_client.py load PORT PID [--no-rss]  8 clients x 25 requests, 10% leave early; RSS, req/s, tok/s
  serve_client.py errors PORT            bad requests get their status and JSON error
  serve_client.py busy PORT              (--parallel 1 --queue 1) a third request gets 503 + Retry-After
  serve_client.py disconnect PORT        a client leaving mid-stream frees its slot
  serve_client.py stalled PORT           (--timeout 1) a client that stops sending is dropped
"""
import http.client
import json
import socket
import sys
import threading
import time

PROMPTS = ["What is a kluge?", "Define cruft.", "What is a hack?", "Tell me about the Jargon File",
           "héllo wörld ✓", "What does grok mean?", "Explain foo and bar.", "What is a wizard?"]


def ok(name):
    print(f"PASS {name}", flush=True)


def bad(name, why):
    print(f"FAIL {name}: {why}", flush=True)


def check(name, cond, why=""):
    ok(name) if cond else bad(name, why)


def request(port, method, path, body=None, headers=None, timeout=60):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    c.request(method, path, body=data, headers=headers or {"Content-Type": "application/json"})
    r = c.getresponse()
    out = r.status, dict(r.getheaders()), r.read()
    c.close()
    return out


def chat_body(prompt, stream, max_tokens=48):
    return {"model": "anemll-tiny", "messages": [{"role": "user", "content": prompt}], "temperature": 0,
            "max_tokens": max_tokens, "stream": stream}


def stream_text(port, body, leave_after=None):
    """The content of an SSE chat stream (and its finish reason); leave_after: close after that many events."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("POST", "/v1/chat/completions", body=json.dumps(body).encode(),
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    if r.status != 200:
        raise RuntimeError(f"status {r.status}: {r.read()[:200]}")
    text, finish, events, done = "", None, 0, False
    while True:
        line = r.fp.readline()
        if not line:
            break
        line = line.decode().rstrip("\n")
        if not line.startswith("data: "):
            continue
        if line == "data: [DONE]":
            done = True
            break
        ev = json.loads(line[6:])
        events += 1
        if "error" in ev:
            raise RuntimeError(f"error event: {ev}")
        for ch in ev["choices"]:
            text += ch["delta"].get("content", "")
            finish = ch["finish_reason"] or finish
        if leave_after is not None and events >= leave_after:
            c.sock.shutdown(socket.SHUT_RDWR)
            c.close()
            return None, None
    c.close()
    if not done:
        raise RuntimeError("stream ended without [DONE]")
    return text, finish


def whole_text(port, body):
    st, _, data = request(port, "POST", "/v1/chat/completions", body)
    if st != 200:
        raise RuntimeError(f"status {st}: {data[:200]}")
    j = json.loads(data)
    return j["choices"][0]["message"]["content"], j["choices"][0]["finish_reason"], j["usage"]


def concurrency(port):
    alone = [stream_text(port, chat_body(p, True)) for p in PROMPTS]
    got = [None] * len(PROMPTS)

    def run(i):
        try:
            got[i] = stream_text(port, chat_body(PROMPTS[i], True))
        except Exception as e:  # reported below
            got[i] = ("error", str(e))
    ts = [threading.Thread(target=run, args=(i,)) for i in range(len(PROMPTS))]
    [t.start() for t in ts]
    [t.join() for t in ts]
    diff = [i for i in range(len(PROMPTS)) if got[i] != alone[i]]
    check("serve_8_streams_equal_their_runs_alone", not diff and all(a[0] for a in alone),
          f"differ: {[(PROMPTS[i], alone[i], got[i]) for i in diff][:2]}")
    whole = [whole_text(port, chat_body(p, False))[:2] for p in PROMPTS]
    check("serve_stream_equals_whole_response", whole == alone, f"{whole[:2]} vs {alone[:2]}")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def metrics_of(port):
    _, _, m = request(port, "GET", "/metrics")
    return dict(l.split(" ", 1) for l in m.decode().splitlines() if l and not l.startswith("#"))


def load(port, pid):
    want = {p: stream_text(port, chat_body(p, True, 32))[0] for p in PROMPTS}
    # warm-up: every slot used, every path taken once
    ts = [threading.Thread(target=lambda p=p: stream_text(port, chat_body(p, True, 32))) for p in PROMPTS]
    [t.start() for t in ts]
    [t.join() for t in ts]
    rss0 = rss_kib(pid)
    gen0 = int(metrics_of(port)["anemll_completion_tokens_total"])
    clients, per_client = 8, 25
    errors, wrong, left, done, tokens = [], [], [0], [0], [0]
    lock = threading.Lock()

    def client(c):
        for i in range(per_client):
            k = c * per_client + i
            p = PROMPTS[k % len(PROMPTS)]
            try:
                if k % 10 == 3:  # 10% of the requests leave after the first event
                    stream_text(port, chat_body(p, True, 32), leave_after=1)
                    with lock:
                        left[0] += 1
                    continue
                if k % 2:
                    text, finish = stream_text(port, chat_body(p, True, 32))
                    n = None
                else:
                    text, finish, usage = whole_text(port, chat_body(p, False, 32))
                    n = usage["completion_tokens"]
                with lock:
                    done[0] += 1
                    tokens[0] += n if n is not None else 0
                    if text != want[p]:
                        wrong.append((p, text))
            except Exception as e:
                with lock:
                    errors.append(str(e))
    t0 = time.time()
    ts = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    dt = time.time() - t0
    time.sleep(0.3)
    rss1 = rss_kib(pid)
    metrics = metrics_of(port)
    gen = int(metrics["anemll_completion_tokens_total"]) - gen0
    total = clients * per_client
    print(f"load: {total} requests ({left[0]} left early) in {dt:.2f} s: {total / dt:.1f} requests/s, "
          f"{gen} tokens generated, {gen / dt:.0f} tok/s aggregate, RSS {rss0} -> {rss1} KiB", flush=True)
    check("serve_load_no_request_lost", done[0] + left[0] == total and not errors,
          f"{done[0]} done + {left[0]} left of {total}; errors {errors[:3]}")
    check("serve_load_nothing_corrupted", not wrong, f"{wrong[:2]}")
    if "--no-rss" in sys.argv:
        print("note: RSS not checked (AddressSanitizer holds freed memory in its quarantine)")
    else:
        check("serve_load_rss_steady", rss1 <= rss0 * 1.10, f"RSS {rss0} KiB after warm-up, {rss1} KiB after the run")
    check("serve_load_slots_free_after", metrics["anemll_slots_busy"] == "0" and metrics["anemll_queue_depth"] == "0",
          f"{metrics['anemll_slots_busy']} busy, {metrics['anemll_queue_depth']} queued")


def expect_error(port, name, status, body, param=None, path="/v1/chat/completions", method="POST", headers=None,
                 match=None):
    st, hdrs, data = request(port, method, path, body, headers)
    try:
        err = json.loads(data)["error"]
        shaped = all(k in err for k in ("message", "type", "code"))
    except Exception:
        err, shaped = data[:200], False
    good = st == status and shaped and (param is None or err.get("param") == param) and \
        (match is None or match in err["message"])
    hst, _, _ = request(port, "GET", "/health")
    check(name, good and hst == 200, f"status {st} (want {status}), body {err}, health {hst}")
    return hdrs


def errors(port):
    user = [{"role": "user", "content": "hi"}]
    expect_error(port, "serve_bad_json_400", 400, b'{"messages": [')
    expect_error(port, "serve_not_an_object_400", 400, b'[1, 2]')
    expect_error(port, "serve_invalid_utf8_400", 400, b'{"messages": [{"role": "user", "content": "\xff\xfe"}]}',
                 match="UTF-8")
    expect_error(port, "serve_deep_nesting_400", 400, b'{"a": ' * 5000 + b'1' + b'}' * 5000)
    # a body announced over the limit is refused before it is sent (reading the answer while
    # still sending would race with the server closing); a chunked one is read, then refused
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: 2000000\r\n\r\n")
    resp = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        resp += d
        if b"}}" in resp:
            break
    s.close()
    check("serve_body_over_limit_413", resp.startswith(b"HTTP/1.1 413") and b'"code": "body_too_large"' in resp,
          resp[:300])

    def chunks():
        for _ in range(20):
            yield b"a" * 65536
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("POST", "/v1/chat/completions", body=chunks(), encode_chunked=True,
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    body = r.read()
    c.close()
    check("serve_chunked_body_over_limit_413", r.status == 413 and b"body_too_large" in body, f"{r.status} {body[:200]}")
    expect_error(port, "serve_unknown_route_404", 404, None, path="/v2/nothing", method="GET")
    expect_error(port, "serve_wrong_method_405", 405, None, path="/v1/chat/completions", method="GET")
    expect_error(port, "serve_missing_messages_400", 400, {"model": "x"}, param="messages")
    expect_error(port, "serve_bad_role_400", 400, {"messages": [{"role": "robot", "content": "hi"}]}, param="messages")
    expect_error(port, "serve_image_part_400", 400,
                 {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
                 param="messages")
    expect_error(port, "serve_n_2_400", 400, {"messages": user, "n": 2}, param="n")
    expect_error(port, "serve_logprobs_400", 400, {"messages": user, "logprobs": True}, param="logprobs")
    expect_error(port, "serve_tools_400", 400, {"messages": user, "tools": [{"type": "function"}]}, param="tools")
    expect_error(port, "serve_bad_temperature_400", 400, {"messages": user, "temperature": "hot"}, param="temperature")
    expect_error(port, "serve_bad_max_tokens_400", 400, {"messages": user, "max_tokens": 0}, param="max_tokens")
    expect_error(port, "serve_bad_stop_400", 400, {"messages": user, "stop": [1]}, param="stop")
    expect_error(port, "serve_completion_no_prompt_400", 400, {"max_tokens": 3}, path="/v1/completions", param="prompt")
    expect_error(port, "serve_detokenize_bad_id_400", 400, {"tokens": [1, 99999999]}, path="/detokenize")
    long_prompt = "word " * 400
    expect_error(port, "serve_prompt_over_context_400", 400, {"messages": [{"role": "user", "content": long_prompt}]},
                 match="the context holds 64")
    # max_tokens past the context: clamped, finish_reason length
    text, finish, usage = whole_text(port, {"messages": [{"role": "user", "content": "Tell me a long story " * 4}],
                                            "temperature": 1, "seed": 7, "max_tokens": 100000})
    check("serve_max_tokens_clamped_to_context", usage["prompt_tokens"] + usage["completion_tokens"] <= 64 and
          (finish == "length" or usage["completion_tokens"] < 64 - usage["prompt_tokens"]), f"{usage} {finish}")
    # stop strings end the reply before them
    full, _, _ = whole_text(port, chat_body("What is a kluge?", False))
    cut, finish, _ = whole_text(port, dict(chat_body("What is a kluge?", False), stop=["Goldberg"]))
    check("serve_stop_string", full.startswith(cut) and "Goldberg" not in cut and len(cut) < len(full) and
          finish == "stop", f"{cut!r} / {full!r} {finish}")
    # a follow-up that repeats the conversation prefills only its new part
    msgs = [{"role": "user", "content": "What is a kluge?"}]
    first, _, u1 = whole_text(port, {"messages": msgs, "temperature": 0, "max_tokens": 8})
    msgs += [{"role": "assistant", "content": first}, {"role": "user", "content": "And a hack?"}]
    _, _, u2 = whole_text(port, {"messages": msgs, "temperature": 0, "max_tokens": 8})
    check("serve_follow_up_reuses_cache", u2["prompt_tokens_details"]["cached_tokens"] >= u1["prompt_tokens"],
          f"{u1} then {u2}")
    st, _, data = request(port, "POST", "/tokenize", {"content": "hello world", "add_special": True})
    ids = json.loads(data)["tokens"]
    st2, _, data2 = request(port, "POST", "/detokenize", {"tokens": ids})
    check("serve_tokenize_detokenize", st == 200 and st2 == 200 and json.loads(data2)["content"] == "<bos>hello world",
          f"{data} {data2}")
    st, hdr, data = request(port, "GET", "/metrics")
    check("serve_metrics_prometheus", st == 200 and b"anemll_completion_tokens_total" in data and
          b"anemll_queue_depth 0" in data and hdr.get("Content-Type", "").startswith("text/plain"), data[:200])


def busy(port):
    body = {"prompt": "x" * 20, "max_tokens": 100000, "stream": True, "temperature": 1, "seed": 1,
            "ignore_eos": True}
    conns = []
    for _ in range(2):  # one generating, one queued
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("POST", "/v1/completions", body=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
        conns.append(c)
        time.sleep(0.2)
    hdrs = expect_error(port, "serve_queue_full_503", 503, body, path="/v1/completions")
    check("serve_503_retry_after", hdrs.get("Retry-After") == "1", f"{hdrs}")
    for c in conns:
        c.sock.shutdown(socket.SHUT_RDWR)
        c.close()


def stalled(port):
    """(--timeout 1) a client that sends half a request and then nothing is dropped."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
    t0 = time.time()
    try:
        data = s.recv(1024)
    except OSError:
        data = b""
    dt = time.time() - t0
    s.close()
    st, _, _ = request(port, "GET", "/health")
    check("serve_stalled_client_dropped", data == b"" and dt < 5 and st == 200, f"{data[:100]} after {dt:.1f} s")


def disconnect(port):
    body = {"prompt": "x" * 20, "max_tokens": 100000, "stream": True, "temperature": 1, "seed": 1,
            "ignore_eos": True}
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("POST", "/v1/completions", body=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    r = c.getresponse()
    r.fp.readline()
    c.sock.shutdown(socket.SHUT_RDWR)
    c.close()
    deadline, busy_n = time.time() + 5, None
    while time.time() < deadline:
        _, _, m = request(port, "GET", "/metrics")
        busy_n = [l for l in m.decode().splitlines() if l.startswith("anemll_slots_busy ")][0]
        gone = [l for l in m.decode().splitlines() if l.startswith("anemll_client_disconnects_total ")][0]
        if busy_n == "anemll_slots_busy 0" and gone != "anemll_client_disconnects_total 0":
            break
        time.sleep(0.1)
    check("serve_disconnect_frees_slot", busy_n == "anemll_slots_busy 0" and gone != "anemll_client_disconnects_total 0",
          f"{busy_n}, {gone}")


if __name__ == "__main__":
    what, port = sys.argv[1], int(sys.argv[2])
    try:
        {"concurrency": lambda: concurrency(port), "load": lambda: load(port, int(sys.argv[3])),
         "errors": lambda: errors(port), "busy": lambda: busy(port), "stalled": lambda: stalled(port), "disconnect": lambda: disconnect(port)}[what]()
    except Exception as e:
        bad(f"serve_client_{what}", f"{type(e).__name__}: {e}")
