import { useId, useRef, useState, type SubmitEvent } from 'react';
import { describeSignInProblem } from '../errors.js';
import { useSignIn } from '../mutations.js';
import { useSession } from '../session.js';

/**
 * The sign-in form. After a session ended by itself it names who was signed in and keeps their username, so signing
 * in again is one password away and the board resumes where it was.
 */
export function SignInPage() {
  const prefix = useId();
  const { ended } = useSession();
  const [username, setUsername] = useState(ended?.kind === 'user' ? ended.username : '');
  const [password, setPassword] = useState('');
  const [problem, setProblem] = useState<{ message: string; field: 'username' | 'password' | 'both' } | null>(null);
  const passwordRef = useRef<HTMLInputElement>(null);
  const signIn = useSignIn();
  const errorId = `${prefix}-error`;

  function submit(event: SubmitEvent<HTMLFormElement>) {
    event.preventDefault();
    if (signIn.isPending) return;
    if (!username.trim()) {
      setProblem({ message: 'Enter your username.', field: 'username' });
      return;
    }
    if (!password) {
      setProblem({ message: 'Enter your password.', field: 'password' });
      passwordRef.current?.focus();
      return;
    }
    setProblem(null);
    signIn.mutate(
      { username: username.trim(), password },
      {
        onError: (error) => {
          setProblem({ message: describeSignInProblem(error), field: 'both' });
          setPassword('');
          passwordRef.current?.focus();
        },
      },
    );
  }

  const invalid = (field: 'username' | 'password') =>
    problem && (problem.field === field || problem.field === 'both')
      ? { 'aria-invalid': true, 'aria-describedby': errorId }
      : {};

  return (
    <div className="app sign-in-page">
      <header className="app-header">
        <h1>Orders</h1>
      </header>
      <main className="sign-in">
        <section className="panel" aria-labelledby={`${prefix}-heading`}>
          <h2 id={`${prefix}-heading`}>Sign in</h2>
          {ended && (
            <p className="form-note" role="status">
              The session of {ended.username} has ended. Sign in again to pick up where you left off.
            </p>
          )}
          <form className="sign-in-form" aria-labelledby={`${prefix}-heading`} onSubmit={submit} noValidate>
            <div className="field">
              <label htmlFor={`${prefix}-username`}>Username</label>
              <input
                id={`${prefix}-username`}
                name="username"
                autoComplete="username"
                autoCapitalize="none"
                spellCheck={false}
                required
                value={username}
                onChange={(e) => setUsername(e.target.value)}
                {...invalid('username')}
              />
            </div>
            <div className="field">
              <label htmlFor={`${prefix}-password`}>Password</label>
              <input
                ref={passwordRef}
                id={`${prefix}-password`}
                name="password"
                type="password"
                autoComplete="current-password"
                required
                value={password}
                onChange={(e) => setPassword(e.target.value)}
                {...invalid('password')}
              />
            </div>
            {problem && (
              <p id={errorId} className="form-error" role="alert">
                {problem.message}
              </p>
            )}
            <div className="form-actions">
              <button type="submit" className="primary" aria-disabled={signIn.isPending || undefined}>
                {signIn.isPending ? 'Signing in…' : 'Sign in'}
              </button>
            </div>
          </form>
        </section>
      </main>
    </div>
  );
}
