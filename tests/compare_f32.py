#!/usr/bin/env python3
"""compare_f32.py A B VOCAB TOL: max |A-B| <= TOL and equal argmax per row (exit 0).
compare_f32.py --agree A B VOCAB TOL MIN_AGREE: finite, max |A-B| <= TOL and argmax equal on at
least MIN_AGREE of the rows; prints the figures.
compare_f32.py --spread A VOCAB MIN_STD: every row's logits have std >= MIN_STD (not flat)."""
import array, math, sys

def rows(path, vocab):
    a = array.array("f"); a.frombytes(open(path, "rb").read())
    return [a[i:i + vocab] for i in range(0, len(a), vocab)]

if sys.argv[1] == "--spread":
    for r in rows(sys.argv[2], int(sys.argv[3])):
        m = sum(r) / len(r)
        if math.sqrt(sum((x - m) ** 2 for x in r) / len(r)) < float(sys.argv[4]):
            sys.exit(1)
    sys.exit(0)
if sys.argv[1] == "--agree":
    A, B = rows(sys.argv[2], int(sys.argv[4])), rows(sys.argv[3], int(sys.argv[4]))
    tol, need = float(sys.argv[5]), float(sys.argv[6])
    err = max(max(abs(p - q) for p, q in zip(x, y)) for x, y in zip(A, B))
    agree = sum(max(range(len(x)), key=x.__getitem__) == max(range(len(y)), key=y.__getitem__)
                for x, y in zip(A, B)) / len(A)
    print("max |diff| %.4g, argmax agreement %.1f%% over %d positions" % (err, 100 * agree, len(A)))
    sys.exit(0 if len(A) == len(B) and err <= tol and agree >= need else 1)
A, B = rows(sys.argv[1], int(sys.argv[3])), rows(sys.argv[2], int(sys.argv[3]))
tol = float(sys.argv[4])
if len(A) != len(B):
    print("row count %d vs %d" % (len(A), len(B))); sys.exit(1)
for i, (x, y) in enumerate(zip(A, B)):
    err = max(abs(p - q) for p, q in zip(x, y))
    if not err <= tol or max(range(len(x)), key=x.__getitem__) != max(range(len(y)), key=y.__getitem__):
        print("row %d: max err %g" % (i, err)); sys.exit(1)
