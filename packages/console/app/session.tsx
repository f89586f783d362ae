// Who is signed in. The API key lives in sessionStorage only (gone when the tab closes, never in a URL
// or a cookie) and goes out as `Authorization: Bearer` through the typed client.
import { ApiError, type AstraeusClient, createClient, type Me, type Scope } from "@astraeus/client";
import { createContext } from "preact";
import { useContext } from "preact/hooks";

const STORAGE_KEY = "astraeus.console.apiKey";

export function storedKey(): string | null {
  try {
    return window.sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

export function storeKey(key: string | null): void {
  try {
    if (key === null) window.sessionStorage.removeItem(STORAGE_KEY);
    else window.sessionStorage.setItem(STORAGE_KEY, key);
  } catch {
    // Storage disabled: the key lives as long as the page.
  }
}

export function clientFor(key: string): AstraeusClient {
  // Same origin as the API. Few retries: a person is waiting and can press the button again.
  return createClient({ url: window.location.origin, apiKey: key, retry: { retries: 2 }, timeoutMs: 20_000 });
}

export interface Session {
  client: AstraeusClient;
  me: Me;
  can(scope: Scope): boolean;
  /**
   * Every failed API call passes through here: a key the API no longer accepts (revoked, expired) ends
   * the session and returns to sign-in; any other error is handed back for the page to show.
   */
  check(err: unknown): unknown;
  signOut(reason?: string): void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (s === null) throw new Error("useSession outside a signed-in page");
  return s;
}

export function isUnauthorized(err: unknown): boolean {
  return err instanceof ApiError && err.status === 401;
}
