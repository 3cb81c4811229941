export {
  DEFAULT_CHANGE_HISTORY_MAX_BYTES,
  startEmbeddedServer,
  type EmbeddedServer,
  type EmbeddedServerOptions,
} from './server.js';
