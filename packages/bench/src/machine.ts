import { cpus, release, totalmem, type } from "node:os";
import { serverVersion } from "./pg-admin.ts";
import { MiniRedis } from "./redis-mini.ts";

export interface Machine {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  os: string;
  node: string;
  postgres: string;
  redis: string;
}

export async function describeMachine(adminDatabaseUrl: string, redisUrl: string): Promise<Machine> {
  const redis = await MiniRedis.connect(redisUrl);
  let redisVersion = "unknown";
  try {
    redisVersion = await redis.version();
  } finally {
    await redis.close();
  }
  const cpu = cpus();
  return {
    cores: cpu.length,
    cpuModel: cpu[0]?.model.trim() ?? "unknown",
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: `${type()} ${release()}`,
    node: process.version,
    postgres: await serverVersion(adminDatabaseUrl),
    redis: redisVersion,
  };
}

export function machineLines(m: Machine): string[] {
  return [
    `- CPU: ${m.cores} cores (${m.cpuModel})`,
    `- Memory: ${m.memoryGiB} GiB`,
    `- OS: ${m.os}`,
    `- Node: ${m.node}`,
    `- Postgres: ${m.postgres} (loopback, shared by all Postgres contenders)`,
    `- Redis: ${m.redis} (loopback, shared by all Redis contenders)`,
  ];
}
