import type { Contender } from "../contender.ts";
import { bullmqContender } from "./bullmq.ts";
import { graphileContender } from "./graphile.ts";
import { pgbossContender } from "./pgboss.ts";

export interface Lineup {
  contenders: Contender[];
  /** Why a contender is missing, for the report. */
  remarks: string[];
}

function message(err: unknown): string {
  return err instanceof Error ? err.message.split("\n")[0]! : String(err);
}

/**
 * Every contender, Astraeus first. Astraeus is imported lazily: while its packages are being written a
 * broken import must cost only its own column, not the comparison of the others.
 */
export async function loadContenders(): Promise<Lineup> {
  const remarks: string[] = [];
  const contenders: Contender[] = [];
  try {
    const { astraeusContender } = await import("./astraeus.ts");
    contenders.push(astraeusContender());
  } catch (err) {
    remarks.push(`Astraeus could not be loaded (${message(err)}); its columns and every ratio read "n/a".`);
  }
  contenders.push(bullmqContender(), graphileContender(), pgbossContender());
  return { contenders, remarks };
}
