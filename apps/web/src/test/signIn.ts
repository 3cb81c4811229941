import { screen, within } from '@testing-library/react';
import type { UserEvent } from '@testing-library/user-event';

/** The sign-in form (the page must show it). */
export function signInForm(): HTMLElement {
  return screen.getByRole('form', { name: 'Sign in' });
}

/**
 * Fills in the sign-in form and presses its button, as a person would. A username the form already holds (it keeps
 * the last one after a failure or an expiry) is left as it is; another one replaces it.
 */
export async function submitSignIn(user: UserEvent, username: string, password: string): Promise<void> {
  const form = signInForm();
  const name = within(form).getByLabelText<HTMLInputElement>('Username');
  if (name.value !== username) {
    await user.clear(name);
    await user.type(name, username);
  }
  await user.type(within(form).getByLabelText('Password'), password);
  await user.click(within(form).getByRole('button', { name: 'Sign in' }));
}
