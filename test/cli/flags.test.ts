/** One declaration per flag, one message per rule: every command that takes a flag says the same. */
import { describe, expect, it } from 'vitest';
import { Command, type Option } from 'commander';
import { commands } from '../../src/cli/commands.js';
import { flag, FLAG_NAMES } from '../../src/cli/flags.js';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../helpers/run-cli.js';

function commandOptions(): Map<string, readonly Option[]> {
  const program = new Command('dit');
  for (const register of commands) register(program);
  return new Map(program.commands.map((c) => [c.name(), c.options]));
}

describe('flag declarations', () => {
  it('a flag that several commands take has the same value name and wording in each', () => {
    const seen = new Map<string, { command: string; text: string }>();
    let shared = 0;
    for (const [command, options] of commandOptions()) {
      for (const o of options) {
        // sweep's and generate's --out are folders, the others' a grid PNG: a different flag under one name.
        if (o.long === '--out' && (command === 'sweep' || command === 'generate')) continue;
        const text = `${o.flags} | ${o.description}`;
        const first = seen.get(o.long!);
        if (first === undefined) seen.set(o.long!, { command, text });
        else {
          shared++;
          expect(text, `${o.long} in ${command} vs ${first.command}`).toBe(first.text);
        }
      }
    }
    // --model, --image-size, --device, --threads, --no-cache, --cache-dir, --samples-per-row... in several commands.
    expect(shared).toBeGreaterThan(20);
  });

  it('a flag that several commands take is declared once, in flags.ts (so its wording cannot drift)', () => {
    const declared = new Set(FLAG_NAMES.map((n) => flag(n).long));
    const takenBy = new Map<string, string[]>();
    for (const [command, options] of commandOptions()) {
      for (const o of options) if (o.long !== '--help') takenBy.set(o.long!, [...(takenBy.get(o.long!) ?? []), command]);
    }
    const shared = [...takenBy].filter(([, cmds]) => cmds.length > 1).map(([long]) => long);
    expect(shared).toContain('--model');
    expect(shared.filter((long) => !declared.has(long))).toEqual([]);
  });

  it('decode and bench show the resolvers\' defaults', () => {
    const options = commandOptions();
    const defaults = (command: string) => Object.fromEntries(options.get(command)!.map((o) => [o.long, o.defaultValue]));
    expect(defaults('decode')).toMatchObject({ '--samples-per-row': '4', '--device': 'cpu' });
    expect(defaults('bench')).toMatchObject({ '--model': 'DiT-XL/2', '--image-size': '256', '--batch': '2', '--repeats': '5', '--attention': undefined, '--opt-level': 'all', '--device': 'cpu' });
    // The attention form's default depends on the device (runtime/devices.ts DEFAULT_ATTENTION); the help says it.
    const attention = options.get('bench')!.find((o) => o.long === '--attention')!;
    expect(attention.description).toContain('default: fused on cpu and cuda, plain on webgpu');
    // One declaration: every command that builds a DiT for sampling takes the same --attention.
    for (const command of ['sample', 'sweep', 'serve', 'generate', 'bench']) {
      expect(options.get(command)!.find((o) => o.long === '--attention'), command).toMatchObject({ flags: attention.flags, description: attention.description });
    }
    expect(defaults('serve')).toMatchObject({ '--port': '7860', '--host': '127.0.0.1', '--max-images': '64', '--max-queue': '8' });
  });
});

describe('every command refuses a bad value with the same line and exit code 2, before any work', () => {
  // The least each command needs to reach its options (required flags and arguments).
  const base: Record<string, string[]> = {
    sample: ['sample'],
    sweep: ['sweep'],
    serve: ['serve'],
    decode: ['decode', '--vae', 'ema', '--latents', 'none.npy'],
    bench: ['bench'],
    inspect: ['inspect', 'none.pt'],
    generate: ['generate', '--out', path.join(os.tmpdir(), 'dit-flags-test-never-written')],
  };
  const cases: Array<[string[], string[], string]> = [
    [['--threads', '0'], ['sample', 'sweep', 'serve', 'decode', 'bench'], 'dit: --threads "0" is out of range: must be an integer in 1..1024\n'],
    [['--threads', '1e3'], ['sample', 'decode', 'bench'], 'dit: --threads "1e3" is out of range: must be an integer in 1..1024\n'],
    [['--device', 'tpu'], ['sample', 'sweep', 'serve', 'decode', 'bench'], 'dit: --device "tpu" is not supported: must be one of cpu, webgpu, cuda\n'],
    [
      ['--model', 'DiT-Q/2'],
      ['sample', 'sweep', 'serve', 'bench', 'inspect'],
      'dit: --model "DiT-Q/2" is not a known model: must be one of DiT-XL/2, DiT-XL/4, DiT-XL/8, DiT-L/2, DiT-L/4, DiT-L/8, DiT-B/2, DiT-B/4, DiT-B/8, DiT-S/2, DiT-S/4, DiT-S/8, SiT-XL/2, SiT-XL/4, SiT-XL/8, SiT-L/2, SiT-L/4, SiT-L/8, SiT-B/2, SiT-B/4, SiT-B/8, SiT-S/2, SiT-S/4, SiT-S/8, REPA-SiT-XL/2, REPA-SiT-XL/4, REPA-SiT-XL/8, REPA-SiT-L/2, REPA-SiT-L/4, REPA-SiT-L/8, REPA-SiT-B/2, REPA-SiT-B/4, REPA-SiT-B/8, REPA-SiT-S/2, REPA-SiT-S/4, REPA-SiT-S/8\n',
    ],
    [['--attention', 'flash'], ['sample', 'sweep', 'serve', 'generate', 'bench'], 'dit: --attention "flash" is not supported: must be one of fused, plain\n'],
    [['--image-size', '7'], ['sample', 'bench', 'inspect'], 'dit: --image-size "7" is out of range: must be an integer in 8..4096 (pixels; 256 or 512 for the official DiT)\n'],
  ];
  for (const [flags, names, message] of cases) {
    it.each(names)(`${flags.join(' ')}: %s`, async (name) => {
      expect(await runCli([...base[name]!, ...flags])).toEqual({ code: 2, stdout: '', stderr: message });
    });
  }
});
