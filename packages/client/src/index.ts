export * from './backoff.js';
export * from './socket.js';
