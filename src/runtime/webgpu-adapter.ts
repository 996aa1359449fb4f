/**
 * Whether `--device webgpu` can only land on a software Vulkan driver (Mesa's lavapipe, Google's
 * SwiftShader): WebGPU then runs on the CPU, about 100× slower than the CPU provider (embedded
 * model, 2-core EPYC: 3.8 s per step against 0.03 s).
 *
 * onnxruntime-node does not say which adapter Dawn picked (its verbose log names only the backend
 * type), so the answer comes from what the Vulkan loader can see, on Linux, where Dawn uses Vulkan:
 *
 * 1. The driver manifests the loader would read: VK_DRIVER_FILES (or the older VK_ICD_FILENAMES)
 *    replace the search; VK_ADD_DRIVER_FILES adds to it; otherwise the XDG config and data folders
 *    (`…/vulkan/icd.d`, with /etc and /usr/share among the defaults). A manifest's
 *    `ICD.library_path` names the driver: libvulkan_lvp.so is lavapipe, libvk_swiftshader.so is
 *    SwiftShader; anything else is taken for hardware.
 * 2. A hardware driver needs the GPU's device node: /dev/dri/renderD* (Mesa, AMD, Intel, virtio),
 *    /dev/nvidia0… (NVIDIA's driver), /dev/dxg (WSL). Debian's mesa-vulkan-drivers installs the
 *    manifests of every Mesa driver, so on a machine without a GPU (this project's CI) the Intel
 *    and Radeon manifests are present, but there is no render node for them to open.
 *
 * Software only = some software driver is listed, and no hardware driver is listed or no GPU
 * device node exists. This errs towards silence: a machine with a render node that is not a 3-D
 * GPU (a VM's 2-D virtio card) gets no warning. A timing probe would answer the question directly,
 * but on a shared or busy CPU it is noisy and it costs a run of its own before the real work.
 * Other systems (Dawn on Metal or D3D12) are not judged: undefined.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Where to look: the environment and a root folder (tests use a fake one). */
export interface VulkanProbeEnv {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly root: string;
  readonly home: string;
  readonly platform: NodeJS.Platform;
}

const SOFTWARE_DRIVERS = /(vulkan_lvp|vk_swiftshader)\.(so|dll|dylib)/;
const MAX_MANIFEST_BYTES = 64 * 1024;

function listJson(dir: string): string[] {
  try {
    return fs.readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => path.join(dir, f));
  } catch {
    return [];
  }
}

/** A list of manifest files or folders of them (the loader's VK_DRIVER_FILES form). */
function expandList(value: string, root: string): string[] {
  return value
    .split(':')
    .filter(Boolean)
    .flatMap((p) => {
      const full = path.join(root, p);
      try {
        return fs.statSync(full).isDirectory() ? listJson(full) : [full];
      } catch {
        return [];
      }
    });
}

/** The manifests the Vulkan loader would read (see the loader's LoaderDriverInterface docs). */
function manifestFiles(p: VulkanProbeEnv): string[] {
  const e = p.env;
  const explicit = e.VK_DRIVER_FILES || e.VK_ICD_FILENAMES;
  const extra = e.VK_ADD_DRIVER_FILES ? expandList(e.VK_ADD_DRIVER_FILES, p.root) : [];
  if (explicit) return [...expandList(explicit, p.root), ...extra];
  const configDirs = [e.XDG_CONFIG_HOME || path.join(p.home, '.config'), ...(e.XDG_CONFIG_DIRS || '/etc/xdg').split(':'), '/usr/local/etc', '/etc'];
  const dataDirs = [e.XDG_DATA_HOME || path.join(p.home, '.local/share'), ...(e.XDG_DATA_DIRS || '/usr/local/share:/usr/share').split(':')];
  const dirs = [...configDirs, ...dataDirs].filter(Boolean).map((d) => path.join(p.root, d, 'vulkan', 'icd.d'));
  return [...new Set(dirs)].flatMap(listJson).concat(extra);
}

/** The driver library a manifest names, or undefined when it is unreadable. */
function driverLibrary(file: string): string | undefined {
  try {
    if (fs.statSync(file).size > MAX_MANIFEST_BYTES) return undefined;
    const icd = (JSON.parse(fs.readFileSync(file, 'utf8')) as { ICD?: { library_path?: unknown } }).ICD;
    return typeof icd?.library_path === 'string' ? icd.library_path : undefined;
  } catch {
    return undefined;
  }
}

function hasGpuDeviceNode(root: string): boolean {
  const names = (dir: string) => {
    try {
      return fs.readdirSync(path.join(root, dir));
    } catch {
      return [];
    }
  };
  return names('dev/dri').some((n) => n.startsWith('renderD')) || names('dev').some((n) => /^nvidia\d+$/.test(n) || n === 'dxg');
}

/**
 * The software driver WebGPU can only run on here (e.g. "libvulkan_lvp.so"), or undefined when a
 * hardware GPU may be used or the question does not apply (not Linux, no Vulkan driver at all).
 */
export function softwareOnlyVulkanDriver(
  p: VulkanProbeEnv = { env: process.env, root: '/', home: os.homedir(), platform: process.platform },
): string | undefined {
  if (p.platform !== 'linux') return undefined;
  const libs = manifestFiles(p).map(driverLibrary).filter((l): l is string => l !== undefined);
  const software = libs.filter((l) => SOFTWARE_DRIVERS.test(l));
  if (software.length === 0) return undefined;
  const hardware = libs.length > software.length;
  return hardware && hasGpuDeviceNode(p.root) ? undefined : path.basename(software[0]!);
}

/** The one-line warning for a software adapter, or undefined (see softwareOnlyVulkanDriver). */
export function softwareAdapterWarning(driver: string | undefined): string | undefined {
  if (driver === undefined) return undefined;
  return (
    `--device webgpu runs on a software GPU here (${driver}, a Vulkan driver that draws on the CPU; no GPU device was found): ` +
    `expect it to be far slower than --device cpu (about 100× on the embedded model). ` +
    `Dawn's two "… artificially reduced … to fit dynamic offset allocation limit" lines are about this driver's limits and are harmless`
  );
}
