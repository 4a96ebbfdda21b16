#!/usr/bin/env python3
"""Run a command as at a terminal (stdin and stderr on a pseudo-terminal; stdout into a file, so
results and progress part) and check what the terminal showed. Prints PASS NAME or FAIL NAME.
Usage: progress_pty.py NAME STDOUT_FILE TITLE STAGES CMD...
STAGES: comma-separated stages that must each show as one line redrawn in place: "\\r" + TITLE: STAGE
+ done/total + percent + elapsed + "\\033[K" each time, from its first state (0%) through an
estimate ("left") to its last (100%), then a newline; at most 10 redraws a second besides those
three. An empty STAGES: the terminal must show nothing at all."""
import os, pty, re, select, sys, time

name, stdout_file, title, stages, cmd = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
stages = [s for s in stages.split(",") if s]


def result(problem):
    print(f"FAIL {name}: {problem}" if problem else f"PASS {name}")
    sys.exit(0)


t0 = time.time()
pid, fd = pty.fork()
if pid == 0:
    os.dup2(os.open(stdout_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), 1)
    os.execv(cmd[0], cmd)
term = b""
while time.time() < t0 + 120:
    if select.select([fd], [], [], 0.2)[0]:
        try:
            data = os.read(fd, 4096)
        except OSError:  # the command exited: the terminal is gone
            break
        if not data:
            break
        term += data
else:
    os.kill(pid, 9)
_, status = os.waitpid(pid, 0)
seconds = time.time() - t0
if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
    result(f"exit status {status}; terminal: {term[-300:]!r}")
if not stages:
    result(f"the terminal showed {term[:300]!r}" if term else None)

# the terminal turns each "\n" into "\r\n"; a line is its redraws, each opened by "\r"
lines = term.decode().split("\r\n")
if lines[-1]:
    result(f"the display did not end with a newline: {lines[-1]!r}")
draw = re.compile(r"(?P<title>.+?): (?P<stage>\S+) (?P<done>[\d.]+[kMGT]?)/(?P<total>[\d.]+[kMGT]?) \w+ +"
                  r"(?P<pct>\d+)%, \d+:\d\d elapsed(?P<left>, ~\d+:\d\d left)?\x1b\[K$")
seen, draws = [], 0
for line in lines[:-1]:
    if not line.startswith("\r"):
        result(f"a line not drawn in place: {line!r}")
    parsed = [draw.match(d) for d in line[1:].split("\r")]
    if not all(parsed) or {(p["title"], p["stage"]) for p in parsed} != {(title, parsed[0]["stage"])}:
        result(f"unexpected drawing in {line!r}")
    first, last = parsed[0], parsed[-1]
    if first["pct"] != "0" or last["pct"] != "100" or last["done"] != last["total"]:
        result(f"{first['stage']}: not from 0% to 100%: {line!r}")
    if not any(p["left"] for p in parsed):
        result(f"{first['stage']}: no estimate of the time left: {line!r}")
    seen.append(first["stage"])
    draws += len(parsed)
if seen != stages:
    result(f"stages {seen}, expected {stages}")
if draws > 3 * len(stages) + 10 * seconds + 1:
    result(f"{draws} redraws in {seconds:.1f} s")
result(None)
