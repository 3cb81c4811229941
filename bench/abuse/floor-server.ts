import Fastify from 'fastify';

/*
 * The floor of the request-flood measurement: a bare Fastify (no logger, no plugins, no database) that answers the
 * flooder's address 429 in its first hook and the bystander a fixed body of the real read's size. What the
 * bystander's p99 does here during the flood is what any Node process on this machine gives, whatever the server
 * does per request: the flooding client's own CPU and the loopback's work are in it, the API's is not.
 *
 * Env: FLOOR_FLOODER (the flooder's source address), FLOOR_BODY (the bystander's answer). Prints the port.
 */

const flooder = process.env.FLOOR_FLOODER ?? '127.0.0.2';
const body = process.env.FLOOR_BODY ?? '{}';
const app = Fastify({ logger: false });
app.addHook('onRequest', (request, reply, done) => {
  if (request.socket.remoteAddress === flooder) {
    void reply.code(429).header('retry-after', '1').send({ statusCode: 429, code: 'RATE_LIMITED' });
    return;
  }
  done();
});
app.get('/orders', (_request, reply) => reply.type('application/json').send(body));
const address = await app.listen({ port: 0, host: '127.0.0.1' });
process.stdout.write(`Server listening at ${address}\n`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
