import { beforeAll, describe } from "vitest";
import { synth } from "./synth.ts";
import { alarmsSuite } from "./test/alarms.ts";
import { dataSuite } from "./test/data.ts";
import { filesSuite } from "./test/files.ts";
import { functionsSuite } from "./test/functions.ts";
import { networkSuite } from "./test/network.ts";
import { servicesSuite } from "./test/services.ts";
import { stagesSuite } from "./test/stages.ts";
import { clearCache } from "./test/templates.ts";
import { tracingSuite } from "./test/tracing.ts";

// One offline synth per run (dev, then prod with a domain and subscriptions), then every suite reads the
// CloudFormation it produced. The STS stub listens on 127.0.0.1 only and the build is killed if it hangs.
beforeAll(async () => {
  clearCache();
  const results = await synth(["dev", "prod"], 150_000);
  for (const r of results) console.log(`sst build --stage ${r.stage}: ${r.ms} ms`);
}, 320_000);

describe("network", networkSuite);
describe("data, secrets and events", dataSuite);
describe("services", servicesSuite);
describe("files bucket", filesSuite);
describe("scaler and migrations", functionsSuite);
describe("alarms, budget, dashboard, outputs", alarmsSuite);
describe("stage differences and secret hygiene", stagesSuite);
describe("tracing: ADOT collector and X-Ray", tracingSuite);
