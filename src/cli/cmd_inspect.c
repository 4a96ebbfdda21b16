/* `inspect --model DIR [--activations]`: what a model folder holds, and its residual peaks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anemll.h"
#include "cli/args.h"
#include "cli/chat_common.h"
#include "cli/commands.h"
#include "util/util.h"


static const ArgSpec inspect_args[] = {
    {"--activations", NULL, NULL, NULL,
     "also run the calibration sequence in FP32 and print each layer's peak |residual| and the "
     "--fp16-scale to convert with", 0},
    {0},
};

const CommandSpec inspect_spec = {
    "inspect",
    "describe a model folder; --activations: residual peaks and the alpha to use",
    "[--model DIR] [--activations]",
    "Describes a model folder: its shape, layer types, weight files and sizes, and for a converted model the "
    "context, batch, chunks, LUT of each part and the FP16 scale alpha with the calibration peaks it was "
    "chosen from. --activations measures the residual peaks now (--calib, --calib-ids choose the sequence).",
    (const ArgSpec *const[]){model_args, inspect_args, calib_args, NULL},
    "anemll inspect\n"
    "anemll inspect --model models/anemll-tiny --activations",
};

int cmd_inspect(int argc, char **argv) {
    Args a;
    args_init(&a, &inspect_spec, argc, argv);
    const char *dir = arg_str(&a, "--model", NULL);
    int activations = arg_flag(&a, "--activations");
    const char *calib_ids = arg_str(&a, "--calib-ids", NULL);
    const char *calib_text = arg_str(&a, "--calib", NULL);
    int bad = args_finish(&a);
    args_free(&a);
    if (bad) return 2;
    if (model_arg(dir, &dir) || check_input(calib_text) || check_input(calib_ids)) return fail_with_error();
    anemll_model *m;
    if (anemll_model_load(dir, &m)) return fail_with_error();
    char *text;
    size_t len;
    int rc = anemll_model_describe(m, &text, &len);
    if (rc == 0) fwrite(text, 1, len, stdout);
    anemll_free(text);
    if (rc == 0 && activations) {
        anemll_activations act;
        rc = anemll_measure_activations(m, calib_text, calib_ids, &act);
        if (rc == 0) {
            printf("peak |residual| per layer (FP32, calibration: %s):\n", act.calibration);
            int first_bad = -1;
            for (int l = 0; l < act.num_layers; l++) {
                float p = act.layer_peaks[l];
                printf("  layer %2d  %12.6g%s\n", l, p, p > 65504 ? "  > FP16 max" : "");
                if (first_bad < 0 && !isfinite(p)) first_bad = l;
            }
            /* no scale makes NaN or inf fit FP16: recommending one would hide broken weights */
            if (first_bad >= 0) {
                err_set("the activations are not finite (%g after layer %d, in FP32): the weights are broken, "
                        "no --fp16-scale can help", (double)act.layer_peaks[first_bad], first_bad);
                rc = -1;
            } else {
                printf("overall peak %.6g; recommended --fp16-scale %.6g (largest multiple of 1/64 <= %.0f / peak)\n",
                       act.peak, act.alpha, act.target_peak);
            }
            anemll_free(act.layer_peaks);
        }
    }
    anemll_model_free(m);
    return rc ? fail_with_error() : 0;
}
