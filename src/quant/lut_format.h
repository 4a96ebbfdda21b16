/* The packed LUT format that palettized matrices are stored in: what the converter writes, the
 * loader checks and every kernel reads.  Every group of `g` consecutive output rows shares a
 * table of 2^bits FP16 entries, and every weight is stored as the bits-wide index of its entry.
 * Dequant: W[r, c] = lut[r / g][idx[r, c]].
 *
 * Packed index layout:
 *   - each row occupies row_bytes = ceil(cols * bits / 8) bytes and starts on a byte boundary;
 *   - within a row the indices form a little-endian bit stream: index c occupies bits
 *     [c*bits, c*bits + bits) counting from bit 0 (the least significant bit) of byte 0, its
 *     low bits first.  So 4-bit packs two per byte, low nibble first; 6-bit packs four per three
 *     bytes; 8-bit is one byte per index; unused high bits of a row's last byte are zero.
 * Tables: [ngroups][1 << bits] uint16 FP16, ascending within each table. */
#ifndef ANEMLL_LUT_FORMAT_H
#define ANEMLL_LUT_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#define LUT_MIN_BITS 2
#define LUT_MAX_BITS 8

size_t lut_row_bytes(int cols, int bits);
/* Rows per table for a spec: per_channel, or rows when per_channel is 0 (or exceeds rows). */
int lut_group_rows(int rows, int per_channel);
int lut_num_groups(int rows, int group);

/* Index c of a packed row (see the layout above). */
static inline unsigned lut_get_index(const uint8_t *row, int c, int bits) {
    size_t bit = (size_t)c * (size_t)bits;
    unsigned v = row[bit >> 3];
    if ((bit & 7) + (size_t)bits > 8) v |= (unsigned)row[(bit >> 3) + 1] << 8;
    return (v >> (bit & 7)) & ((1u << bits) - 1u);
}
/* idx[cols] (each < 2^bits) <-> one packed row of lut_row_bytes(cols, bits) bytes. */
void lut_pack_row(const uint8_t *idx, int cols, int bits, uint8_t *row);
void lut_unpack_row(const uint8_t *row, int cols, int bits, uint8_t *idx);

#endif
