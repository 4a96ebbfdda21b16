/* `inspect --model DIR [--activations]`: what a model folder holds, and its residual peaks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/chat_common.h"
#include "cli/commands.h"
#include "convert/convert.h"
#include "util/util.h"

static void lut_str(char *buf, size_t n, LutInfo l) {
    if (!l.bits)
        snprintf(buf, n, "none (FP16)");
    else if (l.per_channel)
        snprintf(buf, n, "LUT%d, per_channel %d", l.bits, l.per_channel);
    else
        snprintf(buf, n, "LUT%d, one table per tensor", l.bits);
}

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
    if (!dir && !(dir = default_model_dir())) return fail_with_error();
    if (model_check_path(dir) || check_input(calib_text) || check_input(calib_ids)) return fail_with_error();
    Model m;
    if (model_load(&m, dir)) return fail_with_error();
    const ModelConfig *c = &m.cfg;
    char line[512];
    config_describe(c, line, sizeof line);
    printf("model: %s (%s)\n", m.dir, m.converted ? "anemll conversion" : "Hugging Face checkpoint");
    printf("shape: %s\n", line);
    printf("layer types:");
    for (int l = 0; l < c->num_layers; l++) printf(" %c", c->layer_types[l] == LAYER_FULL ? 'G' : 's');
    printf("   (G global, s sliding)\n");
    size_t total = 0;
    printf("files:\n");
    for (int i = 0; i < m.st.n_files; i++) {
        printf("  %-48s %10.1f MB (%.1f MiB)\n", strrchr(m.st.files[i].path, '/') + 1, m.st.files[i].size / 1e6,
               m.st.files[i].size / 1048576.0);
        total += m.st.files[i].size;
    }
    printf("  %-48s %10.1f MB (%.1f MiB)\n", "total", total / 1e6, total / 1048576.0);
    if (m.converted) {
        char e[64], f[64], h[64];
        lut_str(e, sizeof e, m.meta.lut_embeddings);
        lut_str(f, sizeof f, m.meta.lut_ffn);
        lut_str(h, sizeof h, m.meta.lut_lmhead);
        printf("context %d, batch %d, %d chunks\n", m.meta.context_length, m.meta.batch_size, m.meta.num_chunks);
        printf("embeddings: %s; attention+MLP: %s; LM head: %s\n", e, f, h);
        printf("fp16 scale alpha: %.6g (calibration peak |residual| before %.6g, after %.6g)\n", m.meta.alpha,
               m.meta.peak_before, m.meta.peak_after);
    }
    int rc = 0;
    if (activations) {
        int n;
        char desc[512];
        int *ids = calibration_ids(m.dir, calib_text, calib_ids, &n, desc, sizeof desc);
        float *peaks = xcalloc((size_t)c->num_layers, sizeof(float));
        double peak;
        if (!ids || measure_residual_peaks(&m, ids, n, 64, peaks, &peak, NULL, NULL)) {
            rc = 1;
        } else {
            printf("peak |residual| per layer (FP32, calibration: %s):\n", desc);
            int first_bad = -1;
            for (int l = 0; l < c->num_layers; l++) {
                printf("  layer %2d  %12.6g%s\n", l, peaks[l], peaks[l] > 65504 ? "  > FP16 max" : "");
                if (first_bad < 0 && !isfinite(peaks[l])) first_bad = l;
            }
            /* no scale makes NaN or inf fit FP16: recommending one would hide broken weights */
            if (first_bad >= 0) {
                err_set("the activations are not finite (%g after layer %d, in FP32): the weights are broken, "
                        "no --fp16-scale can help", (double)peaks[first_bad], first_bad);
                rc = 1;
            } else {
                printf("overall peak %.6g; recommended --fp16-scale %.6g (largest multiple of 1/64 <= %.0f / peak)\n",
                       peak, alpha_for_peak(peak), FP16_SCALE_TARGET);
            }
        }
        free(ids);
        free(peaks);
    }
    model_free(&m);
    return rc ? fail_with_error() : 0;
}
