/* The sweep. See sweep.h. */
#include "eval/sweep.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "convert/convert.h"
#include "util/util.h"

typedef struct {
    LutInfo emb, ffn, lm;
    char label[256];
} SweepConfig;

/* "lut2=4,4,lut3=6,4": keys lut1 (embeddings), lut2 (FFN), lut3 (LM head); a key left out means
 * no LUT there. */
static int parse_config(const char *s, SweepConfig *c) {
    memset(c, 0, sizeof *c);
    char specs[3][64] = {"", "", ""};
    int cur = -1;
    const char *p = s;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (eq) {
            size_t klen = (size_t)(eq - p);
            cur = klen == 4 && !strncmp(p, "lut1", 4) ? 0 : klen == 4 && !strncmp(p, "lut2", 4) ? 1
                : klen == 4 && !strncmp(p, "lut3", 4) ? 2 : -2;
            if (cur == -2) {
                err_set("--config '%s': unknown key '%.*s' (expected lut1, lut2, lut3)", s, (int)klen, p);
                return -1;
            }
            snprintf(specs[cur], sizeof specs[cur], "%.*s", (int)(len - klen - 1), eq + 1);
        } else if (cur >= 0) {
            size_t k = strlen(specs[cur]);
            snprintf(specs[cur] + k, sizeof specs[cur] - k, ",%.*s", (int)len, p);
        } else {
            err_set("--config '%s': expected lut1=...,lut2=...,lut3=...", s);
            return -1;
        }
        p = end ? end + 1 : p + len;
    }
    LutInfo *l[3] = {&c->emb, &c->ffn, &c->lm};
    for (int i = 0; i < 3; i++)
        if (specs[i][0] && lut_spec_parse(specs[i], l[i])) {
            char why[512];
            snprintf(why, sizeof why, "%s", err_get());
            err_set("--config '%s': %s", s, why);
            return -1;
        }
    eval_luts_label(c->emb, c->ffn, c->lm, c->label, sizeof c->label);
    return 0;
}

static int make_temp_dir(char *out, size_t n) {
    const char *base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    snprintf(out, n, "%s/anemll-eval-XXXXXX", base);
    if (!mkdtemp(out)) {
        err_set("%s: cannot create a temporary folder: %s", base, strerror(errno));
        return -1;
    }
    return 0;
}

/* The seed's four configurations, then each of p->configs; NULL and err_set on a bad one. */
static SweepConfig *sweep_configs(const EvalPlan *p, int *n) {
    static const char *seed[4][2] = {{"none", "none"}, {"4,4", "6,4"}, {"4,8", "none"}, {"4,8", "6,4"}};
    *n = 4 + p->n_configs;
    SweepConfig *cfgs = xcalloc((size_t)*n, sizeof *cfgs);
    for (int i = 0; i < 4; i++) {
        lut_spec_parse(seed[i][0], &cfgs[i].ffn);
        lut_spec_parse(seed[i][1], &cfgs[i].lm);
        eval_luts_label(cfgs[i].emb, cfgs[i].ffn, cfgs[i].lm, cfgs[i].label, sizeof cfgs[i].label);
    }
    for (int i = 0; i < p->n_configs; i++)
        if (parse_config(p->configs[i], &cfgs[4 + i])) {
            free(cfgs);
            return NULL;
        }
    return cfgs;
}

/* The reference converted under c into dir (options o but the LUTs), as phase index of count. */
static int convert_config(const EvalPlan *p, ConvertOptions o, const SweepConfig *c, int index, int count,
                          const char *dir, ConvertReport *cr) {
    o.lut_embeddings = c->emb;
    o.lut_ffn = c->ffn;
    o.lut_lmhead = c->lm;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "anemll eval --sweep (%s)", c->label);
    o.command_line = cmd;
    EvalPhase phase = {.kind = EVAL_PHASE_CONVERT, .label = c->label, .index = index, .count = count};
    int rc = eval_phase_report(p, &phase);
    if (rc == 0) rc = convert_model(p->reference, dir, &o, cr);
    phase.end = 1;
    phase.ok = rc == 0;
    if (eval_phase_report(p, &phase) && rc == 0) rc = -1;
    return rc;
}

int eval_sweep(const EvalPlan *p, const Model *ref, EvalReport **out) {
    int nc;
    SweepConfig *cfgs = sweep_configs(p, &nc);
    if (!cfgs) return -1;
    EvalInputs in;
    int context = eval_context(ref, ref);
    if (eval_inputs_load(p, &ref->cfg, context, &in)) {
        free(cfgs);
        return -1;
    }
    int n_calib;
    char desc[512];
    int *calib = calibration_ids(p->reference, NULL, NULL, &n_calib, desc, sizeof desc);
    char tmp[PATH_MAX];
    if (!calib || make_temp_dir(tmp, sizeof tmp)) {
        free(calib);
        eval_inputs_free(&in);
        free(cfgs);
        return -1;
    }
    EvalReport *r = eval_report_new(p, ref, &in, context);
    snprintf(r->calibration, sizeof r->calibration, "%s", desc);
    r->entries = xcalloc((size_t)nc, sizeof *r->entries);
    long nproc = sysconf(_SC_NPROCESSORS_ONLN);
    ConvertOptions o;
    memset(&o, 0, sizeof o);
    o.batch = 64;
    o.chunks = ref->cfg.num_layers < 2 ? 1 : 2;
    o.threads = nproc > 0 ? (int)nproc : 1;
    o.scale_mode = SCALE_AUTO;
    o.calib_ids = calib;
    o.n_calib = n_calib;
    o.calib_desc = desc;
    o.progress = p->progress;
    int rc = 0;
    for (int i = 0; rc == 0 && i < nc; i++) {
        char dir[PATH_MAX + 32];
        snprintf(dir, sizeof dir, "%s/config%d", tmp, i + 1);
        ConvertReport cr;
        Model cand;
        rc = convert_config(p, o, &cfgs[i], i + 1, nc, dir, &cr);
        if (rc == 0) rc = model_load(&cand, dir);
        if (rc) break;
        EvalEntry *e = &r->entries[r->n_entries++];
        rc = eval_score(&cand, ref, &r->inputs, p, cfgs[i].label, &e->scores);
        if (rc == 0) {
            e->lut_embeddings = cfgs[i].emb;
            e->lut_ffn = cfgs[i].ffn;
            e->lut_lmhead = cfgs[i].lm;
            e->alpha = cr.alpha;
            e->conversion_seconds = cr.seconds;
            eval_model_info(&cand, precision_name(p->precision), eval_candidate_batch(&cand), &e->candidate);
        }
        model_free(&cand);
        remove_tree(dir);
    }
    remove_tree(tmp);
    free(calib);
    free(cfgs);
    if (rc) {
        eval_report_free(r);
        return -1;
    }
    *out = r;
    return 0;
}
