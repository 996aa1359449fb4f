/**
 * The `dit serve` page: the notebook's controls (seed, steps slider, CFG slider, classes, samples
 * per row) plus sampler and guidance; live progress with a preview of the predicted x0, the final
 * grid with a download link, a compare mode (CFG 1 / 5 / 10 on one seed) and a history of runs.
 * The server validates everything; its message is shown next to the control it names, in the
 * page's words (the control's label where the message names a command-line flag).
 *
 * Two back ends (backend.ts): `dit serve`'s API, or — in the static site and `dit serve --browser`
 * (built with `--mode site`) — a worker running the whole pipeline in this page. The URL query holds
 * the settings (share.ts); when a run ends, <body data-state="done"> and the grid is <img id="result">.
 */
import './style.css';
import { ServerError, type GenerateRequest, type JobEvent, type ServerInfo } from './client.js';
import { serverBackend, type Backend, type Loaded } from './backend.js';
import { readComputeQuery, readShareQuery, shareQuery } from './share.js';
import { loadHistory, saveHistory, storableImage, type HistoryEntry } from './history.js';
import { className as nameIn, normaliseClassName, searchClasses, type ClassTable } from '../../src/class-names.js';
import { resolveClasses } from '../../src/options.js';
import { crossOriginIsolate } from './isolation/register.js';

type DoneEvent = Extract<JobEvent, { type: 'done' }>;
type Field = NonNullable<ServerError['body']['field']>;

function $<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
}

const els = {
  model: $<HTMLParagraphElement>('model'),
  modelDetails: $<HTMLParagraphElement>('model-details'),
  stepsHint: $<HTMLParagraphElement>('steps-hint'),
  imagesHint: $<HTMLParagraphElement>('images-hint'),
  cfgNotice: $<HTMLParagraphElement>('cfg-notice'),
  form: $<HTMLFormElement>('controls'),
  chips: $<HTMLUListElement>('class-chips'),
  search: $<HTMLInputElement>('class-search'),
  options: $<HTMLUListElement>('class-options'),
  seed: $<HTMLInputElement>('seed'),
  seedRandom: $<HTMLButtonElement>('seed-random'),
  stepsRange: $<HTMLInputElement>('steps-range'),
  steps: $<HTMLInputElement>('steps'),
  cfgRange: $<HTMLInputElement>('cfg-range'),
  cfg: $<HTMLInputElement>('cfg'),
  numImages: $<HTMLInputElement>('num-images'),
  perRow: $<HTMLInputElement>('samples-per-row'),
  sampler: $<HTMLSelectElement>('sampler'),
  guidance: $<HTMLSelectElement>('guidance'),
  interval: $<HTMLInputElement>('guidance-interval'),
  spacing: $<HTMLSelectElement>('spacing'),
  eta: $<HTMLInputElement>('eta'),
  generate: $<HTMLButtonElement>('generate'),
  compare: $<HTMLButtonElement>('compare'),
  cancel: $<HTMLButtonElement>('cancel'),
  runs: $<HTMLDivElement>('runs'),
  history: $<HTMLOListElement>('history'),
  historyClear: $<HTMLButtonElement>('history-clear'),
};

/** The control each request field is typed into: where its error is shown and focus goes. */
const CONTROL_OF: Record<Field, HTMLElement> = {
  classLabels: els.search,
  classes: els.search,
  seed: els.seed,
  numSamplingSteps: els.steps,
  cfgScale: els.cfg,
  numImages: els.numImages,
  samplesPerRow: els.perRow,
  sampler: els.sampler,
  guidance: els.guidance,
  guidanceInterval: els.interval,
  spacing: els.spacing,
  eta: els.eta,
};

/**
 * `?backend=auto|wasm|webgpu`, `?threads=N`, `?attention=fused|plain` and `?dtype=fp32|q8|fp16`
 * choose how the page computes (default: WebGPU when there is a hardware adapter, every core up to
 * 4 when isolated (runtime/web.ts defaultWasmThreads), the device's attention form, fp32), read once
 * here and kept in every address a run writes (share.ts); the worker checks them.
 */
const compute = readComputeQuery(location.search);

