/** Vitest global setup: the Google emulators (test/support/google-emulators.ts) for the whole run. */
import { startGoogleEmulators } from '../support/google-emulators.js';

export default function setup(): Promise<() => Promise<void>> {
  return startGoogleEmulators();
}
