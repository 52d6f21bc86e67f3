// The app's one door to the client library. A production build bundles
// @fengqiao/client; `build.mjs --mock` points the same import at src/dev/.
import * as Client from '@fengqiao/client';

export { FieldClient, init, openIdbStore } from '@fengqiao/client';

/**
 * The records API the client edits, validates and summarises with: the
 * library's public exports (createDispute, …, validate, checkAuthorship,
 * possibleDuplicates, describeMerge, summarize, readRecord), passed to
 * FieldClient.open explicitly so the client uses exactly what the library
 * exports.
 */
export const records = Client;
