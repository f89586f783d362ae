import type { Scope } from "@astraeus/client";
import { useTitle } from "../hooks.ts";
import { Link } from "../router.tsx";

export function NotFoundPage({ forbidden }: { forbidden?: Scope }) {
  useTitle(forbidden ? "Not allowed" : "Not found");
  return (
    <section>
      <h1>{forbidden ? "Not allowed" : "No such page"}</h1>
      <p>
        {forbidden
          ? `This page needs an API key with the "${forbidden}" scope.`
          : "The console has no page at this address."}{" "}
        <Link to="/">Go to the overview</Link>.
      </p>
    </section>
  );
}
