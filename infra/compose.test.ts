// The local container stack, checked without a Docker engine: docker-compose.yml, .env.example, the two
// Dockerfiles, .dockerignore, the Prometheus config and alert rules and the Grafana dashboard. Names are
// checked against the code that defines them (the env schemas, the metric registries, the runbook).
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { EnvSchema } from "../packages/api/src/config.ts";
import { Metrics } from "../packages/api/src/metrics.ts";
import { parseWorkerEnv, WorkerEnv } from "../packages/worker/src/config.ts";
import { relayMetrics, webhookMetrics, workerMetrics } from "../packages/worker/src/metrics.ts";
import { TARGETS as BUILD_TARGETS } from "../scripts/build.mjs";
import { anchor } from "../stacks/runbook.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const read = (path: string) => readFileSync(`${ROOT}/${path}`, "utf8");

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
function obj(v: unknown, what: string): Obj {
  if (!isObj(v)) throw new Error(`${what} is not a mapping`);
  return v;
}
function list(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v)) throw new Error(`${what} is not a list`);
  return v;
}
const strings = (v: unknown, what: string) => list(v, what).map(String);

const composeText = read("docker-compose.yml");
// Merge keys (`<<: *files-env`) as Compose applies them.
const compose = obj(parseYaml(composeText, { merge: true }), "docker-compose.yml");
const services = obj(compose.services, "services");
const service = (name: string) => obj(services[name], `service ${name}`);
const environment = (name: string) => obj(service(name).environment ?? {}, `${name}.environment`);

/** Seconds of a Compose duration such as "35s", "1m30s" or "500ms". */
function seconds(duration: unknown): number {
  const s = String(duration);
  let total = 0;
  for (const [, n, unit] of s.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)) {
    total += Number(n) * ({ h: 3600, m: 60, s: 1, ms: 0.001 }[unit as "h" | "m" | "s" | "ms"] ?? 0);
  }
  return total;
}

/** The health check command as one string (CMD / CMD-SHELL lists, or a plain string). */
function healthcheck(name: string): { test: string; obj: Obj } {
  const hc = obj(service(name).healthcheck, `${name}.healthcheck`);
  const test = Array.isArray(hc.test) ? hc.test.map(String).join(" ") : String(hc.test);
  return { test, obj: hc };
}

// --- .env.example ------------------------------------------------------------------------------------------

interface EnvLine {
  name: string;
  value: string;
  commented: boolean;
  line: number;
}
const envExample = read(".env.example");
const envLines: EnvLine[] = envExample.split("\n").flatMap((text, i) => {
  const m = /^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$/.exec(text.trim());
  return m
    ? [{ name: m[2] as string, value: m[3] as string, commented: m[1] !== undefined, line: i + 1 }]
    : [];
});
const envListed = new Set(envLines.map((l) => l.name));
const envSet = Object.fromEntries(envLines.filter((l) => !l.commented).map((l) => [l.name, l.value]));

/** Every `${VAR}`, `${VAR:-default}` or `${VAR:?message}` Compose interpolates. */
const interpolated = new Set(
  [...composeText.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1] as string),
);
/** Variables Compose itself reads from .env (not interpolated, not passed to containers by name). */
const COMPOSE_SETTINGS = new Set(["COMPOSE_PROFILES"]);

const apiKeys = new Set(Object.keys(EnvSchema.shape));
const workerKeys = new Set(Object.keys(WorkerEnv.shape));
/** The connection parts the URL builders read (AWS passes parts, not URLs), apart from the URLs themselves. */
const urlParts = new Set(
  ["packages/db/src/url.ts", "packages/dispatch/src/url.ts"]
    .filter((f) => existsSync(`${ROOT}/${f}`))
    .flatMap((f) => [...read(f).matchAll(/env\.([A-Z][A-Z0-9_]*)/g)].map((m) => m[1] as string))
    .filter((name) => !name.endsWith("_URL")),
);

// --- metrics -------------------------------------------------------------------------------------------------

interface MetricJson {
  name: string;
  type: string;
}
/** Series names a registry exports, with the _bucket/_sum/_count series of histograms and summaries. */
function seriesNames(metrics: MetricJson[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of metrics) {
    out.set(m.name, m.name);
    const suffixes =
      m.type === "histogram" ? ["_bucket", "_sum", "_count"] : m.type === "summary" ? ["_sum", "_count"] : [];
    for (const s of suffixes) out.set(`${m.name}${s}`, m.name);
  }
  return out;
}
const apiSeries = seriesNames((await new Metrics().registry.getMetricsAsJSON()) as unknown as MetricJson[]);
const workerSeries = seriesNames(
  (await workerMetrics(1).registry.getMetricsAsJSON()) as unknown as MetricJson[],
);
/**
 * Series a process exports only with a feature wired in (the event relay's and webhook delivery's on the
 * worker, the webhook gauges on the API): alerts may use them; the dashboard need not show them.
 */
const featureSeries = await (async () => {
  const worker = workerMetrics(1);
  relayMetrics(worker.registry);
  webhookMetrics(worker.registry);
  const api = new Metrics({ processMetrics: false });
  api.attachWebhooks(async () => ({ disabledForFailures: 0, pendingDeliveries: 0 }));
  return new Set([
    ...seriesNames((await worker.registry.getMetricsAsJSON()) as unknown as MetricJson[]).keys(),
    ...seriesNames((await api.registry.getMetricsAsJSON()) as unknown as MetricJson[]).keys(),
  ]);
})();
/** Series Prometheus makes itself. */
const PROMETHEUS_SERIES = new Set(["up", "scrape_duration_seconds", "scrape_samples_scraped", "ALERTS"]);
const knownSeries = new Set([
  ...apiSeries.keys(),
  ...workerSeries.keys(),
  ...featureSeries,
  ...PROMETHEUS_SERIES,
]);

