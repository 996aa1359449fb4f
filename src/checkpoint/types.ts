/** Element types a checkpoint tensor may have on disk. */
export type DType = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I8';

/**
 * One tensor of a checkpoint, not yet read: metadata plus a reader. Readers fetch the bytes on
 * demand (file offset + length), so a 2.7 GB checkpoint is never held in memory twice.
 */
export interface LazyTensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Reads the tensor and converts it to float32, contiguous, C order. */
  toFloat32(): Float32Array;
}

/** name → tensor, in the file's key order. `close()` releases the file handle. */
export interface StateDict {
  readonly tensors: ReadonlyMap<string, LazyTensor>;
  close(): void;
}