/** The in-page back end, cross-origin isolated first where the host does not (isolation/register.ts: may reload once). */
async function browserBackend(): Promise<Backend> {
  await crossOriginIsolate();
  return (await import('./local/backend.js')).createBrowserBackend(compute);
}

const backend: Backend = import.meta.env.MODE === 'site' ? await browserBackend() : serverBackend;

let info: ServerInfo;
/** Per class id, its names (display name first), as GET /api/classes lists them. */
let classNames: ClassTable = [];
let chosen: number[] = [];
let history: HistoryEntry[] = loadHistory();
const history_ = window.history;
const active = { ids: new Set<string>(), controllers: new Set<AbortController>() };

// ---- form ↔ request ------------------------------------------------------------------------

/** A number when the box holds one, else the raw text so the server's message quotes it. */
function numberOrText(input: HTMLInputElement): number | string | undefined {
  const text = input.value.trim();
  if (text === '') return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : text;
}

function readForm(): GenerateRequest {
  const request: GenerateRequest = {
    seed: els.seed.value.trim() === '' ? undefined : els.seed.value.trim(),
    numSamplingSteps: numberOrText(els.steps),
    cfgScale: numberOrText(els.cfg),
    numImages: numberOrText(els.numImages),
    samplesPerRow: numberOrText(els.perRow),
    sampler: els.sampler.value,
    guidance: els.guidance.value,
    spacing: els.spacing.value,
    eta: numberOrText(els.eta),
  };
  if (chosen.length > 0) request.classLabels = [...chosen];
  if (els.interval.value.trim() !== '') request.guidanceInterval = els.interval.value.trim();
  return request;
}

function setValue(input: HTMLInputElement | HTMLSelectElement, value: unknown): void {
  input.value = value === undefined || value === null ? '' : String(value);
}

function applyRequest(r: GenerateRequest): void {
  const d = info.defaults;
  setValue(els.seed, r.seed ?? d.seed);
  setValue(els.steps, r.numSamplingSteps ?? d.numSamplingSteps);
  setValue(els.cfg, r.cfgScale ?? d.cfgScale);
  setValue(els.perRow, r.samplesPerRow ?? d.samplesPerRow);
  setValue(els.sampler, r.sampler ?? d.sampler);
  setValue(els.guidance, r.guidance ?? d.guidance);
  setValue(els.spacing, r.spacing ?? d.spacing);
  setValue(els.eta, r.eta ?? d.eta);
  setValue(els.interval, Array.isArray(r.guidanceInterval) ? r.guidanceInterval.join(',') : r.guidanceInterval);
  const labels = Array.isArray(r.classLabels) ? r.classLabels : typeof r.classLabels === 'string' ? r.classLabels.split(',').map(Number) : [];
  chosen = [...new Set(labels.filter((id) => Number.isInteger(id)))];
  setValue(els.numImages, r.numImages ?? imagesFor(chosen));
  syncSliders();
  renderChips();
}

function syncSliders(): void {
  els.stepsRange.value = els.steps.value;
  els.cfgRange.value = els.cfg.value;
  updateCfgNotice();
}

/** A scale past the slider's end is allowed (the server takes any scale ≥ 0), but said to be unusual. */
function updateCfgNotice(): void {
  const cfg = Number(els.cfg.value.trim());
  const max = Number(els.cfgRange.max);
  const beyond = els.cfg.value.trim() !== '' && Number.isFinite(cfg) && cfg > max;
  els.cfgNotice.hidden = !beyond;
  els.cfgNotice.textContent = beyond
    ? `${cfg} is beyond the notebook's range (${els.cfgRange.min}..${max}); it runs, but strong guidance tends to give oversaturated, less varied images.`
    : '';
}

// ---- errors next to their control ---------------------------------------------------------

function clearErrors(): void {
  for (const p of document.querySelectorAll<HTMLElement>('.error')) p.textContent = '';
  for (const c of document.querySelectorAll('[aria-invalid]')) c.removeAttribute('aria-invalid');
}

/** The label the page shows for a control, e.g. "Sampling steps" for #steps. */
function labelOf(control: HTMLElement): string | undefined {
  return document.querySelector(`label[for="${control.id}"]`)?.textContent?.trim() || undefined;
}

