// The only AWS call `sst build` makes is STS GetCallerIdentity; this answers it on loopback so synth
// runs with no network and no account. Usage: node infra/sts-stub.mjs [port]  (prints the port).
import { createServer } from "node:http";

export const ACCOUNT = "123456789012";
const BODY =
  '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>' +
  `<Arn>arn:aws:iam::${ACCOUNT}:user/offline</Arn><UserId>AIDAOFFLINE</UserId><Account>${ACCOUNT}</Account>` +
  "</GetCallerIdentityResult><ResponseMetadata><RequestId>0</RequestId></ResponseMetadata></GetCallerIdentityResponse>";

export function startStsStub(port = 0) {
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "text/xml" });
      res.end(BODY);
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      const address = server.address();
      resolve({
        port: typeof address === "object" && address ? address.port : port,
        close: () => new Promise((done) => server.close(() => done(undefined))),
      });
    });
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const stub = await startStsStub(Number(process.argv[2] ?? 0));
  console.log(stub.port);
  const stop = () => stub.close().then(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
