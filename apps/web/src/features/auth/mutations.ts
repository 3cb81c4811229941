import type { CreateTokenBody, CreateUserBody, LoginBody, UpdateUserBody } from '@orders/contracts';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { ApiError } from '../../lib/http.js';
import { createToken, createUser, revokeToken, signIn, signOut, updateUser } from './api.js';
import { authKeys } from './queries.js';
import { useSession } from './session.js';

const mutationKeys = {
  signIn: [...authKeys.all, 'sign-in'] as const,
  signOut: [...authKeys.all, 'sign-out'] as const,
  createUser: [...authKeys.users(), 'create'] as const,
  updateUser: [...authKeys.users(), 'update'] as const,
  createToken: [...authKeys.tokens(), 'create'] as const,
  revokeToken: [...authKeys.tokens(), 'revoke'] as const,
};

/** Signs in; on success the page shows the board (resuming it when the same principal signs in again). */
export function useSignIn() {
  const { signedIn } = useSession();
  return useMutation({
    mutationKey: mutationKeys.signIn,
    mutationFn: (body: LoginBody) => signIn(body),
    onSuccess: (me) => signedIn(me),
  });
}

/**
 * Signs out on the server, then forgets everything cached. A session the server had already ended (401) counts as
 * signed out; a server that cannot be reached does not, since the session would still be valid there.
 */
export function useSignOut() {
  const { signedOut } = useSession();
  return useMutation({
    mutationKey: mutationKeys.signOut,
    mutationFn: () => signOut(),
    onSuccess: () => signedOut(),
    onError: (error) => {
      if (error instanceof ApiError && error.status === 401) signedOut();
    },
  });
}

/** Creates a user (admin); the users list is read again. */
export function useCreateUser() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationKey: mutationKeys.createUser,
    mutationFn: (body: CreateUserBody) => createUser(body),
    onSettled: () => queryClient.invalidateQueries({ queryKey: authKeys.users() }),
  });
}

/** What a change to a user sends: the user's id and the fields that change. */
export interface UpdateUserVariables {
  id: string;
  changes: UpdateUserBody;
}

/** Changes a user's role, scope, disabled flag or password (admin); the users list is read again. */
export function useUpdateUser() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationKey: mutationKeys.updateUser,
    mutationFn: ({ id, changes }: UpdateUserVariables) => updateUser(id, changes),
    onSettled: () => queryClient.invalidateQueries({ queryKey: authKeys.users() }),
  });
}

/**
 * Creates an API token (admin). The secret lives only in this mutation's result, never in the query cache: the
 * tokens list is read again from the server, which never sends it.
 */
export function useCreateToken() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationKey: mutationKeys.createToken,
    mutationFn: (body: CreateTokenBody) => createToken(body),
    // Once the page lets go of the result (the secret was dismissed), nothing keeps it.
    gcTime: 0,
    onSettled: () => queryClient.invalidateQueries({ queryKey: authKeys.tokens() }),
  });
}

/** Revokes an API token (admin); the tokens list is read again. */
export function useRevokeToken() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationKey: mutationKeys.revokeToken,
    mutationFn: (id: string) => revokeToken(id),
    onSettled: () => queryClient.invalidateQueries({ queryKey: authKeys.tokens() }),
  });
}