/**
 * The server's messages name values by their command-line flags (one wording for the CLI, the
 * library and the API); on the page a flag of a request field reads as that control's label.
 */
function inPageWords(message: string): string {
  return message.replace(/--([a-z][a-z-]*)/g, (flag, name: string) => {
    const key = name.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
    const control = Object.hasOwn(CONTROL_OF, key) ? CONTROL_OF[key as Field] : undefined;
    return (control && labelOf(control)) ?? flag;
  });
}

function showError(err: unknown): void {
  const body = err instanceof ServerError ? err.body : { error: err instanceof Error ? err.message : String(err) };
  const field = body.field === 'classes' ? 'classLabels' : body.field;
  const slot = field ? document.getElementById(`error-${field}`) : null;
  (slot ?? $('error-general')).textContent = inPageWords(body.error);
  const control = field ? CONTROL_OF[field] : undefined;
  if (control && slot) {
    control.setAttribute('aria-invalid', 'true');
    const details = control.closest('details');
    if (details) details.open = true;
    control.focus();
  }
}

// ---- class picker (a combobox over GET /api/classes) --------------------------------------

let activeOption = -1;

function className(id: number): string {
  return nameIn(classNames, id);
}

/** A list item holding one button: the chips and the history are lists of these. */
function buttonItem(className: string, label: string, onClick: () => void, ...content: (Node | string)[]): HTMLLIElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = className;
  b.append(...content);
  b.setAttribute('aria-label', label);
  b.addEventListener('click', onClick);
  const li = document.createElement('li');
  li.append(b);
  return li;
}

function renderChips(): void {
  els.chips.replaceChildren(
    ...chosen.map((id) => {
      const remove = () => {
        setChosen(chosen.filter((c) => c !== id));
        els.search.focus();
      };
      return buttonItem('chip', `Remove ${className(id)} (${id})`, remove, `${className(id)} (${id}) ✕`);
    }),
  );
}

/** One image per chosen class; none chosen means the model's default classes. */
function imagesFor(ids: readonly number[]): number {
  return ids.length > 0 ? ids.length : info.defaults.labels.length;
}

function setChosen(next: number[]): void {
  // Follow the classes while the user has not typed another count.
  if (els.numImages.value === '' || Number(els.numImages.value) === imagesFor(chosen)) {
    els.numImages.value = String(imagesFor(next));
  }
  chosen = next;
  renderChips();
}

/** What the list offers for the search box's text: nothing until something is typed, then at most 50. */
function matches(q: string): number[] {
  return normaliseClassName(q) === '' ? [] : searchClasses(classNames, q).slice(0, 50);
}

function renderOptions(): void {
  const found = matches(els.search.value);
  activeOption = found.length > 0 ? 0 : -1;
  els.options.replaceChildren(
    ...found.map((id, k) => {
      const [name, ...synonyms] = classNames[id]!;
      const li = document.createElement('li');
      li.id = `class-option-${id}`;
      li.setAttribute('role', 'option');
      li.dataset.id = String(id);
      li.textContent = `${name} (${id})${synonyms.length ? ` · ${synonyms.slice(0, 3).join(', ')}` : ''}`;
      li.setAttribute('aria-selected', String(k === activeOption));
      li.addEventListener('mousedown', (e) => e.preventDefault()); // keep focus in the search box
      li.addEventListener('click', () => pick(id));
      return li;
    }),
  );
  if (els.search.value.trim() !== '' && found.length === 0) {
    const li = document.createElement('li');
    li.className = 'muted';
    li.textContent = 'No class matches';
    els.options.append(li);
  }
  const open = els.search.value.trim() !== '';
  els.options.hidden = !open;
  els.search.setAttribute('aria-expanded', String(open));
  highlight();
}

function highlight(): void {
  const items = [...els.options.querySelectorAll<HTMLLIElement>('[role=option]')];
  items.forEach((li, k) => li.setAttribute('aria-selected', String(k === activeOption)));
  const current = items[activeOption];
  if (current) {
    els.search.setAttribute('aria-activedescendant', current.id);
    current.scrollIntoView({ block: 'nearest' });
  } else {
    els.search.removeAttribute('aria-activedescendant');
  }
}

