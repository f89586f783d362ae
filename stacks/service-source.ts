import { existsSync } from "node:fs";
import * as ecs from "aws-cdk-lib/aws-ecs";
import type { App } from "sst/constructs";

export interface ServiceSource {
  path: string;
  file?: string;
  image?: ecs.ContainerImage;
}

/**
 * Where a Service's image comes from. `sst deploy`/`sst build` build `packages/<pkg>/Dockerfile` with the
 * repo root as context (the images need the workspace). `sst dev`, `sst bind` and `sst remove` build no
 * image, but `sst bind` finds a Service by matching its `path` to the working directory, so there the path
 * is the package folder and a registry image stands in to stop SST from running `docker build`.
 */
export function serviceSource(app: App, pkg: "api" | "worker"): ServiceSource {
  if (app.mode !== "deploy") {
    return {
      path: `packages/${pkg}`,
      image: ecs.ContainerImage.fromRegistry("public.ecr.aws/docker/library/node:20-alpine"),
    };
  }
  const file = `packages/${pkg}/Dockerfile`;
  if (existsSync(file)) return { path: ".", file };
  // NODE_ENV=test synth (CI, infra tests) never builds the image, so a missing Dockerfile cannot matter there.
  if (app.isRunningSSTTest()) return { path: "." };
  throw new Error(`${file} is missing: the ${pkg} service cannot be built`);
}
