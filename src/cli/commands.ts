/** Every `dit` sub-command, each in its own file exporting `register(program)`. */
import type { Command } from 'commander';
import { register as bench } from './bench.js';
import { register as classes } from './classes.js';
import { register as decode } from './decode.js';
import { register as download } from './download.js';
import { register as fid } from './fid.js';
import { register as generate } from './generate.js';
import { register as inspect } from './inspect.js';
import { register as sample } from './sample.js';
import { register as serve } from './serve.js';
import { register as sweep } from './sweep.js';
import { register as worker } from './worker.js';

export const commands: Array<(program: Command) => void> = [sample, generate, serve, sweep, decode, classes, download, bench, inspect, fid, worker];
