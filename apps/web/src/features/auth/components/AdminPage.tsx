import type { ReactNode } from 'react';
import { TokensPanel } from './TokensPanel.js';
import { UsersPanel } from './UsersPanel.js';

/** The admin's page: users and API tokens. The server refuses every request here from anyone but an admin. */
export function AdminPage({ account }: { account?: ReactNode }) {
  return (
    <div className="app">
      <header className="app-header">
        <h1>Orders</h1>
        {account}
      </header>
      <main className="admin-page">
        <UsersPanel />
        <TokensPanel />
      </main>
    </div>
  );
}
