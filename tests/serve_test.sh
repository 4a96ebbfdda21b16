#!/usr/bin/env bash
# `anemll serve` on loopback with the shipped model: the openai npm client (tests/serve_openai.mjs),
# 8 concurrent streams equal to their runs alone, a bounded load test, bad requests, a full queue,
# clients that leave or stall, SIGTERM mid-stream (tests/serve_client.py).
source "$(dirname "$0")/lib.sh"
M="$BUILD/anemll-tiny"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$TMP"' EXIT

# start_server NAME ARGS...: runs `anemll serve --port 0 ARGS` and sets PORT and PID
start_server() {
    local out="$TMP/$1.out"; shift
    "$ANEMLL" serve --model "$M" --port 0 "$@" >"$out" 2>"$out.err" &
    PID=$!; PIDS+=("$PID"); PORT=
    for _ in $(seq 300); do
        PORT=$(sed -n 's|^listening on http://127\.0\.0\.1:\([0-9]*\)$|\1|p' "$out" 2>/dev/null)
        [ -n "$PORT" ] && return 0
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.1
    done
    bad "server_$1_starts" "$(cat "$out" "$out.err")"; return 1
}
# stop_server NAME: SIGTERM; it must exit 0 within 10 s, with nothing from a sanitizer
stop_server() {
    local t0=$SECONDS rc
    kill -TERM "$PID"; wait "$PID"; rc=$?
    local err; err=$(cat "$TMP/$1.out.err")
    [ "$rc" = 0 ] && [ $((SECONDS - t0)) -le 10 ] && ! grep -q 'Sanitizer\|runtime error' <<<"$err" &&
        ok "serve_${1}_exits_0_on_sigterm" || bad "serve_${1}_exits_0_on_sigterm" "rc $rc: $err"
}

# the openai npm package (kept in tests/node_modules, which git ignores; npm's cache makes reruns
# offline). Without it the test fails: this is what shows the server speaks OpenAI's API.
OPENAI_VERSION=7.59.0
if [ ! -f tests/node_modules/openai/package.json ] ||
    ! grep -q "\"version\": \"$OPENAI_VERSION\"" tests/node_modules/openai/package.json; then
    npm install --no-save --no-audit --no-fund --prefer-offline --prefix tests "openai@$OPENAI_VERSION" \
        >"$TMP/npm.log" 2>&1 || bad serve_openai_npm_install "$(tail -3 "$TMP/npm.log")"
fi

if start_server main --parallel 4; then
    want=$("$ANEMLL" chat --model "$M" --prompt "What is a kluge?" --quiet)
    if [ -f tests/node_modules/openai/package.json ]; then
        WANT="$want" node tests/serve_openai.mjs "$PORT"
    fi
    python3 tests/serve_client.py concurrency "$PORT"
    # under AddressSanitizer RSS says nothing (freed memory waits in its quarantine); leaks show at exit
    san=; nm "$ANEMLL" 2>/dev/null | grep -q __asan_init && san=--no-rss
    python3 tests/serve_client.py load "$PORT" "$PID" $san
    python3 tests/serve_client.py disconnect "$PORT"
    # SIGTERM during a stream: the stream still ends with [DONE]
    curl -sN "http://127.0.0.1:$PORT/v1/completions" -d '{"prompt": "x", "max_tokens": 100000, "stream": true, "ignore_eos": true}' \
        >"$TMP/stream.out" 2>/dev/null &
    curl_pid=$!
    sleep 0.5
    stop_server main
    wait "$curl_pid"
    tail -1 "$TMP/stream.out" | grep -q '^$' && grep -q '^data: \[DONE\]$' "$TMP/stream.out" &&
        ok serve_sigterm_ends_streams || bad serve_sigterm_ends_streams "$(tail -c 300 "$TMP/stream.out")"
fi

if start_server small --parallel 2 --context 64; then
    python3 tests/serve_client.py errors "$PORT"
    stop_server small
fi

if start_server busy --parallel 1 --queue 1 --timeout 1; then
    python3 tests/serve_client.py busy "$PORT"
    python3 tests/serve_client.py stalled "$PORT"
    stop_server busy
fi

if start_server key --api-key s3cret; then
    code() { curl -s -o "$TMP/body" -w '%{http_code}' "$@"; }
    u="http://127.0.0.1:$PORT"
    [ "$(code "$u/v1/models")" = 401 ] && grep -q '"code": "invalid_api_key"' "$TMP/body" &&
        [ "$(code -H 'Authorization: Bearer s3creT' "$u/v1/models")" = 401 ] &&
        [ "$(code -H 'Authorization: Bearer s3cret' "$u/v1/models")" = 200 ] && [ "$(code "$u/health")" = 200 ] &&
        ok serve_api_key || bad serve_api_key "$(cat "$TMP/body")"
    stop_server key
fi

# bad command lines
expect_fail serve_bad_port 'port' "$ANEMLL" serve --model "$M" --port 70000
expect_fail serve_bad_host 'host nowhere.invalid' "$ANEMLL" serve --model "$M" --host nowhere.invalid --port 0
expect_fail serve_no_model 'model folder not found' "$ANEMLL" serve --model "$TMP/none"
# another address than loopback without a key: a warning (192.0.2.1, a documentation address this
# machine does not have, so nothing is ever reachable from outside: the bind then fails)
"$ANEMLL" serve --model "$M" --port 0 --host 192.0.2.1 >/dev/null 2>"$TMP/open.err"; rc=$?
[ "$rc" = 1 ] && grep -q 'warning: listening on 192.0.2.1 without --api-key' "$TMP/open.err" &&
    grep -q 'error: cannot listen on 192.0.2.1:0' "$TMP/open.err" && ok serve_open_host_warns ||
    bad serve_open_host_warns "rc $rc: $(cat "$TMP/open.err")"
