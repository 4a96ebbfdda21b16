#include "quant/lut_format.h"

size_t lut_row_bytes(int cols, int bits) { return ((size_t)cols * (size_t)bits + 7) / 8; }

int lut_group_rows(int rows, int per_channel) {
    return (per_channel <= 0 || per_channel > rows) ? rows : per_channel;
}

int lut_num_groups(int rows, int group) { return (rows + group - 1) / group; }

void lut_pack_row(const uint8_t *idx, int cols, int bits, uint8_t *row) {
    uint32_t mask = (1u << bits) - 1u, acc = 0;
    int nacc = 0; /* bits pending in acc, < 8 between indices */
    size_t o = 0;
    for (int c = 0; c < cols; c++) {
        acc |= (idx[c] & mask) << nacc;
        nacc += bits;
        for (; nacc >= 8; nacc -= 8, acc >>= 8) row[o++] = (uint8_t)acc;
    }
    if (nacc > 0) row[o] = (uint8_t)acc;
}

void lut_unpack_row(const uint8_t *row, int cols, int bits, uint8_t *idx) {
    int c = 0;
    if (bits == 6) /* whole groups of 4 indices in 3 bytes, as one 24-bit word */
        for (; c + 4 <= cols; c += 4, row += 3) {
            unsigned v = row[0] | (unsigned)row[1] << 8 | (unsigned)row[2] << 16;
            idx[c] = v & 63, idx[c + 1] = v >> 6 & 63, idx[c + 2] = v >> 12 & 63, idx[c + 3] = v >> 18;
        }
    else if (bits == 4)
        for (; c + 2 <= cols; c += 2, row++) idx[c] = *row & 15, idx[c + 1] = *row >> 4;
    if (c == 0) /* other widths */
        for (; c < cols; c++) idx[c] = (uint8_t)lut_get_index(row, c, bits);
    else /* the rest of a 4- or 6-bit row, row now at its byte c * bits / 8 */
        for (int i = 0; c < cols; c++, i++) idx[c] = (uint8_t)lut_get_index(row, i, bits);
}
