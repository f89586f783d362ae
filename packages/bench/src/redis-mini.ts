// A minimal RESP2 client for the harness's own housekeeping (version, SCAN + UNLINK of a prefix).
// The bench package has no Redis client of its own, and borrowing a contender's would couple the
// harness to the library under test.
import { connect, type Socket } from "node:net";

export type Reply = string | number | null | Reply[];

/** Parses one reply from `buf` at `pos`; returns undefined when the buffer does not hold it all yet. */
export function parseReply(buf: Buffer, pos: number): { value: Reply; next: number } | undefined {
  const eol = buf.indexOf("\r\n", pos);
  if (eol < 0) return undefined;
  const type = String.fromCharCode(buf[pos] ?? 0);
  const line = buf.toString("utf8", pos + 1, eol);
  switch (type) {
    case "+":
      return { value: line, next: eol + 2 };
    case "-":
      throw new Error(`redis: ${line}`);
    case ":":
      return { value: Number(line), next: eol + 2 };
    case "$": {
      const len = Number(line);
      if (len < 0) return { value: null, next: eol + 2 };
      if (buf.length < eol + 2 + len + 2) return undefined;
      return { value: buf.toString("utf8", eol + 2, eol + 2 + len), next: eol + 2 + len + 2 };
    }
    case "*": {
      const count = Number(line);
      if (count < 0) return { value: null, next: eol + 2 };
      const items: Reply[] = [];
      let next = eol + 2;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, next);
        if (item === undefined) return undefined;
        items.push(item.value);
        next = item.next;
      }
      return { value: items, next };
    }
    default:
      throw new Error(`redis: unexpected reply type ${JSON.stringify(type)}`);
  }
}

export function encodeCommand(args: readonly string[]): string {
  let out = `*${args.length}\r\n`;
  for (const a of args) out += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
  return out;
}

export class MiniRedis {
  private buf: Buffer = Buffer.alloc(0);
  private readonly waiting: Array<{ ok: (r: Reply) => void; fail: (e: Error) => void }> = [];

  private constructor(private readonly socket: Socket) {
    socket.on("data", (chunk) => this.onData(chunk));
    socket.on("error", (err) => this.failAll(err));
    socket.on("close", () => this.failAll(new Error("redis connection closed")));
  }

  static async connect(url: string): Promise<MiniRedis> {
    const u = new URL(url);
    const socket = connect({ host: u.hostname, port: Number(u.port || 6379) });
    socket.setNoDelay(true);
    await new Promise<void>((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`redis connect timeout ${u.host}`)), 5_000);
      socket.once("connect", () => {
        clearTimeout(timer);
        ok();
      });
      socket.once("error", (e) => {
        clearTimeout(timer);
        fail(e);
      });
    });
    const client = new MiniRedis(socket);
    if (u.password) await client.command(["AUTH", decodeURIComponent(u.password)]);
    const db = u.pathname.replace("/", "");
    if (db !== "" && db !== "0") await client.command(["SELECT", db]);
    return client;
  }

  command(args: readonly string[]): Promise<Reply> {
    return new Promise((ok, fail) => {
      this.waiting.push({ ok, fail });
      this.socket.write(encodeCommand(args));
    });
  }

  /** Deletes every key matching `prefix*`; bounded so a huge keyspace cannot stall the run. */
  async deletePrefix(prefix: string, maxRounds = 100_000): Promise<number> {
    let cursor = "0";
    let deleted = 0;
    for (let round = 0; round < maxRounds; round++) {
      const reply = await this.command(["SCAN", cursor, "MATCH", `${prefix}*`, "COUNT", "1000"]);
      if (!Array.isArray(reply) || typeof reply[0] !== "string" || !Array.isArray(reply[1])) {
        throw new Error("redis: unexpected SCAN reply");
      }
      cursor = reply[0];
      const keys = reply[1].filter((k): k is string => typeof k === "string");
      if (keys.length > 0) deleted += Number(await this.command(["UNLINK", ...keys]));
      if (cursor === "0") return deleted;
    }
    throw new Error(`redis: deleting ${prefix}* did not finish in ${maxRounds} SCAN rounds`);
  }

  async version(): Promise<string> {
    const info = await this.command(["INFO", "server"]);
    const match = typeof info === "string" ? /redis_version:(\S+)/.exec(info) : null;
    return match?.[1] ?? "unknown";
  }

  async close(): Promise<void> {
    this.socket.end();
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    let pos = 0;
    while (pos < this.buf.length && this.waiting.length > 0) {
      let parsed: { value: Reply; next: number } | undefined;
      try {
        parsed = parseReply(this.buf, pos);
      } catch (err) {
        const waiter = this.waiting.shift();
        waiter?.fail(err as Error);
        const eol = this.buf.indexOf("\r\n", pos);
        pos = eol < 0 ? this.buf.length : eol + 2;
        continue;
      }
      if (parsed === undefined) break;
      pos = parsed.next;
      this.waiting.shift()?.ok(parsed.value);
    }
    this.buf = this.buf.subarray(pos);
  }

  private failAll(err: Error): void {
    for (const w of this.waiting.splice(0)) w.fail(err);
  }
}
