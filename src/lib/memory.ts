/**
 * A full garbage collection on request. V8 lets the heap grow far past what is alive while a command makes
 * hundreds of megabytes of short-lived text (a render of thousands of hosts writes each file and drops it):
 * collecting every so often keeps the process near its live size. No-op where the flag cannot be set.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

let collect: (() => void) | undefined | null = null;

export function collectGarbage(): void {
  if (collect === null) {
    try {
      v8.setFlagsFromString('--expose-gc');
      collect = vm.runInNewContext('gc') as () => void;
    } catch {
      collect = undefined;
    }
  }
  collect?.();
}

/** A full collection only when the heap holds more than `bytes` (live or not): one cheap check where a collection may not pay. */
export function collectGarbageAbove(bytes: number): void {
  if (v8.getHeapStatistics().used_heap_size > bytes) collectGarbage();
}
