import type { FastifyRequest } from 'fastify';
import type { Principal } from './auth/principal.js';

/**
 * The address bucket: the client's address (behind TRUST_PROXY hops, the forwarded one). It guards every request
 * before its credentials are read, so a flood of bogus credentials is throttled before it costs a lookup each.
 * See docs/ARCHITECTURE.md, "Abuse limits".
 */
export function addressKey(request: FastifyRequest): string {
  return `address:${request.ip}`;
}

/**
 * The bucket a request counts against once its credentials are read: its principal (a user or an API token,
 * wherever it connects from), else its address (public routes, anonymous requests).
 * See docs/ARCHITECTURE.md, "Abuse limits".
 */
export function rateLimitKey(request: FastifyRequest): string {
  const principal = request.principal;
  return principal === null ? addressKey(request) : principalKey(principal);
}

/** A principal's bucket: the same whichever session or address it uses. */
export function principalKey(principal: Principal): string {
  return `${principal.kind}:${principal.id}`;
}
