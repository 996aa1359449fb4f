/** Every `dit` sub-command, each in its own file exporting `register(program)`. */
import type { Command } from 'commander';
import { register as classes } from './classes.js';
import { register as download } from './download.js';

export const commands: Array<(program: Command) => void> = [classes, download];
