import type { Client } from './client.js';
import type { EffectiveFilter } from './scope.js';

/** One filter and the live clients that share it: the unit a fan-out builds one frame for. */
export interface FilterGroup {
  readonly filter: EffectiveFilter;
  readonly clients: Set<Client>;
}

/** Live clients grouped by effective filter (equal filters under equal scopes share one key, whatever their spelling). */
export class FilterGroups {
  private readonly groups = new Map<string, FilterGroup>();

  add(client: Client): void {
    const key = client.filter.key;
    let group = this.groups.get(key);
    if (!group) {
      group = { filter: client.filter, clients: new Set() };
      this.groups.set(key, group);
    }
    group.clients.add(client);
  }

  remove(client: Client): void {
    const key = client.filter.key;
    const group = this.groups.get(key);
    if (!group) return;
    group.clients.delete(client);
    if (group.clients.size === 0) this.groups.delete(key);
  }

  [Symbol.iterator](): IterableIterator<FilterGroup> {
    return this.groups.values();
  }
}
