/**
 * Calls `listener` once the signal aborts, or now if it already has: a stop that came
 * while the job was still setting up (connecting, creating topics) must not be missed by
 * listeners added after it.
 */
export function whenAborted(signal: AbortSignal, listener: () => void): () => void {
  if (signal.aborted) {
    listener();
    return () => undefined;
  }
  signal.addEventListener('abort', listener, { once: true });
  return () => signal.removeEventListener('abort', listener);
}
