// Finds the newest Automerge document in a phone's sled database (the
// version with the most changes) and writes its saved bytes to a file.
//   node extract.mjs <phone dir> <out.am>
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { A, init } from '../../src/automerge.js';

if (process.argv.length < 4) {
  // Run by `node --test` as a file of the test folder: nothing to do.
  if (process.env.NODE_TEST_CONTEXT) process.exit(0);
  process.stderr.write('usage: node extract.mjs <phone dir> <out.am>\n');
  process.exit(2);
}
await init();
const dir = join(process.argv[2], 'records');
let best = null;
for (const file of readdirSync(dir)) {
  if (file !== 'db' && !file.startsWith('snap')) continue;
  const buf = new Uint8Array(readFileSync(join(dir, file)));
  for (let i = 0; i + 9 < buf.length; i++) {
    if (buf[i] !== 0x85 || buf[i + 1] !== 0x6f || buf[i + 2] !== 0x4a || buf[i + 3] !== 0x83 || buf[i + 8] !== 0) continue;
    let p = i + 9;
    let len = 0;
    let shift = 0;
    for (;;) {
      const b = buf[p++];
      len += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (!(b & 0x80)) break;
    }
    try {
      const bytes = buf.slice(i, p + len);
      const doc = A.load(bytes);
      const changes = A.getAllChanges(doc).length;
      if (!best || changes > best.changes) best = { bytes, changes };
    } catch {
      // not a whole document
    }
  }
}
if (!best) throw new Error(`no document in ${dir}`);
writeFileSync(process.argv[3], best.bytes);
console.log(process.argv[3], best.changes, 'changes');
