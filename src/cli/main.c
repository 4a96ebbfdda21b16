/* build/anemll: one binary, one subcommand per job. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "util/util.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} commands[] = {
    {"chat", cmd_chat, "talk to a model (Gemma chat format, streaming)"},
    {"logits", cmd_logits, "write the logits of every position of a token sequence"},
    {"generate", cmd_generate, "continue a token sequence or prompt"},
    {"synth", cmd_synth, "write a random-weight Gemma 3 checkpoint of a real shape"},
    {"tokenize", cmd_tokenize, "text (JSON lines) to token ids"},
    {"detokenize", cmd_detokenize, "token ids (JSON arrays) to text"},
    {"template", cmd_template, "render Gemma's chat template (JSON lines)"},
    {"convert", cmd_convert, "convert a Hugging Face checkpoint the ANEMLL way (FP16 scale, LUT, chunks)"},
    {"eval", cmd_eval, "quality report against the original model: KL divergence, correlation, match rate"},
    {"inspect", cmd_inspect, "describe a model folder; --activations: residual peaks and the alpha to use"},
    {"bench", cmd_bench, "prefill/decode throughput, memory and the bandwidth bound"},
};

int fail_with_error(void) {
    fprintf(stderr, "anemll: error: %s\n", err_get());
    return 1;
}

static void usage(FILE *f) {
    fprintf(f, "usage: anemll COMMAND [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].help);
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].fn(argc - 2, argv + 2);
    fprintf(stderr, "anemll: error: unknown command '%s' (try --help)\n", argv[1]);
    return 2;
}
