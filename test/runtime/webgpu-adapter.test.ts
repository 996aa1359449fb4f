/** Telling a software Vulkan driver (lavapipe) from a GPU, on made-up machines (a fake root folder). */
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { softwareAdapterWarning, softwareOnlyVulkanDriver } from '../../src/runtime/webgpu-adapter.js';

/** A fake root with the given ICD manifests (path → library) and device nodes. */
function machine(manifests: Record<string, string>, devices: readonly string[] = []): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dit-vk-'));
  for (const [file, lib] of Object.entries(manifests)) {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    fs.writeFileSync(path.join(root, file), JSON.stringify({ file_format_version: '1.0.1', ICD: { library_path: lib, api_version: '1.4.305' } }));
  }
  for (const d of devices) {
    fs.mkdirSync(path.dirname(path.join(root, d)), { recursive: true });
    fs.writeFileSync(path.join(root, d), '');
  }
  return root;
}

const probe = (root: string, env: Record<string, string> = {}, platform: NodeJS.Platform = 'linux') => softwareOnlyVulkanDriver({ env, root, home: '/home/u', platform });

// What Debian's mesa-vulkan-drivers installs: every Mesa driver's manifest, lavapipe among them.
const MESA = {
  '/usr/share/vulkan/icd.d/lvp_icd.json': 'libvulkan_lvp.so',
  '/usr/share/vulkan/icd.d/intel_icd.json': 'libvulkan_intel.so',
  '/usr/share/vulkan/icd.d/radeon_icd.json': 'libvulkan_radeon.so',
};
const NVIDIA = { '/etc/vulkan/icd.d/nvidia_icd.json': 'libGLX_nvidia.so.0' };

describe('softwareOnlyVulkanDriver', () => {
  it('lavapipe alone is software', () => {
    expect(probe(machine({ '/usr/share/vulkan/icd.d/lvp_icd.json': 'libvulkan_lvp.so' }))).toBe('libvulkan_lvp.so');
  });

  it('all of Mesa but no render node (a machine without a GPU, as CI) is software', () => {
    expect(probe(machine(MESA))).toBe('libvulkan_lvp.so');
  });

  it('a hardware driver with its device node is not', () => {
    expect(probe(machine(MESA, ['/dev/dri/renderD128']))).toBeUndefined();
    expect(probe(machine({ ...MESA, ...NVIDIA }, ['/dev/nvidia0', '/dev/nvidiactl']))).toBeUndefined();
    expect(probe(machine(MESA, ['/dev/dxg']))).toBeUndefined();
  });

  it('a device node without a hardware driver is software', () => {
    expect(probe(machine({ '/usr/share/vulkan/icd.d/lvp_icd.json': 'libvulkan_lvp.so' }, ['/dev/dri/renderD128']))).toBe('libvulkan_lvp.so');
  });

  it('follows VK_DRIVER_FILES / VK_ICD_FILENAMES (files or folders), which replace the search, and VK_ADD_DRIVER_FILES', () => {
    const root = machine({ ...MESA, ...NVIDIA, '/opt/sw/lvp.json': '/opt/sw/libvulkan_lvp.so' }, ['/dev/nvidia0']);
    expect(probe(root)).toBeUndefined();
    expect(probe(root, { VK_DRIVER_FILES: '/opt/sw/lvp.json' })).toBe('libvulkan_lvp.so');
    expect(probe(root, { VK_ICD_FILENAMES: '/opt/sw' })).toBe('libvulkan_lvp.so');
    expect(probe(root, { VK_DRIVER_FILES: '/etc/vulkan/icd.d/nvidia_icd.json' })).toBeUndefined();
    expect(probe(root, { VK_DRIVER_FILES: '/opt/sw/lvp.json', VK_ADD_DRIVER_FILES: '/etc/vulkan/icd.d/nvidia_icd.json' })).toBeUndefined();
  });

  it('reads the XDG folders the loader reads', () => {
    const root = machine({ '/home/u/.local/share/vulkan/icd.d/sw.json': 'libvk_swiftshader.so', '/opt/data/vulkan/icd.d/lvp.json': 'libvulkan_lvp.so' });
    expect(probe(root)).toBe('libvk_swiftshader.so');
    expect(probe(root, { XDG_DATA_HOME: '/nowhere', XDG_DATA_DIRS: '/opt/data' })).toBe('libvulkan_lvp.so');
  });

  it('says nothing with no Vulkan driver, unreadable manifests, or off Linux', () => {
    expect(probe(machine({}))).toBeUndefined();
    const root = machine({});
    fs.mkdirSync(path.join(root, 'etc/vulkan/icd.d'), { recursive: true });
    fs.writeFileSync(path.join(root, 'etc/vulkan/icd.d/bad.json'), '{ not json');
    fs.writeFileSync(path.join(root, 'etc/vulkan/icd.d/huge.json'), JSON.stringify({ ICD: { library_path: 'libvulkan_lvp.so' }, pad: 'x'.repeat(100_000) }));
    expect(probe(root)).toBeUndefined();
    expect(probe(machine(MESA), {}, 'darwin')).toBeUndefined();
  });
});

describe('softwareAdapterWarning', () => {
  it('is one line naming the driver, the slowdown and what Dawn’s lines mean; nothing for a GPU', () => {
    const w = softwareAdapterWarning('libvulkan_lvp.so')!;
    expect(w).not.toContain('\n');
    expect(w).toMatch(/^--device webgpu runs on a software GPU here \(libvulkan_lvp\.so, .*slower than --device cpu.*artificially reduced.*harmless$/);
    expect(softwareAdapterWarning(undefined)).toBeUndefined();
  });
});
