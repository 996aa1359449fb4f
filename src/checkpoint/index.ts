/** Public API of checkpoint/: the only module that parses foreign file formats. */
export type { DType, LazyTensor, StateDict } from './types.js';
export { openStateDict, type CheckpointFormat, type OpenedStateDict } from './open.js';
export { readSafetensors, writeSafetensors, type SafetensorsFile, type TensorToWrite } from './safetensors.js';
export { readNpy, writeNpy, readNpz, writeNpz, type NpyArray } from './npy.js';
export { loadDiTCheckpoint, inspectDiTCheckpoint, type DiTCheckpoint, type DiTInspection, type DiTLayout, type LoadDiTOptions } from './dit.js';
export { writeStoredZip, type ZipEntryToWrite } from './zip.js';
export { float32ToHalfBits } from './dtype.js';
export { loadVaeCheckpoint, type VaeCheckpoint, type VaeLayout } from './vae.js';
export type { VaeConfig } from '../models/vae-config.js';
