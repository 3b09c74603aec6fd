import type { OperatorFunction } from 'rxjs';
import { sessionWindow, slidingWindow, type StreamElement, tumblingWindow, type WindowedElement, type WindowType } from '@llm-feedback/stream-operators';
import type { WindowsConfig } from '../config/index.js';

export interface Windowing<T> {
  readonly assign: OperatorFunction<StreamElement<T>, WindowedElement<T>>;
  readonly allowedLatenessMs: number;
}

const SECOND = 1000;

/**
 * One window spec of a service: a name, a type and its settings. Its name is what stored
 * windows and watermarks are filed under (a restore puts each back under its spec); a spec
 * of `windows.specs` is `named` (its results carry `window.spec`), one of `windows.types`
 * (or `default_type`) is named after its type and takes its type's section of `windows`.
 */
export type WindowSpec = { readonly name: string; readonly named: boolean; readonly allowedLatenessMs: number } & (
  | { readonly type: 'tumbling'; readonly sizeMs: number }
  | { readonly type: 'sliding'; readonly sizeMs: number; readonly slideMs: number }
  | { readonly type: 'session'; readonly gapMs: number }
);

/** The specs `windows` configures, in their order: `specs`, else `types`, else `[default_type]`. */
export function windowSpecs(windows: WindowsConfig): readonly WindowSpec[] {
  if (windows.specs !== undefined) {
    return windows.specs.map((spec): WindowSpec => {
      const common = { name: spec.name, named: true, allowedLatenessMs: spec.allowed_lateness_secs * SECOND };
      switch (spec.type) {
        case 'tumbling':
          return { ...common, type: 'tumbling', sizeMs: spec.size_secs * SECOND };
        case 'sliding':
          return { ...common, type: 'sliding', sizeMs: spec.size_secs * SECOND, slideMs: spec.slide_secs * SECOND };
        case 'session':
          return { ...common, type: 'session', gapMs: spec.gap_secs * SECOND };
      }
    });
  }
  return (windows.types ?? [windows.default_type]).map((type) => typeSpec(windows, type));
}

/** The spec of `type` from its section of `windows`, named after the type. */
function typeSpec(windows: WindowsConfig, type: WindowType): WindowSpec {
  const common = { name: type, named: false };
  switch (type) {
    case 'tumbling':
      return { ...common, type, sizeMs: windows.tumbling.size_secs * SECOND, allowedLatenessMs: windows.tumbling.allowed_lateness_secs * SECOND };
    case 'sliding':
      return { ...common, type, sizeMs: windows.sliding.size_secs * SECOND, slideMs: windows.sliding.slide_secs * SECOND, allowedLatenessMs: windows.sliding.allowed_lateness_secs * SECOND };
    case 'session':
      return { ...common, type, gapMs: windows.session.gap_secs * SECOND, allowedLatenessMs: windows.session.allowed_lateness_secs * SECOND };
  }
}

/** The window assigner and allowed lateness that `windows.default_type` selects. */
export function windowingFromConfig<T>(windows: WindowsConfig): Windowing<T> {
  return windowingOf<T>(typeSpec(windows, windows.default_type));
}

/** The window assigner and allowed lateness of `spec`. */
export function windowingOf<T>(spec: WindowSpec): Windowing<T> {
  const allowedLatenessMs = spec.allowedLatenessMs;
  switch (spec.type) {
    case 'tumbling':
      return { assign: tumblingWindow<T>({ sizeMs: spec.sizeMs }), allowedLatenessMs };
    case 'sliding':
      return { assign: slidingWindow<T>({ sizeMs: spec.sizeMs, slideMs: spec.slideMs }), allowedLatenessMs };
    case 'session':
      return { assign: sessionWindow<T>({ gapMs: spec.gapMs }), allowedLatenessMs };
  }
}
