export * from './auth.js';
export * from './backoff.js';
export * from './errors.js';
export * from './filter.js';
export * from './order.js';
export * from './protocol.js';
export * from './validate.js';
export * from './text.js';
