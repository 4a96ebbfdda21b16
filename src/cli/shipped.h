/* Files that ship with the binary (the default model, the eval prompt set), found the same way
 * from the build tree (build/anemll, build/anemll-tiny, data/) and from an installed prefix
 * (PREFIX/bin/anemll, PREFIX/share/anemll/), so neither depends on the current folder. */
#ifndef ANEMLL_SHIPPED_H
#define ANEMLL_SHIPPED_H

/* The first existing path among $ANEMLL_DATA/NAME, <binary's folder>/NAME,
 * <binary's folder>/../data/NAME, <binary's folder>/../share/anemll/NAME and ./data/NAME,
 * newly allocated; NULL when none exists. */
char *shipped_path(const char *name);

#endif
