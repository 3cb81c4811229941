import { startNullServer } from './null-server.js';

// The benchmark's null server alone in its process (its CPU must not share the driver's event loop).
const server = await startNullServer();
process.send?.({ port: server.port });
process.on('disconnect', () => void server.close().finally(() => process.exit(0)));
