import { Dashboard } from './features/orders/components/Dashboard.js';

/** The dashboard application (providers live in `main.tsx`, so tests can supply their own). */
export function App() {
  return <Dashboard />;
}
