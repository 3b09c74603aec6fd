import type { OperatorFunction } from 'rxjs';
import { sessionWindow, slidingWindow, type StreamElement, tumblingWindow, type WindowedElement, type WindowType } from '@llm-feedback/stream-operators';
import type { WindowsConfig } from '../config/index.js';

export interface Windowing<T> {
  readonly assign: OperatorFunction<StreamElement<T>, WindowedElement<T>>;
  readonly allowedLatenessMs: number;
}

const SECOND = 1000;

/** The window assigner and allowed lateness that `windows.default_type` selects. */
export function windowingFromConfig<T>(windows: WindowsConfig): Windowing<T> {
  return windowingOf<T>(windows, windows.default_type);
}

/** The window assigner and allowed lateness of `type`, from its section of `windows`. */
export function windowingOf<T>(windows: WindowsConfig, type: WindowType): Windowing<T> {
  switch (type) {
    case 'tumbling':
      return {
        assign: tumblingWindow<T>({ sizeMs: windows.tumbling.size_secs * SECOND }),
        allowedLatenessMs: windows.tumbling.allowed_lateness_secs * SECOND,
      };
    case 'sliding':
      return {
        assign: slidingWindow<T>({ sizeMs: windows.sliding.size_secs * SECOND, slideMs: windows.sliding.slide_secs * SECOND }),
        allowedLatenessMs: windows.sliding.allowed_lateness_secs * SECOND,
      };
    case 'session':
      return {
        assign: sessionWindow<T>({ gapMs: windows.session.gap_secs * SECOND }),
        allowedLatenessMs: windows.session.allowed_lateness_secs * SECOND,
      };
  }
}

/**
 * One window spec of a service: a name and the type whose section of `windows` it takes.
 * Its name is what stored windows and watermarks are filed under (a restore puts each back
 * under its spec); with `windows.types` a spec is named after its type.
 */
export interface WindowSpec {
  readonly name: string;
  readonly type: WindowType;
}

/** The specs `windows` configures, in their order: `windows.types`, or `[default_type]`. */
export function windowSpecs(windows: WindowsConfig): readonly WindowSpec[] {
  return (windows.types ?? [windows.default_type]).map((type) => ({ name: type, type }));
}

