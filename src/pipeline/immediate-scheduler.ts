import { Subscription, type SchedulerAction, type SchedulerLike } from 'rxjs';

/**
 * An RxJS scheduler on Node's `setImmediate`: work runs after the event loop's pending I/O
 * (a fetch's records, acknowledgements), never before it, and without `asyncScheduler`'s
 * ~1 ms timer. Delays other than 0 fall back to timers.
 */
export const immediateScheduler: SchedulerLike = {
  now: () => Date.now(),
  schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay = 0, state?: T): Subscription {
    const action = new Subscription() as Subscription & SchedulerAction<T>;
    let handle: NodeJS.Immediate | NodeJS.Timeout | undefined;
    const cancel = (): void => {
      if (handle === undefined) return;
      clearTimeout(handle as NodeJS.Timeout);
      clearImmediate(handle as NodeJS.Immediate);
      handle = undefined;
    };
    const run = (next?: T): void => {
      handle = undefined;
      if (!action.closed) work.call(action, next);
    };
    // As RxJS's own actions: scheduling again replaces what was pending.
    const arm = (next: T | undefined, ms: number): void => {
      cancel();
      handle = ms > 0 ? setTimeout(run, ms, next) : setImmediate(run, next);
    };
    action.schedule = (next?: T, ms = 0) => {
      arm(next, ms);
      return action;
    };
    action.add(cancel);
    arm(state, delay);
    return action;
  },
};
