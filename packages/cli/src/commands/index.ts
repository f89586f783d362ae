// Every command group of `astraeus`, in the order `astraeus --help` lists them. A new group (files,
// schedules, webhooks, …) is one module exporting a CommandModule, added to this list; see the README.
import type { CommandModule } from "../command.ts";
import { eventsCommands } from "./events.ts";
import { fileCommands } from "./files.ts";
import { jobCommands } from "./jobs.ts";
import { keyCommands } from "./keys.ts";
import { listCommands } from "./list.ts";
import { queueCommands } from "./queues.ts";
import { scheduleCommands } from "./schedules.ts";
import { webhookCommands } from "./webhooks.ts";
import { whoamiCommands } from "./whoami.ts";
import { workerCommands } from "./workers.ts";

export const COMMAND_MODULES: readonly CommandModule[] = [
  jobCommands,
  listCommands,
  eventsCommands,
  queueCommands,
  workerCommands,
  keyCommands,
  scheduleCommands,
  fileCommands,
  whoamiCommands,
  webhookCommands,
];