const PROMQL_WORDS = new Set([
  "and",
  "or",
  "unless",
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "bool",
  "offset",
  "inf",
  "nan",
]);

/** Metric names a PromQL expression selects (functions, keywords, labels and Grafana variables left out). */
function promqlMetricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
  const names = new Set<string>();
  for (const m of bare.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const start = m.index ?? 0;
    const before = bare[start - 1] ?? " ";
    if (/[0-9.$]/.test(before)) continue; // 1e3, 5m, $variable
    const after = bare.slice(start + m[0].length).trimStart();
    if (after.startsWith("(")) continue; // a function or an aggregation
    if (PROMQL_WORDS.has(m[0].toLowerCase())) continue;
    names.add(m[0]);
  }
  return [...names];
}

// --- dashboard and rules ----------------------------------------------------------------------------------------

interface Target {
  expr?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id?: number;
  type?: string;
  title?: string;
  datasource?: { type?: string; uid?: string };
  gridPos?: { x: number; y: number; w: number; h: number };
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  uid?: string;
  title?: string;
  panels?: Panel[];
  templating?: { list?: { name: string; query?: unknown; datasource?: { uid?: string } }[] };
}
const dashboardPath = "infra/grafana/dashboards/astraeus.json";
const dashboard = JSON.parse(read(dashboardPath)) as Dashboard;
const flatPanels = (panels: Panel[] = []): Panel[] => panels.flatMap((p) => [p, ...flatPanels(p.panels)]);
const panels = flatPanels(dashboard.panels).filter((p) => p.type !== "row");
const dashboardExprs = panels.flatMap((p) =>
  (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr ?? "" })),
);

