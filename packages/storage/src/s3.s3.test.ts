import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { contentDisposition } from "./disposition.ts";
import { S3ObjectStore } from "./s3.ts";
import { objectStoreContract } from "./store.contract.ts";
import { startTestS3 } from "./testing.ts";

objectStoreContract("S3 (s3rver)", async () => {
  const s3 = await startTestS3("contract");
  const store = new S3ObjectStore(s3.options);
  return {
    store,
    listAll: async () => {
      const res = await store.client.send(new ListObjectsV2Command({ Bucket: s3.bucket }));
      return (res.Contents ?? []).map((o) => o.Key ?? "");
    },
    close: async () => {
      store.close();
      await s3.close();
    },
  };
});

describe("S3 store", () => {
  it("names downloads safely: ASCII fallback plus the UTF-8 name", () => {
    expect(contentDisposition('rapport "final" été.pdf')).toBe(
      `attachment; filename="rapport _final_ _t_.pdf"; filename*=UTF-8''rapport%20%22final%22%20%C3%A9t%C3%A9.pdf`,
    );
  });
});
