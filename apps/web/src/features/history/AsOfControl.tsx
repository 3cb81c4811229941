import { useState, type SubmitEvent } from 'react';

/**
 * Picks a past moment to show the board as it was, or goes back to the live board. The moment is entered in local
 * time and handed on as an ISO instant.
 */
export function AsOfControl({ asOf, onChange }: { asOf: string | null; onChange: (asOf: string | null) => void }) {
  const [draft, setDraft] = useState('');
  const submit = (event: SubmitEvent<HTMLFormElement>) => {
    event.preventDefault();
    const time = new Date(draft);
    if (!Number.isNaN(time.getTime())) onChange(time.toISOString());
  };
  return (
    <form className="as-of" aria-label="Board as of a past moment" onSubmit={submit}>
      <label htmlFor="as-of-time">Show the board as of</label>
      <input
        id="as-of-time"
        type="datetime-local"
        step="1"
        value={draft}
        onChange={(event) => setDraft(event.target.value)}
      />
      <button type="submit" disabled={draft === ''}>
        Show
      </button>
      {asOf !== null && (
        <button type="button" className="primary" onClick={() => onChange(null)}>
          Back to live
        </button>
      )}
    </form>
  );
}
