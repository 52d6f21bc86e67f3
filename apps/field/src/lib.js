// The app's one door to the client library. A production build bundles
// @fengqiao/client; `build.mjs --mock` points the same import at src/dev/.
export { FieldClient, followUpOverdue, followUpPending, init, isOverdue, openIdbStore } from '@fengqiao/client';
