import { InfraError } from '../../src/lib/errors.js';

/** The InfraError `fn` throws; any other outcome fails the test. */
export function thrown(fn: () => unknown): InfraError {
  try {
    fn();
  } catch (e) {
    if (e instanceof InfraError) return e;
    throw e;
  }
  throw new Error('expected an InfraError');
}
