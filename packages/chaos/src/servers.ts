// The run's own Postgres and Redis: started on free 127.0.0.1 ports from temporary folders, so the suite
// may stop and start the server processes themselves without touching the shared 5432/6379 that other
// tests use. Removed at exit.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onCleanup } from "@astraeus/process";
import { until } from "./until.ts";

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      s.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 60_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${cmd} ${args.join(" ")}: ${stderr || err.message}`)) : resolve(stdout),
    );
  });
}

/** The newest installed Postgres server's bin folder (Debian layout), or null. */
export function postgresBin(): string | null {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, "bin", "initdb")) && existsSync(join(root, v, "bin", "pg_ctl")))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], "bin") : null;
}

export class PrivatePostgres {
  private constructor(
    readonly bin: string,
    readonly dir: string,
    readonly port: number,
    private readonly asUser: string | null,
  ) {}

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/chaos`;
  }

  /** Postgres refuses to run as root: then the cluster belongs to the `postgres` user and runs as it. */
  private ctl(args: string[]): Promise<string> {
    const cmd = [join(this.bin, "pg_ctl"), ...args];
    return this.asUser
      ? run("runuser", ["-u", this.asUser, "--", ...cmd])
      : run(cmd[0] as string, cmd.slice(1));
  }

  static async start(): Promise<PrivatePostgres> {
    const bin = postgresBin();
    if (!bin) throw new Error("no Postgres server binaries under /usr/lib/postgresql/*/bin");
    const root = process.getuid?.() === 0;
    const dir = mkdtempSync(join(tmpdir(), "astraeus-chaos-pg-"));
    onCleanup(`postgres folder ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
    const asUser = root ? "postgres" : null;
    if (root) {
      const uid = Number(await run("id", ["-u", "postgres"]));
      const gid = Number(await run("id", ["-g", "postgres"]));
      chownSync(dir, uid, gid);
      chmodSync(dir, 0o700);
    }
    const data = join(dir, "data");
    const initdb = [
      join(bin, "initdb"),
      "-D",
      data,
      "-A",
      "trust",
      "-U",
      "postgres",
      "--no-sync",
      "-E",
      "UTF8",
    ];
    await (asUser
      ? run("runuser", ["-u", asUser, "--", ...initdb])
      : run(initdb[0] as string, initdb.slice(1)));
    const pg = new PrivatePostgres(bin, dir, await freePort(), asUser);
    onCleanup("private postgres", () => pg.stop().catch(() => {}));
    await pg.begin();
    const admin = `postgres://postgres@127.0.0.1:${pg.port}/postgres`;
    const { default: postgres } = await import("postgres");
    const sql = postgres(admin, { max: 1, onnotice: () => {} });
    await sql.unsafe("CREATE DATABASE chaos");
    await sql.end();
    return pg;
  }

  /** Starts the server and waits until it accepts connections. */
  async begin(): Promise<void> {
    const opts = [
      `-p ${this.port}`,
      "-c listen_addresses=127.0.0.1",
      `-c unix_socket_directories=${this.dir}`,
      "-c max_connections=200",
      "-c fsync=off",
      "-c synchronous_commit=off",
      "-c full_page_writes=off",
      "-c shared_buffers=128MB",
    ].join(" ");
    await this.ctl([
      "-D",
      join(this.dir, "data"),
      "-l",
      join(this.dir, "log"),
      "-o",
      opts,
      "-w",
      "-t",
      "60",
      "start",
    ]);
  }

  /** Fast shutdown: open sessions are ended, as on a real restart or failover. */
  async stop(): Promise<void> {
    await this.ctl(["-D", join(this.dir, "data"), "-m", "fast", "-w", "-t", "60", "stop"]);
  }
}

export class PrivateRedis {
  private proc: ChildProcess | null = null;
  private constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<PrivateRedis> {
    const dir = mkdtempSync(join(tmpdir(), "astraeus-chaos-redis-"));
    onCleanup(`redis folder ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
    const r = new PrivateRedis(await freePort(), dir);
    onCleanup("private redis", () => r.stop());
    await r.begin();
    return r;
  }

  async begin(): Promise<void> {
    const proc = spawn(
      "redis-server",
      [
        "--port",
        String(this.port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        this.dir,
      ],
      { stdio: "ignore" },
    );
    this.proc = proc;
    const failed = new Promise<never>((_, reject) => proc.on("error", reject));
    failed.catch(() => {});
    const { Redis } = await import("ioredis");
    await Promise.race([
      failed,
      until(
        async () => {
          const c = new Redis(this.url, {
            lazyConnect: true,
            maxRetriesPerRequest: 0,
            retryStrategy: () => null,
          });
          try {
            await c.connect();
            return (await c.ping()) === "PONG";
          } catch {
            return false;
          } finally {
            c.disconnect();
          }
        },
        20_000,
        "private redis to answer",
      ),
    ]);
  }

  /** SIGTERM (Redis exits at once without persistence), then SIGKILL if it lingers. */
  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = null;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => p.once("exit", () => resolve()));
    p.kill("SIGTERM");
    const t = setTimeout(() => p.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(t);
  }
}
