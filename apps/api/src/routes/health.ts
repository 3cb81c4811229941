import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';

const HealthSchema = Type.Object({ status: Type.Literal('ok') }, { additionalProperties: false });

const ReadinessSchema = Type.Object(
  {
    status: Type.Union([Type.Literal('ready'), Type.Literal('not_ready')]),
    checks: Type.Object(
      {
        database: Type.Union([Type.Literal('ok'), Type.Literal('unreachable')]),
        feed: Type.Union([Type.Literal('open'), Type.Literal('closed')]),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

/** How long /readyz waits for the database's ping: a probe must answer well within its own timeout. */
const PING_TIMEOUT_MS = 1500;

/** `/healthz`: the process is up. `/readyz`: the database answers and the change feed is open. */
const healthRoutes: FastifyPluginCallbackTypebox = (fastify, _options, done) => {
  fastify.get(
    '/healthz',
    {
      schema: { tags: ['health'], summary: 'Liveness: the process is up', response: { 200: HealthSchema } },
      // Probes are never rate-limited: an orchestrator must see a flooded process as alive.
      config: { access: 'public', rateLimit: false },
    },
    () => ({ status: 'ok' as const }),
  );

  fastify.get(
    '/readyz',
    {
      schema: {
        tags: ['health'],
        summary: 'Readiness: database reachable and change feed open',
        response: { 200: ReadinessSchema, 503: ReadinessSchema },
      },
      config: { access: 'public', rateLimit: false },
    },
    async (_request, reply) => {
      const database = (await pingDatabase()) ? ('ok' as const) : ('unreachable' as const);
      const feed = fastify.realtime.isFeedOpen() ? ('open' as const) : ('closed' as const);
      const ready = database === 'ok' && feed === 'open';
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks: { database, feed } });
    },
  );

  async function pingDatabase(): Promise<boolean> {
    try {
      await withinTimeout(fastify.mongo.db.command({ ping: 1 }), PING_TIMEOUT_MS);
      return true;
    } catch (error) {
      fastify.log.warn({ err: error }, 'readiness: database ping failed');
      return false;
    }
  }
  done();
};

export default healthRoutes;

/** Resolves or rejects like `work`, or rejects once `ms` have passed (the late outcome of `work` is ignored). */
async function withinTimeout(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`no answer within ${String(ms)} ms`));
    }, ms);
  });
  work.catch(() => undefined);
  try {
    await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}
