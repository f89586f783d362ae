import { ApiError } from "@astraeus/client";

/** An API error as the API said it: title and detail, the stable code, the request id for the logs. */
export function ErrorBanner({ error, title }: { error: unknown; title?: string }) {
  if (error === null || error === undefined) return null;
  const api = error instanceof ApiError ? error : null;
  const message = api?.problem?.detail ?? (error instanceof Error ? error.message : String(error));
  return (
    <div class="error" role="alert">
      <p class="error-title">{title ?? api?.problem?.title ?? "Something went wrong"}</p>
      <p class="error-message">{message}</p>
      {api && api.issues.length > 0 && (
        <ul class="error-issues">
          {api.issues.map((i) => (
            <li key={i.path}>
              <code>{i.path || "(request)"}</code>: {i.message}
            </li>
          ))}
        </ul>
      )}
      {api && (
        <p class="error-meta">
          <span>
            Code <code>{api.code}</code> (HTTP {api.status})
          </span>
          {api.requestId && (
            <span>
              Request id <code class="request-id">{api.requestId}</code>
            </span>
          )}
        </p>
      )}
    </div>
  );
}
