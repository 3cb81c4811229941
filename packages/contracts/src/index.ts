export * from './auth.js';
export * from './order.js';
export * from './protocol.js';
export * from './validate.js';