function pick(id: number): void {
  if (!chosen.includes(id)) setChosen([...chosen, id]);
  els.search.value = '';
  renderOptions();
}

els.search.addEventListener('input', renderOptions);
els.search.addEventListener('blur', () => {
  els.options.hidden = true;
  els.search.setAttribute('aria-expanded', 'false');
});
els.search.addEventListener('keydown', (e) => {
  const items = els.options.querySelectorAll<HTMLLIElement>('[role=option]');
  if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
    if (items.length === 0) return;
    e.preventDefault();
    activeOption = (activeOption + (e.key === 'ArrowDown' ? 1 : items.length - 1)) % items.length;
    highlight();
  } else if (e.key === 'Enter' && els.search.value.trim() !== '') {
    e.preventDefault(); // adding a class, not submitting the form
    const li = items[activeOption];
    if (li) pick(Number(li.dataset.id));
  } else if (e.key === 'Escape') {
    els.search.value = '';
    renderOptions();
  } else if (e.key === 'Backspace' && els.search.value === '' && chosen.length > 0) {
    setChosen(chosen.slice(0, -1));
  }
});

// ---- runs ------------------------------------------------------------------------------------

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '…';
  if (s < 60) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

function fileName(r: GenerateRequest): string {
  return `dit-seed${r.seed ?? info.defaults.seed}-cfg${r.cfgScale ?? info.defaults.cfgScale}-${r.numSamplingSteps ?? info.defaults.numSamplingSteps}steps.png`;
}

interface RunPanel {
  readonly root: HTMLElement;
  readonly status: HTMLElement;
  readonly bar: HTMLProgressElement;
  readonly image: HTMLImageElement;
  readonly download: HTMLAnchorElement;
}

function createPanel(caption: string): RunPanel {
  const root = document.createElement('figure');
  root.className = 'run';
  const cap = document.createElement('figcaption');
  cap.textContent = caption;
  const status = document.createElement('p');
  status.className = 'status';
  status.setAttribute('aria-live', 'polite');
  const bar = document.createElement('progress');
  bar.max = 1;
  bar.value = 0;
  bar.setAttribute('aria-label', `Progress: ${caption}`);
  const image = document.createElement('img');
  image.className = 'image';
  image.alt = '';
  image.hidden = true;
  const download = document.createElement('a');
  download.className = 'download button';
  download.textContent = 'Download PNG';
  download.hidden = true;
  root.append(cap, status, bar, image, download);
  return { root, status, bar, image, download };
}

function caption(r: GenerateRequest): string {
  const names = chosenSummary(r);
  return `CFG ${r.cfgScale} · seed ${r.seed ?? info.defaults.seed} · ${r.numSamplingSteps} steps · ${names}`;
}

function chosenSummary(r: GenerateRequest): string {
  const ids = Array.isArray(r.classLabels) ? r.classLabels : [];
  const n = r.numImages ?? (ids.length || info.defaults.labels.length);
  if (ids.length === 0) return `default classes, ${n} images`;
  const names = ids.slice(0, 3).map((id) => className(Number(id)));
  return `${names.join(', ')}${ids.length > 3 ? ` +${ids.length - 3}` : ''}, ${n} image${n === 1 ? '' : 's'}`;
}

