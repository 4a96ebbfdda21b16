/* The sweep of the quality report: the reference converted under several LUT configurations into
 * temporary folders. */
#ifndef ANEMLL_EVAL_SWEEP_H
#define ANEMLL_EVAL_SWEEP_H

/* Remove a folder and everything under it (the sweep's temporary conversions). */
void eval_remove_tree(const char *dir);

#endif
