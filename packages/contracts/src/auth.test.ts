import { TypeCompiler } from '@sinclair/typebox/compiler';
import { describe, expect, it } from 'vitest';
import {
  CreateTokenBodySchema,
  CreatedTokenSchema,
  UpdateUserBodySchema,
  orderInScope,
  roleAllows,
  type Scope,
} from './auth.js';
// Registers the date-time format the schemas use.
import './validate.js';

describe('roles', () => {
  it('grants each role what the weaker roles have, and no more', () => {
    expect(roleAllows('admin', 'operator')).toBe(true);
    expect(roleAllows('operator', 'viewer')).toBe(true);
    expect(roleAllows('operator', 'admin')).toBe(false);
    expect(roleAllows('viewer', 'operator')).toBe(false);
    expect(roleAllows('viewer', 'viewer')).toBe(true);
  });
});

describe('orderInScope', () => {
  const order = { customer_name: 'Bob Smith', status: 'pending' as const };
  it.each<[Scope | null, boolean]>([
    [null, true],
    [{}, true],
    [{ customer: 'bob' }, true],
    [{ customer: 'alice' }, false],
    [{ status: ['pending', 'shipped'] }, true],
    [{ status: ['delivered'] }, false],
    [{ customer: 'SMITH', status: ['pending'] }, true],
    [{ customer: 'smith', status: ['shipped'] }, false],
  ])('scope %j holds the order: %s', (scope, expected) => {
    expect(orderInScope(order, scope)).toBe(expected);
  });
});

describe('auth bodies', () => {
  const createToken = TypeCompiler.Compile(CreateTokenBodySchema);
  const updateUser = TypeCompiler.Compile(UpdateUserBodySchema);
  const created = TypeCompiler.Compile(CreatedTokenSchema);

  it('refuses unknown fields and an empty update', () => {
    expect(createToken.Check({ name: 'ci', role: 'viewer', admin: true })).toBe(false);
    expect(createToken.Check({ name: 'ci', role: 'root' })).toBe(false);
    expect(createToken.Check({ name: 'ci', role: 'viewer', scope: { customer: 'bob' }, expires_in_days: 7 })).toBe(
      true,
    );
    expect(updateUser.Check({})).toBe(false);
    expect(updateUser.Check({ scope: null })).toBe(true);
    expect(updateUser.Check({ password: 'short' })).toBe(false);
  });

  it('a created token carries its secret beside the listed fields, and nothing else', () => {
    const token = {
      id: '0123456789abcdef01234567',
      name: 'ci',
      role: 'viewer',
      scope: null,
      expires_at: '2026-01-01T00:00:00.000Z',
      created_at: '2025-01-01T00:00:00.000Z',
      created_by: 'admin',
      last_used_at: null,
      token: 'secret',
    };
    expect(created.Check(token)).toBe(true);
    expect(created.Check({ ...token, hash: 'x' })).toBe(false);
  });
});
