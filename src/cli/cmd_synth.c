/* `synth`: write a random-weight checkpoint of a real Gemma 3 shape. */
#include <stdio.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/progress_display.h"
#include "convert/synth.h"
#include "util/util.h"

int cmd_synth(int argc, char **argv) {
    Args a;
    args_init(&a, argc, argv);
    const char *shape = arg_str(&a, "--shape", NULL);
    const char *out = arg_str(&a, "--out", NULL);
    long vocab = arg_int(&a, "--vocab", 0, 1, 1 << 24);
    long seed = arg_int(&a, "--seed", 1, 0, 0x7fffffffL);
    int quiet = arg_flag(&a, "--quiet");
    int bad = args_finish(&a, "synth");
    args_free(&a);
    if (bad) return 2;
    if (!shape || !out) {
        err_set("synth needs --shape NAME (%s) and --out DIR", synth_shapes());
        return fail_with_error();
    }
    ProgressDisplay pd;
    progress_display_init(&pd, "synth", quiet);
    Progress p = progress_display(&pd);
    int rc = synth_write(shape, out, (int)vocab, (uint64_t)seed, &p);
    progress_display_end(&pd);
    return rc ? fail_with_error() : 0;
}
