import type { AstraeusClient, Me } from "@astraeus/client";
import { useState } from "preact/hooks";
import { ErrorBanner } from "../components/ErrorBanner.tsx";
import { useTitle } from "../hooks.ts";
import { clientFor, isUnauthorized } from "../session.tsx";

export function SignInPage({
  notice,
  onSignedIn,
}: {
  notice: string | null;
  onSignedIn: (client: AstraeusClient, me: Me, key: string) => void;
}) {
  useTitle("Sign in");
  const [key, setKey] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    const k = key.trim();
    if (!k) return;
    setBusy(true);
    setError(null);
    const client = clientFor(k);
    try {
      const me = await client.me();
      onSignedIn(client, me, k);
    } catch (err) {
      setError(
        isUnauthorized(err) ? new Error("The API does not accept this key (unknown or revoked).") : err,
      );
      setBusy(false);
    }
  };

  return (
    <main id="main" class="signin">
      <h1>Astraeus console</h1>
      <p>Sign in with an API key. It is kept in this browser tab only and forgotten when the tab closes.</p>
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      <form onSubmit={submit}>
        <label for="api-key">API key</label>
        <input
          id="api-key"
          name="api-key"
          type="password"
          autocomplete="off"
          spellcheck={false}
          required
          value={key}
          onInput={(e) => setKey(e.currentTarget.value)}
        />
        <button type="submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
      <ErrorBanner error={error} title="Sign-in failed" />
    </main>
  );
}
