// A worker side that loads no queue library: its RSS is the floor every worker process starts from
// (Node + the tsx loader + the harness's child entry), reported so library figures can be read net.
import type { WorkerSide } from "../contender.ts";

const side: WorkerSide = {
  async start() {
    return { stop: async () => {} };
  },
};

export default side;
