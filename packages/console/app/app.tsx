import { type AstraeusClient, type Me, SCOPES, type Scope } from "@astraeus/client";
import { useCallback, useEffect, useMemo, useState } from "preact/hooks";
import { Layout } from "./components/Layout.tsx";
import { DeadLettersPage } from "./pages/DeadLetters.tsx";
import { JobPage } from "./pages/Job.tsx";
import { JobsPage } from "./pages/Jobs.tsx";
import { KeysPage } from "./pages/Keys.tsx";
import { NotFoundPage } from "./pages/NotFound.tsx";
import { OverviewPage } from "./pages/Overview.tsx";
import { QueuePage } from "./pages/Queue.tsx";
import { QueuesPage } from "./pages/Queues.tsx";
import { SchedulesPage } from "./pages/Schedules.tsx";
import { SignInPage } from "./pages/SignIn.tsx";
import { type Location, useLocation } from "./router.tsx";
import { clientFor, isUnauthorized, type Session, SessionContext, storedKey, storeKey } from "./session.tsx";

/** A page of the console: where it lives, what it needs, and how it renders. */
export interface PageRoute {
  /** Matches the path below /console; its groups are the page's parameters. */
  pattern: RegExp;
  /** The scope a key needs for the page (and its entry in the navigation) to be offered. */
  scope: Scope;
  render(params: string[], loc: Location): preact.JSX.Element;
}

export const ROUTES: PageRoute[] = [
  { pattern: /^\/$/, scope: "jobs:read", render: () => <OverviewPage /> },
  { pattern: /^\/jobs\/?$/, scope: "jobs:read", render: (_, loc) => <JobsPage query={loc.query} /> },
  {
    pattern: /^\/jobs\/([0-9a-fA-F-]{36})\/?$/,
    scope: "jobs:read",
    render: ([id]) => <JobPage id={id ?? ""} />,
  },
  {
    pattern: /^\/dead-letters\/?$/,
    scope: "jobs:read",
    render: (_, loc) => <DeadLettersPage query={loc.query} />,
  },
  { pattern: /^\/queues\/?$/, scope: "jobs:read", render: () => <QueuesPage /> },
  {
    // Queue names are [a-z0-9._-]; the path carries them URL-encoded all the same.
    pattern: /^\/queues\/([^/]+)\/?$/,
    scope: "jobs:read",
    render: ([name]) => {
      const queue = safeDecode(name ?? "");
      return <QueuePage key={queue} name={queue} />;
    },
  },
  {
    pattern: /^\/schedules\/?$/,
    scope: "jobs:read",
    render: (_, loc) => <SchedulesPage query={loc.query} />,
  },
  { pattern: /^\/keys\/?$/, scope: "admin", render: () => <KeysPage /> },
];

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

type State =
  | { status: "checking" }
  | { status: "signed-out"; notice: string | null }
  | { status: "signed-in"; client: AstraeusClient; me: Me };

export function App() {
  const [state, setState] = useState<State>(() => {
    return storedKey() === null ? { status: "signed-out", notice: null } : { status: "checking" };
  });
  const loc = useLocation();

  const signOut = useCallback((reason?: string) => {
    storeKey(null);
    setState({ status: "signed-out", notice: reason ?? null });
  }, []);

  const signIn = useCallback((client: AstraeusClient, me: Me, key: string) => {
    storeKey(key);
    setState({ status: "signed-in", client, me });
  }, []);

  // A key kept from earlier in this tab: ask the API whether it still holds.
  useEffect(() => {
    if (state.status !== "checking") return;
    const key = storedKey();
    if (key === null) return setState({ status: "signed-out", notice: null });
    const client = clientFor(key);
    client.me().then(
      (me) => setState({ status: "signed-in", client, me }),
      (err: unknown) =>
        signOut(isUnauthorized(err) ? "Your API key is no longer accepted. Sign in again." : String(err)),
    );
  }, [state.status, signOut]);

  const session = useMemo<Session | null>(() => {
    if (state.status !== "signed-in") return null;
    const scopes = new Set<Scope>(state.me.scopes.filter((s) => (SCOPES as readonly string[]).includes(s)));
    return {
      client: state.client,
      me: state.me,
      can: (scope) => scopes.has(scope),
      check: (err) => {
        if (isUnauthorized(err)) {
          signOut("Your API key is no longer accepted (revoked or expired). Sign in again.");
          return null;
        }
        return err;
      },
      signOut,
    };
  }, [state, signOut]);

  if (state.status === "checking") return <p class="checking">Checking your API key…</p>;
  if (state.status === "signed-out" || session === null)
    return <SignInPage notice={state.status === "signed-out" ? state.notice : null} onSignedIn={signIn} />;

  let page: preact.JSX.Element = <NotFoundPage />;
  for (const route of ROUTES) {
    const m = route.pattern.exec(loc.path);
    if (!m) continue;
    page = session.can(route.scope) ? (
      route.render(m.slice(1), loc)
    ) : (
      <NotFoundPage forbidden={route.scope} />
    );
    break;
  }
  return (
    <SessionContext.Provider value={session}>
      <Layout path={loc.path}>{page}</Layout>
    </SessionContext.Provider>
  );
}
