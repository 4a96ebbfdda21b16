#!/usr/bin/env python3
"""Drive `anemll chat` through a pseudo-terminal as a person would: two turns, a Ctrl-C during a
reply, then Ctrl-D. Prints PASS/FAIL lines. Usage: chat_pty.py ANEMLL MODEL_DIR"""
import os, pty, select, sys, time

anemll, model = sys.argv[1], sys.argv[2]
pid, fd = pty.fork()
if pid == 0:
    os.execv(anemll, [anemll, "chat", "--model", model, "--history", "--max-tokens", "100000"])

buf = b""


def read_until(pattern, timeout):
    """Read output until `pattern` (bytes) appears after the current mark, or timeout."""
    global buf
    end = time.time() + timeout
    while pattern not in buf:
        left = end - time.time()
        if left <= 0:
            return False
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                return False
            if not data:
                return False
            buf += data
    return True


def settle():
    """libedit flushes typed-ahead input when it switches the terminal to raw mode just after
    printing the prompt; a person types after seeing it, so wait as one would."""
    time.sleep(0.5)


def check(name, cond):
    print(("PASS " if cond else "FAIL ") + name)
    sys.stdout.flush()


check("chat_prompt_shown", read_until(b"> ", 20))
settle()
buf = b""
os.write(fd, b"Hello, how are you?\r")
check("chat_first_reply_long_runs", not read_until(b"tok/s]", 1.0))  # still generating after 1 s
os.write(fd, b"\x03")  # Ctrl-C during the reply
check("chat_ctrl_c_stops_reply", read_until(b"[interrupted]", 30) and read_until(b"tok/s]", 30))
check("chat_prompt_after_interrupt", read_until(b"]\r\n> ", 30))
settle()
buf = b""
os.write(fd, b"And a second question?\r")
time.sleep(0.5)
os.write(fd, b"\x03")
ok2 = read_until(b"tok/s]", 30)
# the second turn reuses the cache for at least the first turn's prompt (16 tokens)
cached = int(buf.split(b"[prefill ")[1].split(b"(")[1].split(b" ")[0]) if b"[prefill " in buf else -1
check("chat_second_turn_reuses_cache", ok2 and cached >= 16)
if not (ok2 and cached >= 16): print(buf[-400:])
check("chat_prompt_again", read_until(b"]\r\n> ", 30))
settle()
os.write(fd, b"\x04")  # Ctrl-D exits
deadline = time.time() + 30
status = None
while time.time() < deadline:
    wpid, st = os.waitpid(pid, os.WNOHANG)
    if wpid:
        status = st
        break
    try:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            os.read(fd, 4096)
    except OSError:
        pass
check("chat_ctrl_d_exits", status is not None and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0)
if not (status is not None and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0): print("status", status, buf[-200:])
if status is None:
    os.kill(pid, 9)
