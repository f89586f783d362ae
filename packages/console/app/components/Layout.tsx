import type { Scope } from "@astraeus/client";
import type { ComponentChildren } from "preact";
import { Link } from "../router.tsx";
import { useSession } from "../session.tsx";

interface NavEntry {
  to: string;
  label: string;
  scope: Scope;
  /** Whether the current path belongs to this entry. */
  matches(path: string): boolean;
}

const NAV: NavEntry[] = [
  { to: "/", label: "Overview", scope: "jobs:read", matches: (p) => p === "/" },
  { to: "/jobs", label: "Jobs", scope: "jobs:read", matches: (p) => p.startsWith("/jobs") },
  {
    to: "/dead-letters",
    label: "Dead letters",
    scope: "jobs:read",
    matches: (p) => p.startsWith("/dead-letters"),
  },
  { to: "/queues", label: "Queues", scope: "jobs:read", matches: (p) => p.startsWith("/queues") },
  { to: "/schedules", label: "Schedules", scope: "jobs:read", matches: (p) => p.startsWith("/schedules") },
  { to: "/keys", label: "API keys", scope: "admin", matches: (p) => p.startsWith("/keys") },
];

export function Layout({ path, children }: { path: string; children: ComponentChildren }) {
  const { me, can, signOut } = useSession();
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Astraeus</span>
        <nav aria-label="Main">
          <ul>
            {NAV.filter((n) => can(n.scope)).map((n) => (
              <li key={n.to}>
                <Link to={n.to} aria-current={n.matches(path) ? "page" : undefined}>
                  {n.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span class="who-name" title={`key ${me.keyId}`}>
            {me.name} · tenant <strong>{me.tenant}</strong>
          </span>
          <button type="button" class="secondary" onClick={() => signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </>
  );
}
