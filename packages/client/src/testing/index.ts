export * from './fakeSocket.js';
export * from './orders.js';
