import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/run-cli.js';

describe('dit classes', () => {
  it('lists and searches ImageNet names', async () => {
    const r = await runCli(['classes', '--search', 'golden']);
    expect(r).toEqual({ code: 0, stdout: ' 207  golden retriever\n', stderr: '' });
  });
  it('searches by id as the dit serve page does: that class first, then names containing the text', async () => {
    expect(await runCli(['classes', '--search', '207'])).toEqual({ code: 0, stdout: ' 207  golden retriever\n', stderr: '' });
    expect(await runCli(['classes', 'fashion-mnist', '--search', 'Ankle_Boot'])).toEqual({ code: 0, stdout: '   9  Ankle boot, boot\n', stderr: '' });
    expect(await runCli(['classes', 'fashion-mnist', '--search', 'zebra'])).toEqual({ code: 0, stdout: 'no class matches "zebra"\n', stderr: '' });
  });
  it('lists the Fashion-MNIST ten', async () => {
    const r = await runCli(['classes', 'fashion-mnist']);
    expect(r.stdout.trim().split('\n')).toHaveLength(10);
    expect(r.stdout).toContain('   7  Sneaker, trainer');
  });
  it('rejects an unknown table with exit code 2 and one line', async () => {
    const r = await runCli(['classes', 'cifar']);
    expect(r).toEqual({ code: 2, stdout: '', stderr: 'dit: unknown class table "cifar": must be one of imagenet, fashion-mnist\n' });
  });
});
