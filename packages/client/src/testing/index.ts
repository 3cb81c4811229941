export * from './fakeSocket.js';
