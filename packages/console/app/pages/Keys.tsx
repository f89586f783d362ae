import { type ApiKeyInfo, type CreatedApiKey, SCOPES, type Scope } from "@astraeus/client";
import { useRef, useState } from "preact/hooks";
import { ErrorBanner } from "../components/ErrorBanner.tsx";
import { useLoad, useTitle } from "../hooks.ts";
import { ago, when } from "../lib/format.ts";
import { useSession } from "../session.tsx";

const SCOPE_HELP: Record<Scope, string> = {
  "jobs:read": "read jobs, queues, schedules and workers",
  "jobs:write": "submit, cancel and retry jobs, one or many at once; manage schedules",
  worker: "run jobs over the HTTP worker protocol",
  admin: "manage API keys, change queue settings, purge finished jobs",
  webhooks: "register webhook endpoints and read their deliveries",
};

export function KeysPage() {
  useTitle("API keys");
  const { client } = useSession();
  const [showRevoked, setShowRevoked] = useState(false);
  const keys = useLoad(() => client.listKeys({ includeRevoked: showRevoked }), [client, showRevoked]);
  const [created, setCreated] = useState<CreatedApiKey | null>(null);

  return (
    <section>
      <h1>API keys</h1>
      <CreateKey
        onCreated={(k) => {
          setCreated(k);
          keys.reload();
        }}
      />
      {created && <NewKey created={created} onDone={() => setCreated(null)} />}
      <h2>Keys</h2>
      <label class="inline">
        <input
          type="checkbox"
          checked={showRevoked}
          onChange={(e) => setShowRevoked(e.currentTarget.checked)}
        />{" "}
        Show revoked keys
      </label>
      <ErrorBanner error={keys.error} />
      {keys.data && <KeyTable keys={keys.data} onRevoked={keys.reload} />}
    </section>
  );
}

function CreateKey({ onCreated }: { onCreated: (k: CreatedApiKey) => void }) {
  const { client, me, check } = useSession();
  const [tenant, setTenant] = useState(me.tenant);
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<Set<Scope>>(new Set(["jobs:read", "jobs:write"]));
  const [rate, setRate] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const k = await client.createKey({
        tenant: tenant.trim(),
        name: name.trim(),
        scopes: SCOPES.filter((s) => scopes.has(s)),
        ...(rate.trim() ? { rateLimitPerSec: Number(rate) } : {}),
      });
      setName("");
      onCreated(k);
    } catch (err) {
      setError(check(err));
    } finally {
      setBusy(false);
    }
  };
  const toggle = (s: Scope, on: boolean) => {
    const next = new Set(scopes);
    if (on) next.add(s);
    else next.delete(s);
    setScopes(next);
  };

  return (
    <form class="create-key" onSubmit={submit} aria-labelledby="create-key-heading">
      <h2 id="create-key-heading">Create a key</h2>
      <div class="field">
        <label for="k-tenant">Tenant</label>
        <input id="k-tenant" required value={tenant} onInput={(e) => setTenant(e.currentTarget.value)} />
      </div>
      <div class="field">
        <label for="k-name">Name</label>
        <input
          id="k-name"
          required
          maxLength={200}
          value={name}
          placeholder="who or what uses it"
          onInput={(e) => setName(e.currentTarget.value)}
        />
      </div>
      <fieldset>
        <legend>Scopes</legend>
        {SCOPES.map((s) => (
          <label key={s} class="inline">
            <input
              type="checkbox"
              checked={scopes.has(s)}
              onChange={(e) => toggle(s, e.currentTarget.checked)}
            />{" "}
            <code>{s}</code> <span class="muted">{SCOPE_HELP[s]}</span>
          </label>
        ))}
      </fieldset>
      <div class="field">
        <label for="k-rate">Requests per second (empty: the server default)</label>
        <input
          id="k-rate"
          type="number"
          min={1}
          step={1}
          inputMode="numeric"
          value={rate}
          onInput={(e) => setRate(e.currentTarget.value)}
        />
      </div>
      <button type="submit" disabled={busy || scopes.size === 0}>
        Create key
      </button>
      <ErrorBanner error={error} title="The key was not created" />
    </form>
  );
}

function NewKey({ created, onDone }: { created: CreatedApiKey; onDone: () => void }) {
  const input = useRef<HTMLInputElement>(null);
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    input.current?.select();
    try {
      await navigator.clipboard.writeText(created.key);
      setCopied(true);
    } catch {
      // No clipboard access: the key is selected for the person to copy.
    }
  };
  return (
    <section class="new-key" role="status" aria-labelledby="new-key-heading">
      <h2 id="new-key-heading">Key created: copy it now</h2>
      <p>
        This is the only time the key <strong>{created.name}</strong> is shown. The server keeps only its
        hash.
      </p>
      <label for="new-key-value">The new key</label>
      <div class="copy-row">
        <input id="new-key-value" ref={input} readOnly value={created.key} spellcheck={false} />
        <button type="button" onClick={copy}>
          {copied ? "Copied" : "Copy"}
        </button>
        <button type="button" class="secondary" onClick={onDone}>
          Done
        </button>
      </div>
    </section>
  );
}

function KeyTable({ keys, onRevoked }: { keys: ApiKeyInfo[]; onRevoked: () => void }) {
  if (keys.length === 0)
    return <p class="empty">No keys (the bootstrap admin key is not listed: it has no row).</p>;
  return (
    <div class="table-wrap">
      <table class="keys">
        <caption class="visually-hidden">API keys</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Tenant</th>
            <th scope="col">Prefix</th>
            <th scope="col">Scopes</th>
            <th scope="col">Created</th>
            <th scope="col">Last used</th>
            <th scope="col">
              <span class="visually-hidden">Status and actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {keys.map((k) => (
            <KeyRow key={k.id} k={k} onRevoked={onRevoked} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

function KeyRow({ k, onRevoked }: { k: ApiKeyInfo; onRevoked: () => void }) {
  const { client, check } = useSession();
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const revoke = async () => {
    setError(null);
    try {
      await client.revokeKey(k.id);
      setConfirming(false);
      onRevoked();
    } catch (err) {
      setError(check(err));
    }
  };
  return (
    <tr data-key={k.id} class={k.revokedAt ? "revoked" : undefined}>
      <th scope="row">{k.name}</th>
      <td>{k.tenant}</td>
      <td>
        <code>{k.prefix}…</code>
      </td>
      <td>{k.scopes.join(", ")}</td>
      <td title={when(k.createdAt)}>{ago(k.createdAt)}</td>
      <td title={when(k.lastUsedAt)}>{k.lastUsedAt ? ago(k.lastUsedAt) : "never"}</td>
      <td>
        {k.revokedAt ? (
          <span class="badge badge-cancelled">revoked {ago(k.revokedAt)}</span>
        ) : confirming ? (
          <span class="confirm">
            <button
              type="button"
              class="danger"
              onClick={revoke}
              aria-label={`Confirm: revoke key ${k.name}`}
            >
              Confirm revoke
            </button>{" "}
            <button type="button" class="secondary" onClick={() => setConfirming(false)}>
              Keep
            </button>
          </span>
        ) : (
          <button
            type="button"
            class="secondary"
            onClick={() => setConfirming(true)}
            aria-label={`Revoke key ${k.name}`}
          >
            Revoke
          </button>
        )}
        <ErrorBanner error={error} title="Not revoked" />
      </td>
    </tr>
  );
}
