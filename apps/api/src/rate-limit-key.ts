import type { FastifyRequest } from 'fastify';

/**
 * The bucket a request counts against: the client's address (behind TRUST_PROXY hops, the forwarded one).
 * The one place that decides who "a client" is for every rate limit, so keying by an authenticated principal
 * later changes this function only. See docs/ARCHITECTURE.md, "Abuse limits".
 */
export function rateLimitKey(request: FastifyRequest): string {
  return `address:${request.ip}`;
}
