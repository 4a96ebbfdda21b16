/* `convert HF_DIR OUT_DIR`: ANEMLL conversion with ANEMLL's flags and readable aliases. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/progress_display.h"
#include "convert/convert.h"
#include "util/util.h"

static const char *first_of(Args *a, const char *x, const char *y, const char *def) {
    const char *v = arg_str(a, x, NULL);
    const char *w = arg_str(a, y, NULL);
    return v ? v : w ? w : def;
}

int cmd_convert(int argc, char **argv) {
    Args a;
    args_init(&a, argc, argv);
    ConvertOptions o;
    memset(&o, 0, sizeof o);
    const char *in = arg_str(&a, "--model", NULL);
    const char *out = arg_str(&a, "--output", NULL);
    o.context = (int)arg_int(&a, "--context", 0, 1, 1 << 24);
    o.batch = (int)arg_int(&a, "--batch", 64, 1, 65536);
    long chunks = arg_int(&a, "--chunk", 0, 1, 1 << 20);
    if (!chunks) chunks = arg_int(&a, "--chunks", 2, 1, 1 << 20);
    o.chunks = (int)chunks;
    const char *lut1 = first_of(&a, "--lut1", "--lut-embeddings", "none");
    const char *lut2 = first_of(&a, "--lut2", "--lut-ffn", "4,4");
    const char *lut3 = first_of(&a, "--lut3", "--lut-lmhead", "6,4");
    const char *scale = arg_str(&a, "--fp16-scale", "auto");
    const char *calib_ids = arg_str(&a, "--calib-ids", NULL);
    const char *calib_text = arg_str(&a, "--calib", NULL);
    long nproc = sysconf(_SC_NPROCESSORS_ONLN);
    o.threads = (int)arg_int(&a, "--threads", nproc > 0 ? nproc : 1, 1, 1024);
    o.force = arg_flag(&a, "--force");
    int quiet = arg_flag(&a, "--quiet");
    const char *pos[2];
    int npos = args_positionals(&a, pos, 2);
    int bad = args_finish(&a, "convert");
    args_free(&a);
    if (bad) return 2;
    if (npos > 2 || (npos >= 1 && in) || (npos == 2 && out)) {
        err_set("convert takes HF_DIR and OUT_DIR once each");
        return fail_with_error();
    }
    if (!in && npos >= 1) in = pos[0];
    if (!out && npos >= 1) out = pos[npos - 1];
    if (!in || !out || in == out) {
        err_set("usage: anemll convert HF_DIR OUT_DIR [--lut2 4,4 --lut3 6,4 --chunk 2 --fp16-scale auto ...]");
        return fail_with_error();
    }
    if (lut_spec_parse(lut1, &o.lut_embeddings) || lut_spec_parse(lut2, &o.lut_ffn) ||
        lut_spec_parse(lut3, &o.lut_lmhead))
        return fail_with_error();
    if (!strcmp(scale, "auto")) {
        o.scale_mode = SCALE_AUTO;
    } else if (!strcmp(scale, "none")) {
        o.scale_mode = SCALE_NONE;
    } else {
        char *end;
        o.alpha = strtod(scale, &end);
        if (end == scale || *end || !(o.alpha > 0 && o.alpha <= 1)) {
            err_set("--fp16-scale '%s': expected auto, none or a number in (0, 1]", scale);
            return fail_with_error();
        }
        o.scale_mode = SCALE_FIXED;
    }
    int n;
    char desc[512];
    int *ids = calibration_ids(in, calib_text, calib_ids, &n, desc, sizeof desc);
    if (!ids) return fail_with_error();
    o.calib_ids = ids;
    o.n_calib = n;
    o.calib_desc = desc;
    char cmdline[4096] = "anemll convert";
    for (int i = 0; i < argc; i++) {
        size_t k = strlen(cmdline);
        snprintf(cmdline + k, sizeof cmdline - k, " %s", argv[i]);
    }
    o.command_line = cmdline;
    ProgressDisplay pd;
    progress_display_init(&pd, "convert", quiet);
    o.progress = progress_display(&pd);
    ConvertReport r;
    int rc = convert_model(in, out, &o, &r);
    progress_display_end(&pd);
    free(ids);
    if (rc) return fail_with_error();
    printf("converted %s -> %s in %.1f s\n", in, out, r.seconds);
    printf("fp16 scale: alpha %.6g (%s); peak |residual| before %.6g, after %.6g (calibration: %s)\n", r.alpha,
           o.scale_mode == SCALE_AUTO ? "auto" : o.scale_mode == SCALE_FIXED ? "fixed" : "none", r.peak_before,
           r.peak_after, desc);
    return 0;
}
