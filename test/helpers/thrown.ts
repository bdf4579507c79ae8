import { InfraError } from '../../src/lib/errors.js';
import { KeyParseError } from '../../src/core/ssh-key.js';

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

/** The InfraError a promise rejects with; any other outcome fails the test. */
export async function rejection(promise: Promise<unknown>): Promise<InfraError> {
  try {
    await promise;
  } catch (e) {
    if (e instanceof InfraError) return e;
    throw e;
  }
  throw new Error('expected an InfraError');
}

/** The KeyParseError `fn` throws; any other outcome fails the test. */
export function parseError(fn: () => unknown): KeyParseError {
  try {
    fn();
  } catch (e) {
    if (e instanceof KeyParseError) return e;
    throw e;
  }
  throw new Error('expected a KeyParseError');
}
