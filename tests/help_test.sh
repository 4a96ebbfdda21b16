#!/usr/bin/env bash
# `anemll help`, `--help` and `--version`; every flag src/cli reads has a help entry; a missing
# input is reported before missing flags.
source "$(dirname "$0")/lib.sh"
G="$DATA/golden"

list=$("$ANEMLL" help); rc=$?
cmds=$(sed -n 's/^  \([a-z]\+\)  .*/\1/p' <<<"$list")
want="chat logits generate synth tokenize detokenize template convert eval inspect bench serve version"
[ "$rc" -eq 0 ] && [ "$(echo $cmds)" = "$want" ] && grep -q 'anemll help COMMAND' <<<"$list" &&
    ok help_lists_commands || bad help_lists_commands "rc $rc, commands '$(echo $cmds)'"
[ "$("$ANEMLL" --help)" = "$list" ] && [ "$("$ANEMLL" -h)" = "$list" ] && ok help_flag_lists_commands ||
    bad help_flag_lists_commands
"$ANEMLL" >/dev/null 2>"$TMP/usage"; rc=$?
[ "$rc" -eq 2 ] && grep -q '^usage: anemll COMMAND' "$TMP/usage" && ok no_command_usage_on_stderr ||
    bad no_command_usage_on_stderr "rc $rc"
expect_fail help_unknown_command "unknown command 'nosuch'" "$ANEMLL" help nosuch

# every command: usage, description, flags, examples; the three ways to ask agree; --help wins
for c in $cmds; do
    out=$("$ANEMLL" "$c" --help); rc=$?
    ex=$(sed -n '/^examples:$/,$p' <<<"$out" | grep -c "^  .*anemll $c")
    if [ "$rc" -eq 0 ] && grep -q "^usage: anemll $c" <<<"$out" && grep -q '^options:$' <<<"$out" &&
        grep -q '^  -h, --help ' <<<"$out" && [ "$ex" -ge 1 ]; then
        ok "help_$c"
    else bad "help_$c" "rc $rc, $ex examples: $out"; fi
    [ "$("$ANEMLL" help "$c")" = "$out" ] && [ "$("$ANEMLL" "$c" -h)" = "$out" ] && ok "help_${c}_same_three_ways" ||
        bad "help_${c}_same_three_ways"
    [ "$("$ANEMLL" "$c" --no-such-flag /nowhere --help 2>&1)" = "$out" ] && ok "help_${c}_wins" || bad "help_${c}_wins"
    echo "$out" >>"$TMP/all_help"
    # every flag the command reads has an entry in its tables (else it exits 70 before reading argv)
    "$ANEMLL" "$c" --no-such-flag </dev/null >/dev/null 2>"$TMP/err"; rc=$?
    [ "$rc" -ne 0 ] && [ "$rc" -ne 70 ] && grep -q "unknown argument '--no-such-flag'" "$TMP/err" &&
        ok "flags_${c}_have_help" || bad "flags_${c}_have_help" "rc $rc: $(cat "$TMP/err")"
done

# static: every flag name passed to arg_*() in src/cli, and every name and alias in its tables,
# is in the help of some command
read_names=$(cat src/cli/*.c | tr '\n' ' ' | grep -oE 'arg_[a-z]+\([^,()]*, *"-[^"]*"' | grep -oE '"-[^"]*"$')
table_names=$(grep -ohE '^ *\{"-[^"]*", *("-[^"]*"|NULL)' src/cli/*.c | grep -oE '"-[^"]*"')
options=$(sed -n 's/^  \(-[^ ,]*\(, -[^ ,]*\)\?\).*/\1/p' "$TMP/all_help" | tr ',' '\n' | tr -d ' ' | sort -u)
missing=""
for n in $(echo $read_names $table_names | tr -d '"' | tr ' ' '\n' | sort -u); do
    grep -qxF -- "$n" <<<"$options" || missing="$missing $n"
done
[ "$(wc -w <<<"$read_names")" -ge 40 ] && [ -z "$missing" ] && ok flags_in_source_have_help ||
    bad flags_in_source_have_help "$(wc -w <<<"$read_names") flags read; not in any --help:$missing"

# --version: version, compiler, kernels
v=$("$ANEMLL" --version); rc=$?
if [ "$rc" -eq 0 ] && grep -qE "^anemll $(cat VERSION)( \(git [0-9a-z.-]+\))?$" <<<"$v" &&
    grep -q '^compiler: ' <<<"$v" && grep -qE '^kernels built in: scalar( avx2 avxvnni avx512| neon)?$' <<<"$v" &&
    grep -q '^cpu features: ' <<<"$v" && grep -qE '^kernel used: (scalar|avx2|avxvnni|avx512|neon) \(auto\)$' <<<"$v"; then
    ok version
else bad version "rc $rc: $v"; fi
[ "$("$ANEMLL" version)" = "$v" ] && ok version_command || bad version_command
ANEMLL_KERNEL=scalar "$ANEMLL" --version | grep -qx 'kernel used: scalar (ANEMLL_KERNEL=scalar)' &&
    ok version_kernel_override || bad version_kernel_override
expect_fail version_no_arguments "unknown argument 'x' for 'version'" "$ANEMLL" version x

# a missing input is reported before the flags that are missing too
expect_fail eval_missing_model '/nonexistent: model folder not found' "$ANEMLL" eval --model /nonexistent
expect_fail eval_missing_reference '/nonexistent: model folder not found' "$ANEMLL" eval --reference /nonexistent --sweep --label x
expect_fail eval_missing_prompts '/nonexistent.jsonl: cannot open' "$ANEMLL" eval --model "$G/tiny" --prompts /nonexistent.jsonl
expect_fail convert_missing_input '/nonexistent: model folder not found' "$ANEMLL" convert /nonexistent
expect_fail convert_missing_calib '/nonexistent.txt: cannot open' "$ANEMLL" convert "$G/tiny" --calib /nonexistent.txt
expect_fail logits_missing_model '/nonexistent: model folder not found' "$ANEMLL" logits --model /nonexistent
expect_fail generate_missing_tokenizer '/nonexistent.json: cannot open' "$ANEMLL" generate --model "$G/tiny" --tokenizer /nonexistent.json
expect_fail inspect_missing_model '/nonexistent: model folder not found' "$ANEMLL" inspect --meta /nonexistent/meta.yaml
expect_fail inspect_missing_calib '/nonexistent.txt: cannot open' "$ANEMLL" inspect --model "$G/tiny" --calib-ids /nonexistent.txt --activations
expect_fail bench_missing_model '/nonexistent: model folder not found' "$ANEMLL" bench --model /nonexistent --precision fp8
expect_fail chat_missing_model '/nonexistent: model folder not found' "$ANEMLL" chat --model /nonexistent
expect_fail tokenize_missing_model '/nonexistent: model folder not found' "$ANEMLL" tokenize --model /nonexistent --tokenizer x
