/* `convert HF_DIR OUT_DIR`: ANEMLL conversion with ANEMLL's flags and readable aliases. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "anemll.h"
#include "cli/args.h"
#include "cli/chat_common.h"
#include "cli/commands.h"
#include "cli/progress_display.h"
#include "util/util.h"

static const ArgSpec convert_args[] = {
    {"--model", NULL, "HF_DIR", NULL, "the Hugging Face checkpoint to convert, instead of the first word", 0},
    {"--output", NULL, "OUT_DIR", NULL, "the folder to write, instead of the second word", 0},
    {"--lut1", "--lut-embeddings", "SPEC", "none", "LUT of the embeddings", 0},
    {"--lut2", "--lut-ffn", "SPEC", "4,4", "LUT of the attention and MLP matrices", 0},
    {"--lut3", "--lut-lmhead", "SPEC", "6,4", "LUT of the LM head", 0},
    {"--fp16-scale", NULL, "auto|A|none", "auto",
     "FP16 residual scale alpha: auto = from the calibration peak, A = this factor in [1/1024, 1], none = 1", 0},
    {"--chunk", "--chunks", "N", "2", "split the layers into N chunk files, as ANEMLL does", 0},
    {"--context", NULL, "N", "the model's, at most 4096", "context_length recorded in meta.yaml", 0},
    {"--batch", NULL, "N", "64", "batch_size recorded in meta.yaml", 0},
    {"--threads", NULL, "N", "all cores", "threads for the LUT k-means", 0},
    {"--force", NULL, NULL, NULL, "replace OUT_DIR if it holds a converted model (anything else is refused)", 0},
    {"--quiet", NULL, NULL, NULL, "no progress on stderr", 0},
    {0},
};

const CommandSpec convert_spec = {
    "convert",
    "convert a Hugging Face checkpoint the ANEMLL way (FP16 scale, LUT, chunks)",
    "HF_DIR OUT_DIR [options]",
    "Converts a Gemma 3 checkpoint (config.json and safetensors, F32/F16/BF16) the ANEMLL way: residual "
    "weights scaled by alpha so that FP16 activations do not overflow, matrices palettized to lookup tables, "
    "layers split into chunk files, all described by meta.yaml. A LUT SPEC is bits,per_channel (bits 2..8, "
    "one table per per_channel rows; 0 = one table per tensor), bits alone (per_channel 8) or none (FP16). "
    "The output is written to OUT_DIR.tmp.PID and renamed at the end, so a failed run leaves no model behind.",
    (const ArgSpec *const[]){convert_args, calib_args, NULL},
    "anemll convert models/anemll-tiny /tmp/tiny-lut\n"
    "anemll convert HF_DIR OUT_DIR --lut2 4,8 --lut3 none --chunk 4 --fp16-scale 0.5 --force",
};

/* The display, and a stop when SIGINT/SIGTERM came. */
static int show_or_stop(void *ctx, const char *stage, const char *unit, long done, long total) {
    return progress_display_fn(ctx, stage, unit, done, total) || stop_requested();
}

int cmd_convert(int argc, char **argv) {
    Args a;
    args_init(&a, &convert_spec, argc, argv);
    anemll_convert_options o;
    anemll_convert_default_options(&o);
    const char *in = arg_str(&a, "--model", NULL);
    const char *out = arg_str(&a, "--output", NULL);
    o.context = (int)arg_int(&a, "--context", 0, 1, 1 << 24);
    o.batch = (int)arg_int(&a, "--batch", 64, 1, 65536);
    o.chunks = (int)arg_int(&a, "--chunk", 2, 1, 1 << 20);
    o.lut_embeddings = arg_str(&a, "--lut1", "none");
    o.lut_ffn = arg_str(&a, "--lut2", "4,4");
    o.lut_lmhead = arg_str(&a, "--lut3", "6,4");
    o.fp16_scale = arg_str(&a, "--fp16-scale", "auto");
    o.calib_ids = arg_str(&a, "--calib-ids", NULL);
    o.calib_text = arg_str(&a, "--calib", NULL);
    long nproc = sysconf(_SC_NPROCESSORS_ONLN);
    o.threads = (int)arg_int(&a, "--threads", nproc > 0 ? nproc : 1, 1, 1024);
    o.force = arg_flag(&a, "--force");
    int quiet = arg_flag(&a, "--quiet");
    const char *pos[2];
    int npos = args_positionals(&a, pos, 2);
    int bad = args_finish(&a);
    args_free(&a);
    if (bad) return 2;
    if (npos > 2 || (npos >= 1 && in) || (npos == 2 && out)) {
        err_set("convert takes HF_DIR and OUT_DIR once each");
        return fail_with_error();
    }
    if (!in && npos >= 1) in = pos[0];
    if (!out && npos >= 1) out = pos[npos - 1];
    if ((in && anemll_model_check(in)) || check_input(o.calib_text) || check_input(o.calib_ids))
        return fail_with_error();
    if (!in || !out || in == out) {
        err_set("usage: anemll convert HF_DIR OUT_DIR [--lut2 4,4 --lut3 6,4 --chunk 2 --fp16-scale auto ...]");
        return fail_with_error();
    }
    char cmdline[4096] = "anemll convert";
    for (int i = 0; i < argc; i++) {
        size_t k = strlen(cmdline);
        snprintf(cmdline + k, sizeof cmdline - k, " %s", argv[i]);
    }
    o.command_line = cmdline;
    ProgressDisplay pd;
    progress_display_init(&pd, "convert", quiet);
    o.progress = show_or_stop;
    o.progress_ctx = &pd;
    anemll_convert_report r;
    stop_signals_catch(1); /* Ctrl-C: the conversion stops at its next report and removes its files */
    int rc = anemll_convert(in, out, &o, &r);
    progress_display_end(&pd);
    if (rc) {
        stop_signals_restore();
        return fail_with_error();
    }
    if (stop_requested()) stop_signals_reraise();
    stop_signals_restore();
    printf("converted %s -> %s in %.1f s\n", in, out, r.seconds);
    printf("fp16 scale: alpha %.6g (%s); peak |residual| before %.6g, after %.6g (calibration: %s)\n", r.alpha,
           !strcmp(o.fp16_scale, "auto") || !strcmp(o.fp16_scale, "none") ? o.fp16_scale : "fixed", r.peak_before,
           r.peak_after, r.calibration);
    return 0;
}
