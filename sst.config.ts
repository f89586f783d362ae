import type { SSTConfig } from "sst";
import { Alarms } from "./stacks/Alarms.ts";
import { Api } from "./stacks/Api.ts";
import { Data } from "./stacks/Data.ts";
import { Events } from "./stacks/Events.ts";
import { Files } from "./stacks/Files.ts";
import { Migrate } from "./stacks/Migrate.ts";
import { Network } from "./stacks/Network.ts";
import { Scaler } from "./stacks/Scaler.ts";
import { Secrets } from "./stacks/Secrets.ts";
import { stageConfig } from "./stacks/stage.ts";
import { Worker } from "./stacks/Worker.ts";

export default {
  config(input) {
    return {
      name: "astraeus",
      region: process.env.AWS_REGION ?? "us-east-1",
      stage: input.stage,
    };
  },
  stacks(app) {
    const config = stageConfig(app);
    // Lambda's Node 20 matches the containers' runtime (SST's default is 22).
    app.setDefaultFunctionProps({ runtime: "nodejs20.x", architecture: "arm_64" });
    // Dev stages leave nothing behind on `sst remove`; prod sets its data stores' policies explicitly.
    if (!config.retainData) app.setDefaultRemovalPolicy("destroy");
    app
      .stack(Network)
      .stack(Secrets)
      .stack(Data)
      .stack(Events)
      .stack(Files)
      .stack(Migrate)
      .stack(Api)
      .stack(Worker)
      .stack(Scaler)
      .stack(Alarms);
  },
} satisfies SSTConfig;
