import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

/** Must match the account in cdk.context.json's availability-zone key. */
export const OFFLINE_ACCOUNT = "123456789012";

const BODY =
  '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>' +
  `<Arn>arn:aws:iam::${OFFLINE_ACCOUNT}:user/offline</Arn><UserId>AIDAOFFLINE</UserId>` +
  `<Account>${OFFLINE_ACCOUNT}</Account></GetCallerIdentityResult>` +
  "<ResponseMetadata><RequestId>0</RequestId></ResponseMetadata></GetCallerIdentityResponse>";

export interface StsStub {
  url: string;
  close(): Promise<void>;
}

/**
 * `sst build` makes exactly one AWS call, STS GetCallerIdentity; answering it on loopback is what lets the
 * stacks synthesise with dummy credentials, no account and no network.
 */
export async function startStsStub(port = 0): Promise<StsStub> {
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "text/xml" });
      res.end(BODY);
    });
  });
  server.listen(port, "127.0.0.1");
  await once(server, "listening");
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
