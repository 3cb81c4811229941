/**
 * Child process for the `kill -9` test in journal.test.ts (run with `node --import tsx`).
 *
 * Usage: journal-crash-child.ts <dir> <concurrency> <maxRecords> <compactEvery>
 *
 * Opens the journal in <dir>, continues the sequence after what it recovers, and runs <concurrency> appenders that
 * each append `{ seq }` and print `seq` on stdout once the append has resolved (stdout to a pipe is synchronous on
 * Linux, so a printed ack is never lost with the process). Every <compactEvery> appends (0 = never) it compacts with
 * a snapshot of every seq appended so far, so a kill can also land in the middle of a compaction.
 */
import { Long } from 'bson';
import { Journal } from './journal.js';

const [dir, concurrencyArg = '10', maxRecordsArg = '100000', compactEveryArg = '0'] = process.argv.slice(2);
if (dir === undefined) {
  process.stderr.write('usage: journal-crash-child.ts <dir> <concurrency> <maxRecords> <compactEvery>\n');
  process.exit(2);
}
const concurrency = Number(concurrencyArg);
const maxRecords = Number(maxRecordsArg);
const compactEvery = Number(compactEveryArg);
const padding = 'p'.repeat(200);

const seqRecord = (seq: number) => ({ seq: Long.fromNumber(seq), padding });

const { journal, recovered } = await Journal.open({ dir });
let next = (recovered.snapshot?.length ?? 0) + recovered.records.length + 1;
process.stdout.write(`ready ${next}\n`);

async function appender(): Promise<void> {
  while (next <= maxRecords) {
    const seq = next++;
    await journal.append(seqRecord(seq));
    process.stdout.write(`${seq}\n`);
    if (compactEvery > 0 && seq % compactEvery === 0) {
      // The state as of this call: every seq whose append was called so far.
      const upTo = next - 1;
      const snapshot = Array.from({ length: upTo }, (_, index) => seqRecord(index + 1));
      journal.compact(snapshot).catch((error: unknown) => {
        process.stderr.write(`compaction failed: ${String(error)}\n`);
        process.exit(1);
      });
    }
  }
}

await Promise.all(Array.from({ length: concurrency }, appender));
await journal.close();
process.stdout.write('done\n');
