/** The samplers by their user-facing names: DiT's (DDPM schedule), SiT's and REPA's (flow matching). */
import type { FlowSampler } from '../flow.js';
import type { Sampler } from '../types.js';
import { sampleDdim } from './ddim.js';
import { sampleDdpm } from './ddpm.js';
import { sampleDpmSolverPp2m } from './dpmpp-2m.js';
import { sampleRepaOdeEuler, sampleRepaOdeHeun, sampleRepaSde } from './repa.js';
import { sampleSitOdeDopri5, sampleSitOdeEuler, sampleSitOdeHeun, sampleSitSdeEuler, sampleSitSdeHeun } from './sit.js';

export const SAMPLER_FUNCTIONS = {
  ddpm: sampleDdpm,
  ddim: sampleDdim,
  'dpm-solver++': sampleDpmSolverPp2m,
} as const satisfies Record<string, Sampler>;

/** SiT's sample.py ODE (torchdiffeq euler / heun2 / dopri5) and SDE (Euler / Heun); REPA's samplers.py. */
export const FLOW_SAMPLER_FUNCTIONS = {
  'sit-ode-dopri5': sampleSitOdeDopri5,
  'sit-ode-euler': sampleSitOdeEuler,
  'sit-ode-heun': sampleSitOdeHeun,
  'sit-sde-euler': sampleSitSdeEuler,
  'sit-sde-heun': sampleSitSdeHeun,
  'repa-sde': sampleRepaSde,
  'repa-ode-euler': sampleRepaOdeEuler,
  'repa-ode-heun': sampleRepaOdeHeun,
} as const satisfies Record<string, FlowSampler>;

export type DiTSamplerName = keyof typeof SAMPLER_FUNCTIONS;
export type FlowSamplerName = keyof typeof FLOW_SAMPLER_FUNCTIONS;
export type SamplerName = DiTSamplerName | FlowSamplerName;
export const SAMPLER_NAMES = [...Object.keys(SAMPLER_FUNCTIONS), ...Object.keys(FLOW_SAMPLER_FUNCTIONS)] as SamplerName[];

/** The model family each sampler is written for (models/dit-config.ts ModelFamily). */
export function samplerFamily(name: SamplerName): 'dit' | 'sit' | 'repa' {
  return name.startsWith('sit-') ? 'sit' : name.startsWith('repa-') ? 'repa' : 'dit';
}

export function isFlowSampler(name: SamplerName): name is FlowSamplerName {
  return name in FLOW_SAMPLER_FUNCTIONS;
}
