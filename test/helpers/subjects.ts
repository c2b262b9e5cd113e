// A fresh subject for each test of a conformance suite: made before the test, cleaned up after it.
import { afterEach, beforeEach } from "vitest";

/**
 * Registers hooks that make a subject before each test of the enclosing describe, hand it to `use` (which
 * keeps what the cases read, e.g. the store), and run its cleanup after the test.
 */
export function freshSubjectPerTest<S extends { cleanup: () => Promise<void> }>(
  make: () => Promise<S>,
  use: (subject: S) => void,
): void {
  let subject: S | undefined;
  beforeEach(async () => {
    subject = await make();
    use(subject);
  });
  afterEach(async () => {
    await subject?.cleanup();
    subject = undefined;
  });
}
