import { roleAllows, type Role } from '@orders/contracts';
import { useMe } from './queries.js';

/**
 * What the dashboard offers a role. Hiding a control is a courtesy (the server refuses the request anyway); it keeps
 * people from filling in forms they cannot send. See docs/ARCHITECTURE.md, "Access control".
 */
export interface Permissions {
  createOrders: boolean;
  editOrders: boolean;
  deleteOrders: boolean;
  manageAccess: boolean;
}

/** The controls `role` may use: viewer reads, operator also creates and edits, admin also deletes and manages. */
export function permissionsFor(role: Role | undefined): Permissions {
  if (!role) return { createOrders: false, editOrders: false, deleteOrders: false, manageAccess: false };
  return {
    createOrders: roleAllows(role, 'operator'),
    editOrders: roleAllows(role, 'operator'),
    deleteOrders: roleAllows(role, 'admin'),
    manageAccess: roleAllows(role, 'admin'),
  };
}

/** The signed-in principal's permissions (none while nobody is signed in). */
export function usePermissions(): Permissions {
  return permissionsFor(useMe().data?.role);
}