interface Rule {
  alert?: string;
  record?: string;
  expr?: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const rules = list(
  obj(parseYaml(read("infra/prometheus/alerts.yml")), "alerts.yml").groups,
  "groups",
).flatMap((g) => list(obj(g, "group").rules, "rules") as Rule[]);

const runbookAnchors = new Set(
  read("docs/runbook.md")
    .split("\n")
    .filter((l) => /^#{1,6} /.test(l))
    .map((l) => anchor(l.replace(/^#+ /, ""))),
);

const promtool = spawnSync("promtool", ["--version"], { encoding: "utf8" }).status === 0;

// ------------------------------------------------------------------------------------------------------------------

describe("docker-compose.yml", () => {
  it("defines the data stores, the migration, the API, the worker and the observability pair", () => {
    expect(Object.keys(services).sort()).toEqual(
      [
        "api",
        "grafana",
        "migrate",
        "minio",
        "minio-bucket",
        "postgres",
        "prometheus",
        "redis",
        "worker",
      ].sort(),
    );
    expect(String(service("postgres").image)).toMatch(/^postgres:16(\b|[.-])/);
    expect(String(service("redis").image)).toMatch(/^redis:7(\b|[.-])/);
    expect(String(service("prometheus").image)).toMatch(/^prom\/prometheus:v\d+\.\d+\.\d+$/);
    expect(String(service("grafana").image)).toMatch(/^grafana\/grafana:\d+\.\d+\.\d+$/);
  });

  it("builds the API (and the migration) and the worker from their Dockerfiles with the repo root as context", () => {
    for (const [name, file] of [
      ["api", "packages/api/Dockerfile"],
      ["migrate", "packages/api/Dockerfile"],
      ["worker", "packages/worker/Dockerfile"],
    ] as const) {
      const build = obj(service(name).build, `${name}.build`);
      expect(build.context, name).toBe(".");
      expect(build.dockerfile, name).toBe(file);
      expect(existsSync(`${ROOT}/${file}`), file).toBe(true);
    }
    // One image for both: the migration is the API image running another entrypoint.
    expect(service("migrate").image).toBe(service("api").image);
    expect(service("worker").image).not.toBe(service("api").image);
  });

  it("keeps Postgres and Redis on named volumes with health checks", () => {
    const volumes = obj(compose.volumes, "volumes");
    for (const [name, mount] of [
      ["postgres", "/var/lib/postgresql/data"],
      ["redis", "/data"],
    ] as const) {
      const mounts = strings(service(name).volumes, `${name}.volumes`);
      const named = mounts.find((m) => m.endsWith(`:${mount}`));
      expect(named, `${name} mounts ${mount}`).toBeDefined();
      expect(Object.keys(volumes)).toContain(named?.split(":")[0]);
    }
    expect(healthcheck("postgres").test).toMatch(/pg_isready/);
    expect(healthcheck("redis").test).toMatch(/redis-cli.*ping/);
    // Redis fails writes when full instead of evicting stream entries, as in AWS.
    expect(strings(service("redis").command, "redis.command").join(" ")).toMatch(
      /--maxmemory-policy noeviction/,
    );
  });

  it("runs the migration once, on healthy Postgres, with the API image's bundle of the db package's entrypoint", () => {
    const migrate = service("migrate");
    const command = strings(migrate.command, "migrate.command");
    expect(command).toEqual(["node", "--enable-source-maps", "dist/migrate.js"]);
    // dist/migrate.js is the API bundle's `migrate` entry: packages/db's migrate-main.ts.
    expect(String(service("migrate").image)).toBe(String(service("api").image));
    expect(BUILD_TARGETS.api.entries.migrate?.module).toBe("packages/db/src/migrate-main.ts");
    expect(existsSync(`${ROOT}/${BUILD_TARGETS.api.entries.migrate?.module}`)).toBe(true);
    expect(migrate.restart).toBe("no");
    expect(obj(migrate.depends_on, "migrate.depends_on")).toEqual({
      postgres: { condition: "service_healthy" },
    });
    expect(String(environment("migrate").DATABASE_URL)).toMatch(/^postgres:\/\/.*@postgres:5432\//);
  });

  it("starts the API and the workers only after the migration succeeded and the data stores are healthy", () => {
    for (const name of ["api", "worker"]) {
      expect(obj(service(name).depends_on, `${name}.depends_on`), name).toEqual({
        migrate: { condition: "service_completed_successfully" },
        postgres: { condition: "service_healthy" },
        redis: { condition: "service_healthy" },
        "minio-bucket": { condition: "service_completed_successfully" },
      });
    }
    // And the start order that follows has no cycle: data stores, then migrate, then the processes.
    const order: string[] = [];
    const visit = (name: string, path: string[] = []) => {
      if (path.includes(name)) throw new Error(`dependency cycle: ${[...path, name].join(" -> ")}`);
      if (order.includes(name)) return;
      const deps = service(name).depends_on;
      for (const dep of isObj(deps) ? Object.keys(deps) : strings(deps ?? [], "depends_on")) {
        visit(dep, [...path, name]);
      }
      order.push(name);
    };
    for (const name of Object.keys(services)) visit(name);
    for (const [before, after] of [
      ["postgres", "migrate"],
      ["migrate", "api"],
      ["migrate", "worker"],
      ["redis", "api"],
      ["redis", "worker"],
      ["minio", "minio-bucket"],
      ["minio-bucket", "api"],
      ["minio-bucket", "worker"],
    ]) {
      expect(order.indexOf(before as string), `${before} before ${after}`).toBeLessThan(
        order.indexOf(after as string),
      );
    }
  });

  it("runs MinIO from its official image on a named volume, health-checked, on loopback, and makes the bucket once", () => {
    const minio = service("minio");
    expect(String(minio.image)).toMatch(/^minio\/minio:RELEASE\.\d{4}-\d{2}-\d{2}T/);
    expect(strings(minio.command, "minio.command").slice(0, 2)).toEqual(["server", "/data"]);
    expect(strings(minio.volumes, "minio.volumes")).toEqual(["minio-data:/data"]);
    expect(Object.keys(obj(compose.volumes, "volumes"))).toContain("minio-data");
    expect(healthcheck("minio").test).toMatch(/mc ready local/);
    const ports = strings(minio.ports, "minio.ports");
    expect(ports).toHaveLength(1);
    expect(ports[0]).toMatch(/^127\.0\.0\.1:\$\{MINIO_PORT:-9000\}:9000$/);
    const bucket = service("minio-bucket");
    expect(String(bucket.image)).toMatch(/^minio\/mc:RELEASE\./);
    expect(strings(bucket.command, "minio-bucket.command").join(" ")).toMatch(
      /mc mb --ignore-existing local\/astraeus-files/,
    );
    expect(bucket.restart).toBe("no");
    expect(obj(bucket.depends_on, "minio-bucket.depends_on")).toEqual({
      minio: { condition: "service_healthy" },
    });
    // The same credentials on both sides.
    expect(environment("minio-bucket")).toEqual(environment("minio"));
  });

  it("points the API and the workers at MinIO's bucket, with presigned URLs a client on this machine can reach", () => {
    for (const name of ["api", "worker"]) {
      const env = environment(name);
      expect(env, name).toMatchObject({
        FILES_STORE: "s3",
        FILES_S3_BUCKET: "astraeus-files",
        FILES_S3_ENDPOINT: "http://minio:9000",
        FILES_S3_PRESIGN_ENDPOINT: expect.stringMatching(/^http:\/\/localhost:\$\{MINIO_PORT:-9000\}$/),
        FILES_S3_FORCE_PATH_STYLE: "true",
        FILES_S3_ACCESS_KEY_ID: environment("minio").MINIO_ROOT_USER,
        FILES_S3_SECRET_ACCESS_KEY: environment("minio").MINIO_ROOT_PASSWORD,
      });
    }
    // Both processes accept it as Compose hands it over.
    const api = EnvSchema.parse({ ...envSet, ...resolve(environment("api")) });
    expect(api.FILES_S3_PRESIGN_ENDPOINT).toBe(`http://localhost:${envSet.MINIO_PORT ?? "9000"}`);
    expect(parseWorkerEnv({ ...envSet, ...resolve(environment("worker")) }).FILES_STORE).toBe("s3");
  });

  it("points the API at the compose Postgres and Redis, publishes 8080 on loopback and checks /health", () => {
    const env = environment("api");
    expect(String(env.DATABASE_URL)).toMatch(/^postgres:\/\/.*@postgres:5432\//);
    expect(env.REDIS_URL).toBe("redis://redis:6379");
    expect(env.PORT).toBe("8080");
    expect(env.MIGRATE_ON_START).toBe("false");
    expect(String(env.ASTRAEUS_ADMIN_KEY)).toMatch(/^\$\{ASTRAEUS_ADMIN_KEY:\?/);
    for (const key of Object.keys(env)) expect(apiKeys, `API reads ${key}`).toContain(key);
    const ports = strings(service("api").ports, "api.ports");
    expect(ports).toHaveLength(1);
    expect(ports[0]).toMatch(/^127\.0\.0\.1:\$\{API_PORT:-8080\}:8080$/);
    expect(healthcheck("api").test).toMatch(/fetch\('http:\/\/127\.0\.0\.1:8080\/health'\)/);
    // Longer than the API's own shutdown grace (SHUTDOWN_GRACE_MS).
    expect(seconds(service("api").stop_grace_period) * 1000).toBeGreaterThan(
      EnvSchema.parse({}).SHUTDOWN_GRACE_MS,
    );
  });

  it("makes the worker scalable: no container name, no host port, metrics on 9464 for Prometheus", () => {
    const worker = service("worker");
    expect(worker.container_name).toBeUndefined();
    expect(worker.ports).toBeUndefined();
    expect(strings(worker.expose, "worker.expose")).toEqual(["9464"]);
    const env = environment("worker");
    expect(String(env.DATABASE_URL)).toMatch(/^postgres:\/\/.*@postgres:5432\//);
    expect(env.REDIS_URL).toBe("redis://redis:6379");
    expect(env.WORKER_METRICS_PORT).toBe("9464");
    for (const key of Object.keys(env)) expect(workerKeys, `worker reads ${key}`).toContain(key);
    expect(parseWorkerEnv({ WORKER_METRICS_PORT: "9464" }).WORKER_METRICS_PORT).toBe(9464);
    expect(healthcheck("worker").test).toMatch(/fetch\('http:\/\/127\.0\.0\.1:9464\/health'\)/);
  });

  it("gives a stopping worker longer than its drain grace and at least Fargate's 30 s", () => {
    const grace = seconds(service("worker").stop_grace_period);
    expect(grace).toBeGreaterThanOrEqual(30);
    expect(grace * 1000).toBeGreaterThan(parseWorkerEnv({}).WORKER_DRAIN_GRACE_MS);
    expect(grace * 1000).toBeGreaterThan(Number(envSet.WORKER_DRAIN_GRACE_MS ?? 0));
  });

  it("hands .env to the API and the workers without requiring it, and sets no container names anywhere", () => {
    for (const name of ["api", "worker"]) {
      expect(service(name).env_file, name).toEqual([{ path: ".env", required: false }]);
    }
    for (const name of Object.keys(services)) expect(service(name).container_name, name).toBeUndefined();
  });

  it("puts Prometheus and Grafana, and only them, in the observability profile", () => {
    for (const name of Object.keys(services)) {
      const profiles = service(name).profiles;
      if (name === "prometheus" || name === "grafana") expect(profiles, name).toEqual(["observability"]);
      else expect(profiles, name).toBeUndefined();
    }
    for (const name of ["prometheus", "grafana"]) {
      expect(healthcheck(name).test, name).toMatch(/wget/);
      for (const port of strings(service(name).ports, `${name}.ports`))
        expect(port).toMatch(/^127\.0\.0\.1:/);
    }
  });

  it("mounts files that exist, where the Prometheus and Grafana configs expect them", () => {
    const mounts = (name: string) =>
      strings(service(name).volumes, `${name}.volumes`)
        .filter((m) => m.startsWith("./"))
        .map((m) => {
          const [src, dst] = m.split(":");
          return { src: (src as string).slice(2), dst: dst as string };
        });
    const prom = mounts("prometheus");
    const graf = mounts("grafana");
    for (const { src } of [...prom, ...graf]) expect(existsSync(`${ROOT}/${src}`), src).toBe(true);

    const promConfig = obj(parseYaml(read("infra/prometheus/prometheus.yml")), "prometheus.yml");
    const configFlag = strings(service("prometheus").command, "prometheus.command").find((a) =>
      a.startsWith("--config.file="),
    );
    expect(prom.find((m) => m.src === "infra/prometheus/prometheus.yml")?.dst).toBe(
      configFlag?.split("=")[1],
    );
    const alertsAt = prom.find((m) => m.src === "infra/prometheus/alerts.yml")?.dst;
    expect(strings(promConfig.rule_files, "rule_files")).toEqual([alertsAt]);

    const dashboardsAt = graf.find((m) => m.src === "infra/grafana/dashboards")?.dst;
    expect(graf.find((m) => m.src === "infra/grafana/provisioning")?.dst).toBe("/etc/grafana/provisioning");
    const provider = list(
      obj(parseYaml(read("infra/grafana/provisioning/dashboards/astraeus.yml")), "provider").providers,
      "providers",
    ).map((p) => obj(p, "provider"));
    expect(provider.map((p) => obj(p.options, "options").path)).toEqual([dashboardsAt]);
    expect(String(environment("grafana").GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH)).toBe(
      `${dashboardsAt}/astraeus.json`,
    );
  });
});

describe("Prometheus scrape config", () => {
  const config = obj(parseYaml(read("infra/prometheus/prometheus.yml")), "prometheus.yml");
  const jobs = new Map(
    list(config.scrape_configs, "scrape_configs").map((j) => [String(obj(j, "job").job_name), obj(j, "job")]),
  );

  it("scrapes the API at api:8080/metrics", () => {
    const api = jobs.get("api");
    expect(api?.metrics_path ?? "/metrics").toBe("/metrics");
    const targets = list(api?.static_configs, "static_configs").flatMap((s) =>
      strings(obj(s, "sc").targets, "targets"),
    );
    expect(targets).toEqual(["api:8080"]);
  });

  it("finds every worker replica through the service's DNS name on the metrics port", () => {
    const sd = list(jobs.get("worker")?.dns_sd_configs, "dns_sd_configs").map((s) => obj(s, "dns_sd"));
    expect(sd).toHaveLength(1);
    expect(sd[0]?.names).toEqual(["worker"]);
    expect(sd[0]?.type).toBe("A");
    expect(String(sd[0]?.port)).toBe(environment("worker").WORKER_METRICS_PORT);
    expect(Object.keys(services)).toContain("worker");
  });

  it.skipIf(!promtool)("passes promtool check config", () => {
    const r = spawnSync(
      "promtool",
      ["check", "config", "--syntax-only", `${ROOT}/infra/prometheus/prometheus.yml`],
      {
        encoding: "utf8",
      },
    );
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });
});

describe(".env.example", () => {
  it("lists every variable Compose interpolates", () => {
    for (const name of interpolated) expect(envListed, `${name} in .env.example`).toContain(name);
  });

  it("lists every variable of the API's and the worker's env schemas, and the connection parts", () => {
    expect(urlParts.size).toBeGreaterThan(0);
    for (const name of [...apiKeys, ...workerKeys, ...urlParts]) {
      expect(envListed, `${name} in .env.example`).toContain(name);
    }
  });

  it("lists nothing that no process and no Compose setting reads", () => {
    for (const { name, line } of envLines) {
      const known =
        apiKeys.has(name) ||
        workerKeys.has(name) ||
        urlParts.has(name) ||
        interpolated.has(name) ||
        COMPOSE_SETTINGS.has(name);
      expect(known, `.env.example:${line} ${name} is read by nothing`).toBe(true);
    }
  });

  it("says what each variable is for and never sets one to nothing", () => {
    const lines = envExample.split("\n");
    for (const { name, value, commented, line } of envLines) {
      if (!commented) expect(value.trim(), `.env.example:${line} ${name}= is blank`).not.toBe("");
      // A comment line right above (or a run of variables under one comment).
      let i = line - 2;
      while (i >= 0 && /^(#\s*)?[A-Z][A-Z0-9_]*=/.test((lines[i] ?? "").trim())) i--;
      expect((lines[i] ?? "").trim().startsWith("#"), `.env.example:${line} ${name} has no comment`).toBe(
        true,
      );
    }
    expect(new Set(envLines.map((l) => l.name)).size, "each variable once").toBe(envLines.length);
  });

  it("holds values both processes accept, as Compose hands them over", () => {
    const api = EnvSchema.safeParse({ ...envSet, ...resolve(environment("api")) });
    expect(api.success, JSON.stringify(api.error?.issues)).toBe(true);
    expect(() => parseWorkerEnv({ ...envSet, ...resolve(environment("worker")) })).not.toThrow();
    expect(String(envSet.ASTRAEUS_ADMIN_KEY).length).toBeGreaterThanOrEqual(24);
  });
});

/** Compose's interpolation of `${VAR}`, `${VAR:-default}` and `${VAR:?err}` against .env.example. */
function resolve(env: Obj): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).map(([k, v]) => [
      k,
      String(v).replace(
        /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-?]([^}]*))?\}/g,
        (_, name: string, fallback?: string) => {
          const value = envSet[name];
          return value !== undefined && value !== "" ? value : (fallback ?? "");
        },
      ),
    ]),
  );
}

/** Node flags each image runs with besides --enable-source-maps (see the CMD comments in the Dockerfiles). */
const IMAGE_NODE_FLAGS = { api: [], worker: ["--heap-growing-percent=100"] } as const;

describe("Dockerfiles", () => {
  // hadolint is not in Debian's archive, so the properties that matter are asserted here instead.
  const packageManager = JSON.parse(read("package.json")).packageManager as string;

  for (const [pkg, port, portVar] of [
    ["api", "8080", "PORT"],
    ["worker", "9464", "WORKER_METRICS_PORT"],
  ] as const) {
    describe(`packages/${pkg}/Dockerfile`, () => {
      const text = read(`packages/${pkg}/Dockerfile`);
      const instructions = text
        .replace(/\\\n/g, " ")
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l !== "" && !l.startsWith("#"));
      const all = (keyword: string) => instructions.filter((l) => l.toUpperCase().startsWith(`${keyword} `));
      const runs = all("RUN").join("\n");

      it("builds on Node 24 LTS (bookworm-slim) in more than one stage", () => {
        expect(text).toMatch(/^ARG NODE_IMAGE=node:24-bookworm-slim$/m);
        const froms = all("FROM");
        expect(froms.length).toBeGreaterThanOrEqual(2);
        for (const from of froms) expect(from).toMatch(/^FROM \$\{NODE_IMAGE\} AS \w+$/);
      });

      it("installs pnpm 10 with npm at the packageManager version, never through corepack", () => {
        const version = packageManager.replace(/^pnpm@/, "");
        expect(version).toMatch(/^10\./);
        expect(text).toContain(`ARG PNPM_VERSION=${version}`);
        expect(runs).toMatch(/npm install -g "?pnpm@\$\{PNPM_VERSION\}"?/);
        expect(runs).not.toMatch(/corepack (enable|prepare)/);
      });

      it("installs the package's closure from the frozen lockfile and bundles it with esbuild", () => {
        expect(runs).toMatch(
          new RegExp(`pnpm install --frozen-lockfile .*--filter "@astraeus/${pkg}\\.\\.\\."`),
        );
        // Development dependencies are installed (no --prod): esbuild is one, of the package itself.
        expect(runs).not.toMatch(/pnpm install[^\n]*--prod/);
        const manifest = JSON.parse(read(`packages/${pkg}/package.json`)) as {
          dependencies?: Record<string, string>;
          devDependencies?: Record<string, string>;
        };
        expect(manifest.devDependencies?.esbuild).toMatch(/^\d+\.\d+\.\d+$/);
        expect(runs).toContain(`node scripts/build.mjs ${pkg}`);
        expect(existsSync(`${ROOT}/scripts/build.mjs`)).toBe(true);
        // and refuses to build an image that could not start
        expect(runs).toContain(`test -f packages/${pkg}/dist/main.js`);
        expect(runs).toContain(`test -f packages/${pkg}/dist/node_modules/@electric-sql/pglite/package.json`);
      });

      it("copies the dependency patches the workspace names before pnpm fetch (it refuses to run without them)", () => {
        const patches = [...read("pnpm-workspace.yaml").matchAll(/^\s+\S+: (patches\/\S+)$/gm)].map(
          (m) => m[1],
        );
        expect(patches.length).toBeGreaterThan(0);
        for (const p of patches) expect(existsSync(`${ROOT}/${p}`)).toBe(true);
        const fetchAt = instructions.findIndex((l) => /^RUN .*pnpm fetch/.test(l));
        const patchesAt = instructions.indexOf("COPY patches ./patches");
        expect(fetchAt).toBeGreaterThan(0);
        expect(patchesAt).toBeGreaterThanOrEqual(0);
        expect(patchesAt).toBeLessThan(fetchAt);
      });

      it("ships only the bundle (dist) and no TypeScript runner", () => {
        const copies = all("COPY").filter((c) => c.includes("--from="));
        expect(copies).toEqual([`COPY --from=build /src/packages/${pkg}/dist ./dist`]);
        expect(instructions.join("\n")).not.toMatch(/\btsx\b/);
        const manifest = JSON.parse(read(`packages/${pkg}/package.json`)) as {
          dependencies?: Record<string, string>;
        };
        expect(Object.keys(manifest.dependencies ?? {})).not.toContain("tsx");
        expect(Object.keys(BUILD_TARGETS)).toContain(pkg);
      });

      it("runs `node --enable-source-maps dist/main.js` as a non-root user under tini", () => {
        const users = all("USER");
        expect(users.length).toBeGreaterThan(0);
        expect(users.at(-1)).not.toMatch(/^USER (root|0)(:|$)/);
        expect(runs).toMatch(/apt-get install -y --no-install-recommends tini/);
        expect(all("ENTRYPOINT")).toEqual(['ENTRYPOINT ["/usr/bin/tini", "--"]']);
        const cmds = all("CMD");
        expect(cmds).toHaveLength(1);
        const argv = JSON.parse((cmds[0] as string).replace(/^CMD /, "")) as string[];
        expect(argv).toEqual(["node", "--enable-source-maps", ...IMAGE_NODE_FLAGS[pkg], "dist/main.js"]);
        // Every flag is one this Node accepts on its command line.
        const probe = spawnSync(process.execPath, [...argv.slice(1, -1), "-e", ""], { encoding: "utf8" });
        expect(probe.status, probe.stderr).toBe(0);
      });

      it(`checks /health on ${port} with Node's fetch (slim images have no curl)`, () => {
        const checks = all("HEALTHCHECK");
        expect(checks).toHaveLength(1);
        expect(checks[0]).toContain(`process.env.${portVar}||${port}`);
        expect(checks[0]).toContain("/health");
        expect(checks[0]).toMatch(/CMD \["node", "-e", "fetch\(/);
        expect(instructions.join("\n")).not.toMatch(/\bcurl\b|\bwget\b/);
        expect(all("EXPOSE")).toEqual([`EXPOSE ${port}`]);
      });
    });
  }

  it("leaves dependencies, VCS, local state, secrets and docs out of the build context", () => {
    const ignored = read(".dockerignore")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "" && !l.startsWith("#"));
    for (const entry of [
      "node_modules",
      "**/node_modules",
      ".git",
      ".sst",
      ".astraeus",
      "docs",
      ".env",
      ".env.*",
    ]) {
      expect(ignored, entry).toContain(entry);
    }
    // What the build needs must stay in.
    for (const needed of ["packages", "pnpm-lock.yaml", "pnpm-workspace.yaml", "package.json"]) {
      expect(ignored, needed).not.toContain(needed);
    }
  });
});

describe("Grafana dashboard", () => {
  const datasource = list(
    obj(parseYaml(read("infra/grafana/provisioning/datasources/prometheus.yml")), "datasources").datasources,
    "datasources",
  ).map((d) => obj(d, "datasource"));

  it("uses the provisioned Prometheus, which is the compose service", () => {
    expect(datasource).toHaveLength(1);
    expect(datasource[0]?.type).toBe("prometheus");
    expect(datasource[0]?.url).toBe("http://prometheus:9090");
    const uid = datasource[0]?.uid;
    expect(dashboard.uid).toBe("astraeus");
    for (const p of panels) {
      expect(p.datasource?.uid, p.title).toBe(uid);
      for (const t of p.targets ?? []) expect(t.datasource?.uid ?? uid, p.title).toBe(uid);
    }
    for (const v of dashboard.templating?.list ?? []) expect(v.datasource?.uid, v.name).toBe(uid);
  });

  it("queries only metrics the API, the worker or Prometheus define", () => {
    expect(dashboardExprs.length).toBeGreaterThan(10);
    for (const { panel, expr } of dashboardExprs) {
      const names = promqlMetricNames(expr);
      expect(names.length, `${panel}: ${expr}`).toBeGreaterThan(0);
      for (const name of names) expect(knownSeries, `${panel}: ${name}`).toContain(name);
    }
    for (const v of dashboard.templating?.list ?? []) {
      for (const [, name] of JSON.stringify(v.query).matchAll(/label_values\(([a-z_:][a-z0-9_:]*)/g)) {
        expect(knownSeries, `variable ${v.name}`).toContain(name);
      }
    }
  });

  it("shows every Astraeus metric the API and the worker export", () => {
    const used = new Set(dashboardExprs.flatMap(({ expr }) => promqlMetricNames(expr)));
    const usedBase = new Set([...used].map((n) => apiSeries.get(n) ?? workerSeries.get(n) ?? n));
    const own = [...new Set([...apiSeries.values(), ...workerSeries.values()])].filter(
      (n) => n.startsWith("astraeus_") || n === "http_request_duration_seconds",
    );
    expect(own.length).toBeGreaterThan(10);
    for (const name of own) expect(usedBase, name).toContain(name);
    expect(
      dashboardExprs.some(({ expr }) => /up\{job="worker"\}/.test(expr)),
      "worker count",
    ).toBe(true);
  });

  it("lays panels out without overlaps inside the 24-column grid", () => {
    const all = flatPanels(dashboard.panels);
    const ids = all.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const boxes = all.map((p) => ({ title: p.title, ...(p.gridPos ?? { x: 0, y: 0, w: 0, h: 0 }) }));
    for (const b of boxes) expect(b.x + b.w, b.title).toBeLessThanOrEqual(24);
    for (const [i, a] of boxes.entries()) {
      for (const b of boxes.slice(i + 1)) {
        const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
        expect(overlap, `${a.title} overlaps ${b.title}`).toBe(false);
      }
    }
  });
});

describe("alert rules", () => {
  it("parse, and each alert has an expression, a severity, a summary and a runbook link that resolves", () => {
    expect(rules.length).toBeGreaterThanOrEqual(7);
    for (const r of rules) {
      expect(r.alert, JSON.stringify(r)).toMatch(/^Astraeus[A-Z]\w+$/);
      expect(r.expr?.trim(), r.alert).toBeTruthy();
      expect(["page", "warning"], r.alert).toContain(r.labels?.severity);
      expect(r.annotations?.summary, r.alert).toBeTruthy();
      const url = r.annotations?.runbook_url ?? "";
      expect(url, r.alert).toMatch(/^docs\/runbook\.md#[a-z0-9-]+$/);
      expect(runbookAnchors, `${r.alert}: ${url}`).toContain(url.split("#")[1]);
    }
    expect(new Set(rules.map((r) => r.alert)).size).toBe(rules.length);
  });

  it("mirror the CloudWatch alarms: 5xx rate, p99 latency, target down, depth, oldest age, dead letters, no workers", () => {
    const byName = new Map(rules.map((r) => [r.alert, r]));
    const expect_ = (alert: string, metric: string) => {
      const r = byName.get(alert);
      expect(r, alert).toBeDefined();
      expect(promqlMetricNames(r?.expr ?? ""), alert).toContain(metric);
    };
    expect_("AstraeusApi5xxRate", "http_request_duration_seconds_count");
    expect_("AstraeusApiP99Latency", "http_request_duration_seconds_bucket");
    expect_("AstraeusApiTargetDown", "up");
    expect_("AstraeusQueueDepth", "astraeus_queue_depth");
    expect_("AstraeusOldestJobAge", "astraeus_queue_oldest_ready_age_seconds");
    expect_("AstraeusJobsDeadLettered", "astraeus_jobs_dead_total");
    expect_("AstraeusNoWorkers", "up");
    expect_("AstraeusWebhookEndpointDisabled", "astraeus_webhook_endpoints_disabled_total");
    expect_("AstraeusWebhookEndpointDisabled", "astraeus_webhook_endpoints_disabled");
  });

  it("query only metrics the code defines", () => {
    for (const r of rules) {
      for (const name of promqlMetricNames(r.expr ?? ""))
        expect(knownSeries, `${r.alert}: ${name}`).toContain(name);
    }
  });

  it.skipIf(!promtool)("pass promtool's unit tests (infra/prometheus/alerts.test.yml)", () => {
    const r = spawnSync("promtool", ["test", "rules", `${ROOT}/infra/prometheus/alerts.test.yml`], {
      encoding: "utf8",
    });
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });
});

describe("promqlMetricNames", () => {
  it("keeps metric names and drops functions, keywords, labels, ranges and Grafana variables", () => {
    expect(
      promqlMetricNames(
        'histogram_quantile(0.99, sum by (le, route) (rate(http_request_duration_seconds_bucket{job="api", route!~".*/stream"}[$__rate_interval]))) > 1e3',
      ),
    ).toEqual(["http_request_duration_seconds_bucket"]);
    expect(
      promqlMetricNames(
        'max(a_total{q=~"$queue"}) > 0 unless on() (count(up{job="worker"} == 1) > 0) or vector(0)',
      ),
    ).toEqual(["a_total", "up"]);
  });
});

describe("docs", () => {
  /** Rows of the first table under `## <heading…>`: variable name → cells. */
  function table(markdown: string, heading: string): Map<string, string[]> {
    const start = markdown.indexOf(`\n## ${heading}`);
    expect(start, heading).toBeGreaterThan(-1);
    const rest = markdown.slice(start + 1);
    const section = rest.slice(0, rest.indexOf("\n## ", 1) === -1 ? undefined : rest.indexOf("\n## ", 1));
    const rows = new Map<string, string[]>();
    for (const line of section.split("\n")) {
      const m = /^\| `([A-Z][A-Z0-9_]*)`\s*\|(.*)\|$/.exec(line);
      if (m)
        rows.set(
          m[1] as string,
          (m[2] as string).split("|").map((c) => c.trim()),
        );
    }
    return rows;
  }
  const configuration = read("docs/configuration.md");

  for (const [heading, keys, defaults] of [
    ["API", apiKeys, EnvSchema.parse({}) as Record<string, unknown>],
    ["Worker", workerKeys, WorkerEnv.parse({}) as Record<string, unknown>],
  ] as const) {
    it(`configuration.md documents every ${heading} variable with the schema's default`, () => {
      const rows = table(configuration, heading);
      expect([...rows.keys()].sort()).toEqual([...keys].sort());
      for (const key of keys) {
        const value = defaults[key];
        const cell = rows.get(key)?.[0] ?? "";
        if (value === undefined) expect(cell, key).toMatch(/^(unset|required)/);
        else expect(cell, key).toBe(`\`${Array.isArray(value) ? value.join(",") : String(value)}\``);
      }
    });
  }

  it("configuration.md names exactly the variables each Lambda function reads", () => {
    const start = configuration.indexOf("\n## AWS Lambda functions");
    const section = configuration.slice(start, configuration.indexOf("\n## ", start + 1));
    const documented = new Map<string, Set<string>>();
    for (const line of section.split("\n")) {
      const cells = /^\| (`[^|]+) \| (\w+)\s*\|/.exec(line);
      if (!cells?.[1] || !cells[2]) continue;
      const names = documented.get(cells[2]) ?? new Set<string>();
      for (const m of cells[1].matchAll(/`([A-Z][A-Z0-9_]*)`/g)) names.add(m[1] as string);
      documented.set(cells[2], names);
    }
    // What the code reads: every `env.NAME` in the function's sources (tests aside).
    for (const fn of ["scaler", "migrate"]) {
      const dir = `${ROOT}/packages/functions/src/${fn}`;
      const read = new Set<string>();
      for (const file of readdirSync(dir).filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))) {
        for (const m of readFileSync(`${dir}/${file}`, "utf8").matchAll(/\benv\.([A-Z][A-Z0-9_]*)/g))
          read.add(m[1] as string);
      }
      expect(read.size, fn).toBeGreaterThan(0);
      expect([...(documented.get(fn) ?? [])].sort(), fn).toEqual([...read].sort());
    }
  });

  it("configuration.md documents every connection part the URL builders read", () => {
    const rows = table(configuration, "Connection parts");
    expect([...rows.keys()].sort()).toEqual([...urlParts].sort());
  });

  it("configuration.md documents every variable docker-compose.yml interpolates", () => {
    const rows = table(configuration, "docker compose");
    for (const name of interpolated) expect([...rows.keys()], name).toContain(name);
  });

  /** Test names ("…") cited after a test file (`…test.ts`) in one table row or list item, with that file. */
  function citedTests(markdown: string): { file: string; name: string }[] {
    const out: { file: string; name: string }[] = [];
    const items = markdown.replace(/\n {2,}/g, " ").split(/\n(?=- |\| )/);
    const token = /`((?:packages\/)?[a-z]+\/src\/[^`]+\.(?:test|contract)\.ts)`|`[^`]*`|"([^"]+)"/g;
    for (const item of items) {
      let file: string | null = null;
      for (const m of item.matchAll(token)) {
        if (m[1]) file = m[1].startsWith("packages/") ? m[1] : `packages/${m[1]}`;
        else if (m[2] && file) out.push({ file, name: m[2] });
      }
    }
    return out;
  }

  it("architecture.md cites invariant proofs that exist, at least one per invariant", () => {
    const doc = read("docs/architecture.md");
    const section = doc.slice(doc.indexOf("## Invariants"), doc.indexOf("## Failure behaviour"));
    const invariants = section.split(/\n(?=### )/).filter((part) => part.startsWith("### "));
    expect(invariants.map((part) => part.slice(4, 6))).toEqual([
      "1.",
      "2.",
      "3.",
      "4.",
      "5.",
      "6.",
      "7.",
      "8.",
      "9.",
    ]);
    for (const part of invariants) expect(citedTests(part).length, part.split("\n")[0]).toBeGreaterThan(0);
    for (const { file, name } of citedTests(section)) {
      expect(existsSync(`${ROOT}/${file}`), file).toBe(true);
      expect(read(file), `${file}: "${name}"`).toContain(name);
    }
  });

  it("the ADRs exist for each decision and cite tests that exist", () => {
    const adrs = [
      "0001-postgres-truth-redis-hints.md",
      "0002-fenced-leases.md",
      "0003-group-commit-and-batching.md",
      "0004-embedded-default.md",
      "0005-sst-v2-queue-depth-scaling.md",
      "0006-claim-by-id-from-hints.md",
    ];
    let cited = 0;
    for (const adr of adrs) {
      const text = read(`docs/adr/${adr}`);
      expect(text, adr).toMatch(/^# \d{4}\. /);
      expect(text, adr).toMatch(/^Status: accepted$/m);
      for (const { file, name } of citedTests(text)) {
        expect(existsSync(`${ROOT}/${file}`), `${adr}: ${file}`).toBe(true);
        expect(read(file), `${adr}: ${file}: "${name}"`).toContain(name);
        cited++;
      }
    }
    expect(cited).toBeGreaterThan(15);
  });

  it("links only to docs that exist", () => {
    for (const doc of ["docs/architecture.md", "docs/configuration.md"]) {
      for (const [, target] of read(doc).matchAll(/\]\(([^)#]+)(?:#[^)]*)?\)/g)) {
        expect(existsSync(`${ROOT}/docs/${target}`), `${doc} -> ${target}`).toBe(true);
      }
    }
  });
});
