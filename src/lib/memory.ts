/**
 * A full garbage collection on request. V8 lets the heap grow far past what is alive while a command makes
 * hundreds of megabytes of short-lived text (a render of thousands of hosts writes each file and drops it):
 * collecting every so often keeps the process near its live size. `bin/run.js` starts Node with
 * `--expose-gc` for this; where Node was started without it (a test runner, `node bin/run.js`), this is a
 * no-op: the flag is never turned on at run time, which Node documents as undefined behaviour.
 */
import v8 from 'node:v8';

export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** A full collection only when the heap holds more than `bytes` (live or not): one cheap check where a collection may not pay. */
export function collectGarbageAbove(bytes: number): void {
  if (v8.getHeapStatistics().used_heap_size > bytes) collectGarbage();
}
