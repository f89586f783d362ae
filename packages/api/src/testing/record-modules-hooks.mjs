// Module hooks of record-modules.mjs (they run on the loader thread): report each resolved URL.
let port;
export function initialize(data) {
  port = data.port;
}
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  port.postMessage(r.url);
  return r;
}
