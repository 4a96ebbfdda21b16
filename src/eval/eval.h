/* Quality report: how far a candidate model (a conversion, run as a user runs it) is from the
 * unquantized reference (the Hugging Face checkpoint run in FP32), with ANEMLL's metrics
 * (ANEMLL-NOTES §6) computed exactly, in float64 over the full vocabulary at temperature 1.
 * The parts: metrics.h, prompts.h, protocol.h and report.h. */
#ifndef ANEMLL_EVAL_H
#define ANEMLL_EVAL_H

#include "eval/metrics.h"
#include "eval/prompts.h"
#include "eval/protocol.h"
#include "eval/report.h"

/* Remove a folder and everything under it (the sweep's temporary conversions). */
void eval_remove_tree(const char *dir);

#endif
