/** The samplers by their user-facing names. */
import type { Sampler } from '../types.js';
import { sampleDdim } from './ddim.js';
import { sampleDdpm } from './ddpm.js';
import { sampleDpmSolverPp2m } from './dpmpp-2m.js';

export const SAMPLER_FUNCTIONS = {
  ddpm: sampleDdpm,
  ddim: sampleDdim,
  'dpm-solver++': sampleDpmSolverPp2m,
} as const satisfies Record<string, Sampler>;

export type SamplerName = keyof typeof SAMPLER_FUNCTIONS;
export const SAMPLER_NAMES = Object.keys(SAMPLER_FUNCTIONS) as SamplerName[];
