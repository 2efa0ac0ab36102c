/**
 * The demo page's API key: typed once into the header's field, kept in localStorage, and sent by
 * api.ts with every request (HTTP: `Authorization: Bearer KEY`; graphql-ws: `{ apiKey }` in the
 * `connection_init` payload). Without a key the page talks to a server in development mode (no
 * HITA_API_KEYS) as before.
 */

const STORAGE_KEY = 'hita.apiKey';
const listeners = new Set<(key: string | null) => void>();

/** The key in use, or null when none is set. */
export function apiKey(): string | null {
  try {
    return localStorage.getItem(STORAGE_KEY) || null;
  } catch {
    return null; // storage disabled (a privacy mode): the page still works without a key
  }
}

/** Stores the key (null or '' forgets it) and tells the listeners. */
export function setApiKey(key: string | null): void {
  try {
    if (key) localStorage.setItem(STORAGE_KEY, key);
    else localStorage.removeItem(STORAGE_KEY);
  } catch {
    // Not persisted: this page load still has no way to hold it, so it stays unset.
  }
  for (const listener of listeners) listener(apiKey());
}

/** Called after every change of the key; returns the unsubscribe function. */
export function onApiKeyChange(listener: (key: string | null) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/**
 * Wires the header's key form (`#api-key`, `#api-key-input`): shows the stored key, stores what
 * is submitted, then calls `onChange` so the page can load again with it.
 */
export function mountApiKeyField(onChange: () => void): void {
  const form = document.querySelector<HTMLFormElement>('#api-key');
  const input = document.querySelector<HTMLInputElement>('#api-key-input');
  if (!form || !input) return;
  input.value = apiKey() ?? '';
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    setApiKey(input.value.trim() || null);
    onChange();
  });
}
