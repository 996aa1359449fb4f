import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/run-cli.js';

describe('dit classes', () => {
  it('lists and searches ImageNet names', async () => {
    const r = await runCli(['classes', 'imagenet', '--search', 'golden']);
    expect(r).toEqual({ code: 0, stdout: ' 207  golden retriever\n', stderr: '' });
  });
  it('searches by id as the dit serve page does: that class first, then names containing the text', async () => {
    expect(await runCli(['classes', 'imagenet', '--search', '207'])).toEqual({ code: 0, stdout: ' 207  golden retriever\n', stderr: '' });
    expect(await runCli(['classes', 'fashion-mnist', '--search', 'Ankle_Boot'])).toEqual({ code: 0, stdout: '   9  Ankle boot, boot\n', stderr: '' });
  });
  it('a search with no match fails (exit 1) and says where else to look', async () => {
    expect(await runCli(['classes', 'fashion-mnist', '--search', 'zebra'])).toEqual({
      code: 1,
      stdout: '',
      stderr: 'dit: no Fashion-MNIST class matches "zebra"; run `dit classes fashion-mnist` for all 10, or search another table: `dit classes imagenet --search ...`\n',
    });
  });
  it('lists the Fashion-MNIST ten', async () => {
    const r = await runCli(['classes', 'fashion-mnist']);
    expect(r.stdout.trim().split('\n')).toHaveLength(10);
    expect(r.stdout).toContain('   7  Sneaker, trainer');
  });
  it('defaults to the table of the model dit sample would load: the embedded Fashion-MNIST model, or ImageNet with --model', async () => {
    expect(await runCli(['classes'])).toEqual(await runCli(['classes', 'fashion-mnist']));
    expect(await runCli(['classes', '--search', 'sneak'])).toEqual({ code: 0, stdout: '   7  Sneaker, trainer\n', stderr: '' });
    expect(await runCli(['classes', '--model', 'DiT-XL/2', '--search', 'golden'])).toEqual({ code: 0, stdout: ' 207  golden retriever\n', stderr: '' });
    expect((await runCli(['classes', '--model', 'DiT-Q/2'])).code).toBe(2);
  });
  it('rejects an unknown table with exit code 2 and one line', async () => {
    const r = await runCli(['classes', 'cifar']);
    expect(r).toEqual({ code: 2, stdout: '', stderr: 'dit: unknown class table "cifar": must be one of fashion-mnist, imagenet\n' });
  });
});
