export {
  openChangeStream,
  type ChangeStreamBatch,
  type ChangeStreamCursor,
  type ChangeStreamLimits,
  type ChangeStreamSpec,
} from './cursor.js';
export { assertChangeStreamFirst, isChangeStreamPipeline } from './options.js';
export { encodeResumeToken, decodeResumeToken, type ResumeTokenData } from './token.js';
