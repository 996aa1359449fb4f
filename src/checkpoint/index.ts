/** Public API of checkpoint/: the only module that parses foreign file formats. */
export type { DType, LazyTensor, StateDict } from './types.js';
export { openStateDict, type CheckpointFormat, type OpenedStateDict } from './open.js';
export { readSafetensors, type SafetensorsFile } from './safetensors.js';
export { readNpy, writeNpy, writeNpz, npzArrays, type NpyArray, type NpzArray, type RawNpyHeader } from './npy.js';
export { loadDiTCheckpoint, inspectDiTCheckpoint, type DiTCheckpoint, type DiTInspection, type DiTLayout, type LoadDiTOptions } from './dit.js';
export { loadVaeCheckpoint, type VaeCheckpoint, type VaeLayout } from './vae.js';
export type { VaeConfig } from '../models/vae-config.js';
export { MAX_JSON_BYTES, readJsonObject, type ByteSource } from './file.js';
export type { DiTFiles, FileRef } from './discovery.js';
