import fp from 'fastify-plugin';
import type { FastifyPluginAsync } from 'fastify';
import type { Collection, Db, MongoClient } from 'mongodb';
import type { AppConfig } from '../config.js';
import { connectDatabase } from '../db.js';
import type { OrderDocument } from '../orders/order-document.js';

/**
 * The database connection, built from config: MONGODB_URI, or the embedded engine when it is unset.
 * @see https://www.mongodb.com/docs/drivers/node/current/
 * @see https://github.com/fastify/fastify-plugin
 */
export interface MongoDecorator {
  client: MongoClient;
  db: Db;
  orders: Collection<OrderDocument>;
}

declare module 'fastify' {
  interface FastifyInstance {
    mongo: MongoDecorator;
  }
}

export const ORDERS_COLLECTION = 'orders';

const mongoPlugin: FastifyPluginAsync<{ config: AppConfig }> = async (fastify, { config }) => {
  const database = await connectDatabase(config, {
    info: (message) => fastify.log.info(message),
    warn: (message) => fastify.log.warn(message),
    error: (message) => fastify.log.error(message),
  });
  fastify.decorate('mongo', {
    client: database.client,
    db: database.db,
    orders: database.db.collection<OrderDocument>(ORDERS_COLLECTION),
  });
  // onClose hooks run in reverse order of registration, so plugins that depend on mongo (the feed persisting its
  // position) close before the client does.
  fastify.addHook('onClose', async () => {
    await database.close();
  });
};

export default fp(mongoPlugin, { name: 'mongo' });
