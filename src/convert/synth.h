/* Random-weight Gemma 3 checkpoints in Hugging Face layout (config.json + BF16
 * model.safetensors) at the real shapes, for tests and benchmarks. */
#ifndef ANEMLL_SYNTH_H
#define ANEMLL_SYNTH_H

#include <stdint.h>

#include "util/progress.h"

/* Known shapes: "tiny", "gemma3-270m", "gemma3-1b", "gemma3-4b". vocab 0 = the shape's own.
 * Reports stage "writing" (weights) to progress (may be NULL). */
int synth_write(const char *shape, const char *out_dir, int vocab, uint64_t seed, const Progress *progress);

#endif
