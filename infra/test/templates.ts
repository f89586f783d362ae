import { existsSync, readFileSync } from "node:fs";
import { Template } from "aws-cdk-lib/assertions";
import { ROOT, SYNTH_DIR } from "../synth.ts";

export const STACKS = [
  "Network",
  "Secrets",
  "Data",
  "Events",
  "Files",
  "Migrate",
  "Api",
  "Worker",
  "Scaler",
  "Alarms",
] as const;
export type StackName = (typeof STACKS)[number];
export type Stage = "dev" | "prod";

/** CloudFormation as parsed JSON: the assertions library covers most checks, raw JSON the rest. */
export interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
  DependsOn?: string | string[];
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
}
export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
  Outputs?: Record<string, { Value: unknown; Export?: unknown }>;
}

const cache = new Map<string, CfnTemplate>();

export function dir(stage: Stage): string {
  return `${ROOT}/${SYNTH_DIR}/${stage}`;
}

export function json(stage: Stage, stack: StackName): CfnTemplate {
  const key = `${stage}/${stack}`;
  let t = cache.get(key);
  if (!t) {
    const file = `${dir(stage)}/${stage}-astraeus-${stack}.template.json`;
    if (!existsSync(file)) throw new Error(`${file} missing: the synth in beforeAll did not run`);
    t = JSON.parse(readFileSync(file, "utf8")) as CfnTemplate;
    cache.set(key, t);
  }
  return t;
}

export function template(stage: Stage, stack: StackName): Template {
  return Template.fromJSON(json(stage, stack));
}

export function resources(stage: Stage, stack: StackName, type: string): [string, CfnResource][] {
  return Object.entries(json(stage, stack).Resources).filter(([, r]) => r.Type === type);
}

/** Every resource of a type across all stacks of a stage. */
export function allResources(stage: Stage, type: string): [string, CfnResource][] {
  return STACKS.flatMap((s) => resources(stage, s, type));
}

export function only<T>(items: T[], what: string): T {
  if (items.length !== 1) throw new Error(`expected exactly one ${what}, found ${items.length}`);
  return items[0] as T;
}

/** A resource's properties, empty when it has none. */
export function props(r: CfnResource): Record<string, unknown> {
  return r.Properties ?? {};
}

/** Flattens intrinsic functions to text so a reference can be matched by the logical id it names. */
export function text(value: unknown): string {
  return JSON.stringify(value);
}

export function clearCache(): void {
  cache.clear();
}

export interface ManifestArtifact {
  type: string;
  dependencies?: string[];
}

export function manifest(stage: Stage): Record<string, ManifestArtifact> {
  const m = JSON.parse(readFileSync(`${dir(stage)}/manifest.json`, "utf8")) as {
    artifacts: Record<string, ManifestArtifact>;
  };
  return m.artifacts;
}
