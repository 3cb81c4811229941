export * from './order.js';
export * from './protocol.js';
export * from './validate.js';
export * from './text.js';
