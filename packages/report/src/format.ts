/**
 * Fixed-point text for a number the way Python's `format(x, '.Nf')` writes it (and so scikit-learn's
 * reports): correctly rounded from the double's exact value, with exact ties rounded half to even.
 * JavaScript's toFixed rounds exact ties away from zero (0.125 -> "0.13" where Python writes "0.12").
 */
export function formatFixed(x: number, digits: number): string {
  if (!Number.isFinite(x)) return String(x);
  // toFixed(100) prints the double's exact decimal expansion (every finite double below 1e21 has one that fits).
  const exact = Math.abs(x).toFixed(100);
  const cut = exact.indexOf('.') + 1 + digits;
  if (!/^50*$/.test(exact.slice(cut))) return x.toFixed(digits);
  const lastKept = exact[digits === 0 ? cut - 2 : cut - 1];
  if (Number(lastKept) % 2 === 1) return x.toFixed(digits);
  const truncated = exact.slice(0, digits === 0 ? cut - 1 : cut);
  return x < 0 ? `-${truncated}` : truncated;
}
