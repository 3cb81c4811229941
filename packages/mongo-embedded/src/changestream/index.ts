/**
 * Change streams over the store's ChangeLog (ARCHITECTURE.md section 4).
 *
 * - Resume tokens are `{ _data: "82" + hex16(clusterTime) + hex16(seq) + kind }` (uppercase, fixed width), kind
 *   00 = event, 01 = the invalidate after that event, 02 = high-water mark ("every record up to seq was scanned").
 *   String order is stream order.
 * - postBatchResumeToken: the last returned event's token when the batch ended on it, otherwise a high-water mark
 *   at the last scanned record, so resuming from it neither replays returned events nor skips unscanned records.
 * - Positioning errors at `aggregate` time: 286 (token/time older than the retained history, or a high-water mark
 *   from another history), 280 (an event token this log never produced for this stream), 260 (resumeAfter an
 *   invalidate, malformed token), 40647/40649 (missing or empty `_data`). At the event: 47 (required image
 *   missing), 280 (user stages changed `_id`); 286 when a slow stream falls behind the retained history.
 * - Update post-images for `whenAvailable`/`required` exist only where the record carries a pre-image, i.e. the
 *   collection had changeStreamPreAndPostImages enabled at write time.
 * - lsid/txnNumber are shown only on the writes of multi-document transactions (as mongod does); those events
 *   arrive together, in the transaction's order, once its commit is durable.
 */
export {
  openChangeStream,
  type ChangeStreamBatch,
  type ChangeStreamCursor,
  type ChangeStreamLimits,
  type ChangeStreamSpec,
} from './cursor.js';
export { assertChangeStreamFirst, isChangeStreamPipeline } from './options.js';
export { encodeResumeToken, decodeResumeToken, type ResumeTokenData } from './token.js';
