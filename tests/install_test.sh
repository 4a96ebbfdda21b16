#!/usr/bin/env bash
# `make install DESTDIR=... PREFIX=...`: the installed binary finds its default model and its data
# (the eval prompt set) under PREFIX/share/anemll from any folder, with no build tree in reach of
# the current folder; `make uninstall` removes what install wrote.
source "$(dirname "$0")/lib.sh"
san=0; [ "$BUILD" = build-san ] && san=1
DEST="$TMP/dest"; PREFIX=/opt/anemll-test
I="$DEST$PREFIX"
if make --no-print-directory -s install SAN=$san BUILD="$BUILD" DESTDIR="$DEST" PREFIX=$PREFIX >"$TMP/install.log" 2>&1 &&
    [ -x "$I/bin/anemll" ] && [ -f "$I/share/anemll/eval_prompts.jsonl" ] &&
    [ -f "$I/share/anemll/anemll-tiny/meta.yaml" ] && ! ls -A "$I/share/anemll" | grep -q tmp; then
    ok install_destdir
else
    bad install_destdir "$(tail -5 "$TMP/install.log")"
fi

# Run from an empty folder elsewhere, without the variables that point at data.
mkdir -p "$TMP/elsewhere"
run_elsewhere() { (cd "$TMP/elsewhere" && env -u ANEMLL_MODEL -u ANEMLL_DATA "$I/bin/anemll" "$@"); }
want=$("$ANEMLL" chat --prompt "What is a kluge?" --quiet 2>&1)
got=$(run_elsewhere chat --prompt "What is a kluge?" --quiet 2>"$TMP/chat.err")
if [ -n "$got" ] && [ "$got" = "$want" ] && [ ! -s "$TMP/chat.err" ]; then
    ok installed_chat_from_another_folder
else
    bad installed_chat_from_another_folder "got '$got' want '$want' err $(head -2 "$TMP/chat.err")"
fi
if run_elsewhere inspect 2>&1 | grep -q "^model: $I/share/anemll/anemll-tiny "; then
    ok installed_default_model_is_the_installed_copy
else
    bad installed_default_model_is_the_installed_copy "$(run_elsewhere inspect 2>&1 | head -1)"
fi
# eval's built-in prompt set comes from PREFIX/share/anemll (2 prompts' worth of steps is enough).
if run_elsewhere eval --model "$I/share/anemll/anemll-tiny" --reference "$PWD/models/anemll-tiny" --steps 2 \
    >"$TMP/eval.out" 2>&1 && grep -q "built-in prompt set $I/share/anemll/eval_prompts.jsonl" "$TMP/eval.out"; then
    ok installed_eval_finds_its_prompts
else
    bad installed_eval_finds_its_prompts "$(tail -3 "$TMP/eval.out")"
fi

# a program built against the installed header and library alone
san_flags=; [ $san = 1 ] && san_flags="-fsanitize=address,undefined"
if cc -std=c11 $san_flags -I"$I/include" -o "$TMP/simple" examples/simple.c "$I/lib/libanemll.a" -pthread -lcjson -lyaml -ledit -lm \
    2>"$TMP/cc.log" && [ "$("$TMP/simple" --model "$I/share/anemll/anemll-tiny" --prompt "What is a kluge?" -n 30)" = \
    "$("$ANEMLL" generate --model "$I/share/anemll/anemll-tiny" --prompt "What is a kluge?" -n 30)" ]; then
    ok program_built_against_installed_library
else
    bad program_built_against_installed_library "$(head -3 "$TMP/cc.log")"
fi
if cc -std=c11 $san_flags -I"$I/include" -o "$TMP/simple_so" examples/simple.c -L"$I/lib" -lanemll 2>"$TMP/cc.log" &&
    [ "$(LD_LIBRARY_PATH="$I/lib" "$TMP/simple_so" --model "$I/share/anemll/anemll-tiny" --prompt "What is a kluge?" -n 30)" = \
    "$("$ANEMLL" generate --model "$I/share/anemll/anemll-tiny" --prompt "What is a kluge?" -n 30)" ]; then
    ok program_linked_to_installed_shared_library
else
    bad program_linked_to_installed_shared_library "$(head -3 "$TMP/cc.log")"
fi

if make --no-print-directory -s uninstall SAN=$san BUILD="$BUILD" DESTDIR="$DEST" PREFIX=$PREFIX >/dev/null 2>&1 &&
    [ ! -e "$I/bin/anemll" ] && [ ! -e "$I/share/anemll" ] && [ ! -e "$I/include/anemll.h" ] &&
    [ ! -e "$I/lib/libanemll.so" ] && [ ! -e "$I/lib/libanemll.a" ]; then
    ok uninstall_removes_what_install_wrote
else
    bad uninstall_removes_what_install_wrote "$(find "$DEST" -type f | head -3)"
fi
