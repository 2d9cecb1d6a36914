/**
 * Who may call a runtime route, shared by the core API (runtime-server.ts) and the web UI's
 * routes (ui-routes.ts): a route names its access level in its config, the runtime's onRequest
 * hook authenticates the request and checks the credential's role against ALLOWED.
 */
import type { FastifyRequest } from 'fastify';
import type { Credential, Role } from './credentials.ts';

/**
 * Who may call a route: `public` (anyone), `read` (read or operator; anyone with publicRead),
 * `signin` (read or operator, always with a token), `operator`, `agent`, `worker`, `any` (any
 * credential). Routes without one are `operator`'s.
 */
export type Access = 'public' | 'read' | 'signin' | 'operator' | 'agent' | 'worker' | 'any';

export const ALLOWED: Record<Exclude<Access, 'public'>, readonly Role[]> = {
  read: ['read', 'operator'], signin: ['read', 'operator'], operator: ['operator'], agent: ['agent'], worker: ['worker'],
  any: ['read', 'operator', 'agent', 'worker'],
};

/** A route's options naming its access level. */
export const access = (a: Access) => ({ config: { access: a } });

/** The credential a request was authenticated with (set by the onRequest hook), or null. */
export function credentialOf(req: FastifyRequest): Credential | null {
  return (req as FastifyRequest & { credential?: Credential | null }).credential ?? null;
}
