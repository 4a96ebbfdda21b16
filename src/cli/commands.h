/* One function per subcommand of build/anemll. Each gets the words after its name,
 * returns the process exit code, and prints errors as one line "anemll: error: ...".
 * Each has a CommandSpec beside it: its flags and help (args.h). */
#ifndef ANEMLL_COMMANDS_H
#define ANEMLL_COMMANDS_H

#include "cli/args.h"

int cmd_logits(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_detokenize(int argc, char **argv);
int cmd_template(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_serve(int argc, char **argv);

extern const CommandSpec logits_spec, generate_spec, synth_spec, tokenize_spec, detokenize_spec, template_spec,
    convert_spec, inspect_spec, chat_spec, bench_spec, eval_spec, version_spec, serve_spec;

/* Print "anemll: error: <err_get()>" and return 1. */
int fail_with_error(void);

#endif
