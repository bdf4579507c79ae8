/**
 * Registers hooks that make every test of the calling file run with INFRA_CACHE_MIN_MEMBERS=0, so that a
 * registry of a few members keeps derived state (.infra-cache) as a big one does, and restores the
 * variable after each test (a test may still set it to something else for itself).
 */
export function keepDerivedStateForSmallRegistries(): void {
  let saved: string | undefined;
  beforeEach(() => {
    saved = process.env.INFRA_CACHE_MIN_MEMBERS;
    process.env.INFRA_CACHE_MIN_MEMBERS = '0';
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.INFRA_CACHE_MIN_MEMBERS;
    else process.env.INFRA_CACHE_MIN_MEMBERS = saved;
  });
}
