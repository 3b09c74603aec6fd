/**
 * How a worker thread of `processor.parallelism` is started: the module to run, as
 * `new Worker` takes it. Under tsx (sources run as TypeScript) a worker thread does not
 * inherit the loader, so it registers tsx itself before importing the entry.
 */
export function workerEntry(name: 'kafka-worker' | 'parse-worker'): { readonly code: string | URL; readonly eval: boolean } {
  const typescript = import.meta.url.endsWith('.ts');
  const entry = new URL(`./${name}.${typescript ? 'ts' : 'js'}`, import.meta.url);
  if (!typescript) return { code: entry, eval: false };
  return { code: `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); });`, eval: true };
}
