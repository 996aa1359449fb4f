/**
 * DiT's fixed 2-D sin-cos position embedding (get_2d_sincos_pos_embed in facebookresearch/DiT models.py), for layouts that
 * do not store it (diffusers). Computed in float64 like NumPy, then rounded to float32.
 */

/** (grid·grid, hidden) row-major: token m = row·grid + col; first half encodes col, second half row. */
export function sincosPosEmbed2d(hidden: number, grid: number): Float32Array {
  if (hidden % 4 !== 0) throw new Error(`sin-cos position embedding needs hidden size divisible by 4, got ${hidden}`);
  const quarter = hidden / 4;
  const omega = new Float64Array(quarter);
  for (let i = 0; i < quarter; i++) omega[i] = 1 / Math.pow(10000, i / quarter);
  const out = new Float32Array(grid * grid * hidden);
  for (let row = 0; row < grid; row++) {
    for (let col = 0; col < grid; col++) {
      const base = (row * grid + col) * hidden;
      // The official code builds meshgrid(w, h) and embeds grid[0] (the column) first.
      for (const [half, pos] of [
        [0, col],
        [1, row],
      ] as const) {
        const o = base + half * 2 * quarter;
        for (let i = 0; i < quarter; i++) {
          const a = pos * omega[i]!;
          out[o + i] = Math.sin(a);
          out[o + quarter + i] = Math.cos(a);
        }
      }
    }
  }
  return out;
}
