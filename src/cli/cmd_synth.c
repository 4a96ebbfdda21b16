/* `synth`: write a random-weight checkpoint of a real Gemma 3 shape. */
#include <stdio.h>

#include "anemll.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/progress_display.h"
#include "util/util.h"

static const ArgSpec synth_args[] = {
    {"--shape", NULL, "NAME", NULL, "the shape: " ANEMLL_SYNTH_SHAPES, 0},
    {"--out", NULL, "DIR", NULL, "the folder to write", 0},
    {"--vocab", NULL, "N", "the shape's", "vocabulary size", 0},
    {"--seed", NULL, "S", "1", "seed of the random weights", 0},
    {"--quiet", NULL, NULL, NULL, "no progress on stderr", 0},
    {0},
};

const CommandSpec synth_spec = {
    "synth",
    "write a random-weight Gemma 3 checkpoint of a real shape",
    "--shape NAME --out DIR [options]",
    "Writes a Hugging Face style checkpoint (config.json and a BF16 model.safetensors) of a real Gemma 3 "
    "shape with seeded random weights: a model of real size to convert and benchmark where no real weights "
    "can be downloaded. --shape and --out are required.",
    (const ArgSpec *const[]){synth_args, NULL},
    "anemll synth --shape gemma3-1b --out /tmp/gemma3-1b\n"
    "anemll synth --shape tiny --out /tmp/tiny --vocab 300 --seed 3",
};

int cmd_synth(int argc, char **argv) {
    Args a;
    args_init(&a, &synth_spec, argc, argv);
    const char *shape = arg_str(&a, "--shape", NULL);
    const char *out = arg_str(&a, "--out", NULL);
    long vocab = arg_int(&a, "--vocab", 0, 1, 1 << 24);
    long seed = arg_int(&a, "--seed", 1, 0, 0x7fffffffL);
    int quiet = arg_flag(&a, "--quiet");
    int bad = args_finish(&a);
    args_free(&a);
    if (bad) return 2;
    if (!shape || !out) {
        err_set("synth needs --shape NAME (%s) and --out DIR", ANEMLL_SYNTH_SHAPES);
        return fail_with_error();
    }
    ProgressDisplay pd;
    progress_display_init(&pd, "synth", quiet);
    int rc = anemll_synth(shape, out, (int)vocab, (uint64_t)seed, progress_display_fn, &pd);
    progress_display_end(&pd);
    return rc ? fail_with_error() : 0;
}
