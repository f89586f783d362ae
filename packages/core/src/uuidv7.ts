// RFC 9562 UUIDv7: 48-bit ms timestamp, then a 12-bit counter in rand_a so ids minted in the same
// millisecond by this process stay strictly increasing (good for index locality and keyset paging).
let lastMs = 0;
let counter = 0;
const POOL = new Uint8Array(4096);
let poolPos = POOL.length;
const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

export function uuidv7(now = Date.now()): string {
  let ms = now;
  if (ms <= lastMs) {
    ms = lastMs;
    counter++;
    if (counter > 0xfff) {
      ms = lastMs + 1;
      counter = 0;
    }
  } else {
    counter = Math.floor(Math.random() * 0x400);
  }
  lastMs = ms;
  // Random bytes come from a pooled buffer: one getRandomValues call per 256 ids instead of one per id.
  if (poolPos + 16 > POOL.length) {
    crypto.getRandomValues(POOL);
    poolPos = 0;
  }
  const b = POOL.subarray(poolPos, poolPos + 16);
  poolPos += 16;
  b[0] = Math.floor(ms / 2 ** 40) & 0xff;
  b[1] = Math.floor(ms / 2 ** 32) & 0xff;
  b[2] = (ms >>> 24) & 0xff;
  b[3] = (ms >>> 16) & 0xff;
  b[4] = (ms >>> 8) & 0xff;
  b[5] = ms & 0xff;
  b[6] = 0x70 | ((counter >>> 8) & 0x0f);
  b[7] = counter & 0xff;
  b[8] = 0x80 | ((b[8] ?? 0) & 0x3f);
  let s = "";
  for (let i = 0; i < 16; i++) {
    s += HEX[b[i] ?? 0];
    if (i === 3 || i === 5 || i === 7 || i === 9) s += "-";
  }
  return s;
}

/** The smallest UUIDv7 of a given millisecond: a lower bound for id ranges by time. */
export function uuidv7Floor(ms: number): string {
  const hex = Math.max(0, Math.floor(ms)).toString(16).padStart(12, "0");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7000-8000-000000000000`;
}

export function uuidv7Time(id: string): number {
  return Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
