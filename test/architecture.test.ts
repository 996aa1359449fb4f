/**
 * The import rules of docs/ARCHITECTURE.md, checked on every file of src/: the table between the
 * import-rules markers says which modules each module may import, and this test reads it from there
 * (the page is the one source of the rules).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..');
const src = path.join(root, 'src');

/** module → allowed targets ('*' = anything), from the markdown table. */
function readRules(): Map<string, string[]> {
  const page = fs.readFileSync(path.join(root, 'docs/ARCHITECTURE.md'), 'utf8');
  const block = /<!-- import-rules:begin -->([\s\S]*?)<!-- import-rules:end -->/.exec(page);
  if (!block) throw new Error('docs/ARCHITECTURE.md has no import-rules block');
  const rules = new Map<string, string[]>();
  for (const line of block[1]!.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length < 4 || cells[1] === 'module' || cells[1]!.startsWith('---')) continue;
    rules.set(cells[1]!, cells[2]!.split(',').map((s) => s.trim()).filter((s) => s !== ''));
  }
  return rules;
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

/** 'checkpoint/types' for src/checkpoint/types.ts, 'pipeline' for src/pipeline.ts. */
function fileKey(file: string): string {
  return path.relative(src, file).replace(/\.[jt]s$/, '').split(path.sep).join('/');
}

function moduleOf(key: string): string {
  return key.split('/')[0]!;
}

function allowed(target: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => {
    if (p === '*' || p === moduleOf(target) || p === target) return true;
    if (p.includes('*')) return new RegExp(`^${p.split('*').map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')}$`).test(target);
    return false;
  });
}

function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]/gm), ...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]!);
}

describe('docs/ARCHITECTURE.md import rules', () => {
  const rules = readRules();
  const files = sourceFiles(src);

  it('lists every module of src/', () => {
    const modules = [...new Set(files.map((f) => moduleOf(fileKey(f)))), 'web'].sort();
    expect(modules.filter((m) => !rules.has(m))).toEqual([]);
    expect([...rules.keys()].filter((m) => !modules.includes(m))).toEqual([]);
  });

  it('every import of src/ follows the table', () => {
    const broken: string[] = [];
    for (const file of files) {
      const from = moduleOf(fileKey(file));
      for (const spec of importsOf(file)) {
        if (!spec.startsWith('.')) {
          if (spec === 'onnxruntime-node' && from !== 'runtime') broken.push(`${fileKey(file)} imports onnxruntime-node (only runtime/ may)`);
          continue;
        }
        const target = fileKey(path.resolve(path.dirname(file), spec));
        if (target.startsWith('..')) {
          broken.push(`${fileKey(file)} imports ${spec}, outside src/`);
          continue;
        }
        if (moduleOf(target) === from) continue;
        if (!allowed(target, rules.get(from) ?? [])) broken.push(`${fileKey(file)} imports ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('the page (web/src) imports from src/ only the files the table allows, and those use no Node built-ins', () => {
    const broken: string[] = [];
    const webFiles = sourceFiles(path.join(root, 'web/src'));
    for (const file of webFiles) {
      for (const spec of importsOf(file)) {
        if (!spec.startsWith('.')) continue;
        const resolved = path.resolve(path.dirname(file), spec);
        if (!resolved.startsWith(src + path.sep)) continue;
        const target = fileKey(resolved);
        if (!allowed(target, rules.get('web') ?? [])) broken.push(`${path.relative(root, file)} imports src/${target}`);
        const text = fs.readFileSync(path.join(src, `${target}.ts`), 'utf8');
        if (importsOf(path.join(src, `${target}.ts`)).some((i) => i.startsWith('node:')) || /\bprocess\./.test(text)) {
          broken.push(`src/${target} is bundled into the page but uses Node`);
        }
      }
    }
    expect(webFiles.length).toBeGreaterThan(0);
    expect(broken).toEqual([]);
  });

  it('the rule reader sees a violation (guards the test itself)', () => {
    expect(allowed('checkpoint/zip', ['errors', 'checkpoint/types'])).toBe(false);
    expect(allowed('checkpoint/types', ['checkpoint/types'])).toBe(true);
    expect(allowed('models/dit-config', ['models/*-config'])).toBe(true);
    expect(allowed('models/dit', ['models/*-config'])).toBe(false);
  });
});
