/** The parameter table of a DiT: every state-dict key the official model has, with its shape. */
import { ditMlpWidth, ditOutChannels, type DiTConfig } from './dit-config.js';

/** Size of the sinusoidal timestep features (TimestepEmbedder.frequency_embedding_size). */
export const TIMESTEP_FREQUENCY_DIM = 256;

/** Every parameter of a DiT with its shape, in the official model's state_dict order. */
export function ditParameterShapes(c: DiTConfig): Map<string, number[]> {
  const D = c.hidden_size;
  const p = c.patch_size;
  const mlp = ditMlpWidth(c);
  const grid = c.input_size / p;
  const rows = c.num_classes + (c.class_dropout_prob > 0 ? 1 : 0); // + the null class
  const out = p * p * ditOutChannels(c);
  const s = new Map<string, number[]>([
    ['pos_embed', [1, grid * grid, D]],
    ['x_embedder.proj.weight', [D, c.in_channels, p, p]],
    ['x_embedder.proj.bias', [D]],
    ['t_embedder.mlp.0.weight', [D, TIMESTEP_FREQUENCY_DIM]],
    ['t_embedder.mlp.0.bias', [D]],
    ['t_embedder.mlp.2.weight', [D, D]],
    ['t_embedder.mlp.2.bias', [D]],
    ['y_embedder.embedding_table.weight', [rows, D]],
  ]);
  for (let i = 0; i < c.depth; i++) {
    const b = `blocks.${i}.`;
    s.set(`${b}attn.qkv.weight`, [3 * D, D]);
    s.set(`${b}attn.qkv.bias`, [3 * D]);
    s.set(`${b}attn.proj.weight`, [D, D]);
    s.set(`${b}attn.proj.bias`, [D]);
    s.set(`${b}mlp.fc1.weight`, [mlp, D]);
    s.set(`${b}mlp.fc1.bias`, [mlp]);
    s.set(`${b}mlp.fc2.weight`, [D, mlp]);
    s.set(`${b}mlp.fc2.bias`, [D]);
    s.set(`${b}adaLN_modulation.1.weight`, [6 * D, D]);
    s.set(`${b}adaLN_modulation.1.bias`, [6 * D]);
  }
  s.set('final_layer.linear.weight', [out, D]);
  s.set('final_layer.linear.bias', [out]);
  s.set('final_layer.adaLN_modulation.1.weight', [2 * D, D]);
  s.set('final_layer.adaLN_modulation.1.bias', [2 * D]);
  return s;
}
