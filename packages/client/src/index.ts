export * from './socket.js';
