/** Every `dit` sub-command, each in its own file exporting `register(program)`. */
import type { Command } from 'commander';

export const commands: Array<(program: Command) => void> = [];