/** Runs one request into its panel; resolves to the done event, or undefined when cancelled or failed. */
async function runOne(request: GenerateRequest, panel: RunPanel): Promise<DoneEvent | undefined> {
  const controller = new AbortController();
  active.controllers.add(controller);
  let result: DoneEvent | undefined;
  let id: string | undefined;
  panel.status.textContent = 'Sending…';
  try {
    await backend.generate(
      request,
      (e) => {
        switch (e.type) {
          case 'queued':
            id = e.id;
            active.ids.add(id);
            panel.root.dataset.job = e.id;
            panel.status.textContent = e.position === 0 ? 'Starting…' : `Queued: position ${e.position} (${e.position} job${e.position === 1 ? '' : 's'} ahead)`;
            break;
          case 'started':
            panel.status.textContent = 'Sampling…';
            break;
          case 'phase':
            if (e.phase === 'decoding') panel.status.textContent = 'Decoding…';
            break;
          case 'step':
            panel.bar.max = e.n;
            panel.bar.value = e.i;
            panel.status.textContent = `Step ${e.i}/${e.n} · ${formatSeconds(e.etaSeconds)} left`;
            if (e.preview) {
              panel.image.src = e.preview;
              panel.image.alt = `Preview at step ${e.i} of ${e.n}`;
              panel.image.className = 'image preview';
              panel.image.hidden = false;
            }
            break;
          case 'done':
            result = e;
            panel.bar.value = panel.bar.max;
            panel.status.textContent = `Done: ${e.timings.steps} steps in ${formatSeconds(e.timings.sampleSeconds + e.timings.decodeSeconds)}`;
            panel.image.src = e.resultUrl;
            panel.image.alt = `Result: ${caption(request)}`;
            panel.image.className = 'image final';
            panel.image.hidden = false;
            panel.download.href = e.resultUrl.startsWith('data:') ? e.resultUrl : `${e.resultUrl}?download`;
            panel.download.download = fileName(request);
            panel.download.hidden = false;
            break;
          case 'failed':
            panel.status.textContent = `Failed: ${e.error}`;
            break;
          case 'cancelled':
            panel.status.textContent = `Cancelled (${e.reason})`;
            break;
        }
      },
      controller.signal,
    );
  } catch (err) {
    if (controller.signal.aborted) panel.status.textContent = 'Cancelled';
    else throw err;
  } finally {
    active.controllers.delete(controller);
    if (id) active.ids.delete(id);
  }
  return result;
}

function setBusy(busy: boolean): void {
  els.generate.disabled = busy;
  els.compare.disabled = busy;
  els.cancel.disabled = !busy;
}

/**
 * On one-column screens the result follows the whole form: bring the buttons to the top of the
 * screen so progress and image appear right under them instead of below the fold.
 */
function showRunNearButton(): void {
  if (!window.matchMedia('(max-width: 899px)').matches) return;
  els.generate.closest('.actions')?.scrollIntoView({ block: 'start' });
}

async function start(mode: 'single' | 'compare'): Promise<void> {
  clearErrors();
  const base = readForm();
  history_.replaceState(null, '', `${location.pathname}${shareQuery(base, compute)}${location.hash}`);
  document.body.dataset.state = 'running';
  cancelRequested = false;
  const requests = mode === 'single' ? [base] : [1, 5, 10].map((cfgScale) => ({ ...base, cfgScale }));
  const panels = requests.map((r) => createPanel(caption(r)));
  const previous = { children: [...els.runs.children], compare: els.runs.classList.contains('compare') };
  els.runs.replaceChildren(...panels.map((p) => p.root));
  els.runs.classList.toggle('compare', mode === 'compare');
  setBusy(true);
  showRunNearButton();
  try {
    const settled = await Promise.allSettled(requests.map((r, k) => runOne(r, panels[k]!)));
    const refused = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (refused) {
      for (const c of active.controllers) c.abort();
      // A refused request changes nothing: the last result stays on screen.
      els.runs.replaceChildren(...previous.children);
      els.runs.classList.toggle('compare', previous.compare);
      showError(refused.reason);
      document.body.dataset.state = 'refused';
      return;
    }
    const done = settled.map((s) => (s as PromiseFulfilledResult<DoneEvent | undefined>).value);
    document.body.dataset.state = done.every((d) => d !== undefined) ? 'done' : cancelRequested ? 'cancelled' : 'failed';
    if (done.every((d): d is DoneEvent => d !== undefined)) {
      panels[0]!.image.id = 'result';
      const images = await Promise.all(done.map(async (d, k) => ({ label: caption(requests[k]!), src: await storableImage(d.resultUrl) })));
      addHistory({ key: done[0]!.id, when: Date.now(), model: info.model, mode, request: base, images });
    }
  } catch (err) {
    document.body.dataset.state = 'failed';
    throw err;
  } finally {
    setBusy(false);
  }
}

// ---- history -------------------------------------------------------------------------------

function addHistory(entry: HistoryEntry): void {
  history = saveHistory([entry, ...history]);
  renderHistory();
}

function renderHistory(): void {
  els.history.replaceChildren(
    ...history.map((entry) => {
      const img = document.createElement('img');
      img.src = entry.images[0]?.src ?? '';
      img.alt = '';
      const text = document.createElement('span');
      const r = entry.request;
      const what = entry.mode === 'compare' ? 'Compare CFG 1 · 5 · 10' : `CFG ${r.cfgScale}`;
      text.textContent = `${what} · seed ${r.seed} · ${r.numSamplingSteps} steps · ${r.sampler} · ${chosenSummary(r)}`;
      const when = document.createElement('time');
      when.dateTime = new Date(entry.when).toISOString();
      when.textContent = new Date(entry.when).toLocaleString();
      text.append(document.createElement('br'), when);
      return buttonItem('history-item', `Restore: ${text.textContent}`, () => restore(entry), img, text);
    }),
  );
  els.historyClear.disabled = history.length === 0;
}

function restore(entry: HistoryEntry): void {
  clearErrors();
  applyRequest(entry.request);
  els.runs.classList.toggle('compare', entry.mode === 'compare');
  els.runs.replaceChildren(
    ...entry.images.map((image) => {
      const panel = createPanel(image.label);
      panel.root.classList.add('restored');
      panel.bar.hidden = true;
      panel.status.textContent = `From history, ${new Date(entry.when).toLocaleString()}`;
      panel.image.src = image.src;
      panel.image.alt = `Result: ${image.label}`;
      panel.image.className = 'image final';
      panel.image.hidden = false;
      panel.download.href = image.src;
      panel.download.download = fileName(entry.request).replace(/\.png$/, image.src.startsWith('data:image/jpeg') ? '.jpg' : '.png');
      panel.download.hidden = false;
      return panel.root;
    }),
  );
}

// ---- wiring --------------------------------------------------------------------------------

els.stepsRange.addEventListener('input', () => (els.steps.value = els.stepsRange.value));
els.steps.addEventListener('input', syncSliders);
els.cfgRange.addEventListener('input', () => (els.cfg.value = els.cfgRange.value));
els.cfg.addEventListener('input', syncSliders);
els.seedRandom.addEventListener('click', () => {
  els.seed.value = String(crypto.getRandomValues(new Uint32Array(1))[0]);
});
els.form.addEventListener('submit', (e) => {
  e.preventDefault();
  start('single').catch(showError);
});
els.compare.addEventListener('click', () => start('compare').catch(showError));
/** Whether the run in progress was cancelled from the page (its end state is then "cancelled"). */
let cancelRequested = false;

els.cancel.addEventListener('click', () => {
  cancelRequested = true;
  for (const id of active.ids) void backend.cancel(id);
  // Requests still being sent have no job id yet: closing them cancels on the server.
  if (active.ids.size === 0) for (const c of active.controllers) c.abort();
});
els.historyClear.addEventListener('click', () => {
  history = saveHistory([]);
  renderHistory();
});

function fillSelect(select: HTMLSelectElement, values: readonly string[]): void {
  select.replaceChildren(...values.map((v) => new Option(v, v)));
}

/** The loaded model's facts into the header and the controls' ranges and defaults. */
function showModel(loaded: Loaded): void {
  info = loaded.info;
  classNames = loaded.classes.map((c) => [c.name, ...c.synonyms]);
  els.model.textContent = info.title;
  els.modelDetails.textContent = `${info.numClasses} classes · ${info.imageSize}×${info.imageSize} images · ${info.model}${loaded.where ? ` · ${loaded.where}` : ''}`;
  els.modelDetails.hidden = false;
  els.steps.max = els.stepsRange.max = String(info.limits.maxSamplingSteps);
  els.numImages.max = String(info.limits.maxImages);
  els.stepsHint.textContent = `1..${info.limits.maxSamplingSteps}; more steps, finer images, longer runs.`;
  els.imagesHint.textContent = `1..${info.limits.maxImages} ${backend.kind === 'server' ? 'on this server' : 'per run'}.`;
  fillSelect(els.sampler, info.samplers);
  fillSelect(els.guidance, info.guidanceForms);
  fillSelect(els.spacing, info.spacings);
  applyRequest({ classLabels: [...new Set(info.defaults.labels)], numImages: info.defaults.labels.length });
}

const setStatus = (text: string) => (els.model.textContent = text);

/** The user's model files (the browser back end): the last DiT checkpoint and VAE chosen. */
const chosenFiles = { model: [] as File[], vae: [] as File[] };

/** The browser back end: a checkpoint from this computer (picker, folder picker, or dropped files). */
async function openFiles(files: readonly File[], kind: 'model' | 'vae'): Promise<void> {
  if (!backend.openFiles || files.length === 0) return;
  chosenFiles[kind] = [...files];
  clearErrors();
  if (chosenFiles.model.length === 0) {
    $('error-model').textContent = `VAE ${files[0]!.name} chosen; now open the DiT checkpoint it goes with.`;
    return;
  }
  const previous = info;
  setBusy(true);
  delete document.body.dataset.ready;
  try {
    showModel(await backend.openFiles(chosenFiles.model, chosenFiles.vae, setStatus));
  } catch (err) {
    els.model.textContent = previous.title;
    $('error-model').textContent = err instanceof Error ? err.message : String(err);
  } finally {
    setBusy(false);
    document.body.dataset.ready = 'true';
  }
}

function wireModelFiles(): void {
  $('field-model').hidden = false;
  const inputs = [
    [$<HTMLInputElement>('model-files'), 'model'],
    [$<HTMLInputElement>('model-folder'), 'model'],
    [$<HTMLInputElement>('vae-files'), 'vae'],
  ] as const;
  for (const [input, kind] of inputs) {
    input.addEventListener('change', () => {
      void openFiles([...(input.files ?? [])], kind);
      input.value = '';
    });
  }
  document.addEventListener('dragover', (e) => {
    if (e.dataTransfer?.types.includes('Files')) e.preventDefault();
  });
  document.addEventListener('drop', (e) => {
    const dropped = e.dataTransfer;
    if (!dropped?.files.length) return;
    e.preventDefault();
    // A dropped folder arrives as one empty File; its contents would need the entries API. The
    // folder picker gives them (with their paths), so the page asks for that instead.
    const folder = [...dropped.items].map((item) => item.webkitGetAsEntry?.()).find((entry) => entry?.isDirectory);
    if (folder) {
      clearErrors();
      $('error-model').textContent = `"${folder.name}" is a folder, and dropped folders cannot be read here: choose it with "Open folder…" (or drop the files in it).`;
      return;
    }
    void openFiles([...dropped.files], 'model');
  });
}

async function init(): Promise<void> {
  showModel(await backend.start(setStatus));
  if (backend.openFiles) wireModelFiles();
  renderHistory();
  const shared = readShareQuery(location.search);
  let refused: ServerError | undefined;
  if (shared.any) {
    const base = toRequest(info.defaults);
    const { classes, ...request } = shared.request;
    if (classes !== undefined) {
      // Names, as `--classes` takes them: resolved here so the picker shows them as classes.
      try {
        request.classLabels = resolveClasses(classes, { classTable: info.classTable.named ? classNames : undefined, classTableName: info.classTable.name });
      } catch (err) {
        refused = new ServerError(400, { error: err instanceof Error ? err.message : String(err), field: 'classes' });
      }
    }
    // Classes without a count mean one image per class, as on the command line.
    if (request.classLabels !== undefined) delete base.numImages;
    applyRequest({ ...base, ...request });
  }
  document.body.dataset.ready = 'true';
  if (refused) {
    showError(refused);
    if (shared.run) document.body.dataset.state = 'refused';
  } else if (shared.run) start('single').catch(showError);
}

/** The resolved defaults as a request (the starting point a shared link's values override). */
function toRequest(d: ServerInfo['defaults']): GenerateRequest {
  return { classLabels: [...new Set(d.labels)], numImages: d.labels.length, seed: d.seed, numSamplingSteps: d.numSamplingSteps, cfgScale: d.cfgScale, sampler: d.sampler, guidance: d.guidance, spacing: d.spacing, eta: d.eta, samplesPerRow: d.samplesPerRow };
}

init().catch((err) => {
  els.model.textContent = `${backend.kind === 'server' ? 'Cannot reach the server' : 'Cannot start the model'}: ${err instanceof Error ? err.message : String(err)}`;
});
