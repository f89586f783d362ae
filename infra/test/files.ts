import { describe, expect, it } from "vitest";
import { DEFAULT_RETRY, LIMITS, STAGING_PREFIX } from "../../packages/core/src/index.ts";
import { FILE_SETTINGS_DEFAULTS } from "../../packages/engine/src/file-settings.ts";
import {
  FILE_LIFETIME_LIMITS,
  maxFileLifetimeDays,
  PRESETS,
  stagedUploadLifetimeDays,
} from "../../stacks/config.ts";
import { container, roleStatements } from "./services.ts";
import { only, props, resources, type Stage, template, text } from "./templates.ts";

const actions = (s: { Action: string | string[] }) =>
  (Array.isArray(s.Action) ? s.Action : [s.Action]).sort();

/** The task role's statements that touch S3 or KMS, as [actions, resource] with references flattened. */
function storageGrants(stage: Stage, stack: "Api" | "Worker"): [string[], string][] {
  return roleStatements(stage, stack, `${stack}TaskDefinitionTaskRole`)
    .filter((s) => actions(s).some((a) => a.startsWith("s3:") || a.startsWith("kms:")))
    .map((s) => [actions(s), text(s.Resource)]);
}

function env(stage: Stage, stack: "Api" | "Worker"): Record<string, string> {
  return Object.fromEntries((container(stage, stack).Environment ?? []).map((e) => [e.Name, text(e.Value)]));
}

export function filesSuite(): void {
  it("derives the longest file lifetime from the limits the code enforces", () => {
    const l = FILE_LIFETIME_LIMITS;
    expect(l.scheduleAheadDays * 86_400_000).toBe(LIMITS.maxScheduleAheadMs);
    expect(l.maxAttempts).toBe(LIMITS.maxAttemptsMax);
    expect(l.timeoutHours * 3_600_000).toBe(LIMITS.timeoutMsMax);
    expect(l.backoffMinutes * 60_000).toBe(DEFAULT_RETRY.maxMs);
    expect(l.pendingUploadDays * 86_400_000).toBe(FILE_SETTINGS_DEFAULTS.pendingTtlMs);
    // retention + horizon + 100 attempts of a day and 5 min (101 days) + job retention + a day of margin.
    expect(maxFileLifetimeDays({ ...PRESETS.prod, stage: "prod" })).toBe(7 + 366 + 101 + 7 + 1);
  });

  describe.each<Stage>(["dev", "prod"])("files bucket (%s)", (stage) => {
    const c = { ...PRESETS[stage], stage };
    const prod = stage === "prod";

    it("is encrypted with a customer-managed KMS key that rotates", () => {
      const t = template(stage, "Files");
      const [keyId, key] = only(resources(stage, "Files", "AWS::KMS::Key"), "KMS key");
      expect(key.Properties?.EnableKeyRotation).toBe(true);
      t.hasResourceProperties("AWS::S3::Bucket", {
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [
            {
              BucketKeyEnabled: true,
              ServerSideEncryptionByDefault: {
                SSEAlgorithm: "aws:kms",
                KMSMasterKeyID: { "Fn::GetAtt": [keyId, "Arn"] },
              },
            },
          ],
        },
      });
      expect(key.DeletionPolicy).toBe(prod ? "Retain" : "Delete");
    });

    it("blocks all public access, owns its objects, keeps no versions, and is kept in prod", () => {
      const [, bucket] = only(resources(stage, "Files", "AWS::S3::Bucket"), "bucket");
      expect(bucket.Properties?.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      expect(bucket.Properties?.OwnershipControls).toEqual({
        Rules: [{ ObjectOwnership: "BucketOwnerEnforced" }],
      });
      expect(bucket.Properties?.VersioningConfiguration).toBeUndefined();
      expect(bucket.DeletionPolicy).toBe(prod ? "Retain" : "Delete");
    });

    it("refuses every request without TLS, and TLS below 1.2", () => {
      const [, policy] = only(resources(stage, "Files", "AWS::S3::BucketPolicy"), "bucket policy");
      const statements = (props(policy).PolicyDocument as { Statement: Record<string, unknown>[] }).Statement;
      expect(statements).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            Effect: "Deny",
            Action: "s3:*",
            Principal: { AWS: "*" },
            Condition: { Bool: { "aws:SecureTransport": "false" } },
          }),
          expect.objectContaining({
            Effect: "Deny",
            Action: "s3:*",
            Condition: { NumericLessThan: { "s3:TlsVersion": 1.2 } },
          }),
        ]),
      );
      // Deny statements cover the bucket and every object in it.
      const denies = statements.filter((s) => s.Effect === "Deny");
      for (const s of denies) expect(text(s.Resource)).toMatch(/FilesBucket.*\/\*/);
      // Nothing is granted through the bucket policy, except (dev) SST's emptying of the bucket on removal.
      const allows = statements.filter((s) => s.Effect !== "Deny").map((s) => text(s.Principal));
      expect(allows).toEqual(prod ? [] : [expect.stringMatching(/CustomS3AutoDeleteObjects/)]);
    });

    it("aborts incomplete multipart uploads and expires objects only past the longest file lifetime", () => {
      template(stage, "Files").hasResourceProperties("AWS::S3::Bucket", {
        LifecycleConfiguration: {
          Rules: [
            {
              Id: "AbortIncompleteMultipartUploads",
              Status: "Enabled",
              AbortIncompleteMultipartUpload: { DaysAfterInitiation: c.files.abortIncompleteUploadDays },
            },
            {
              Id: "ExpireBeyondLongestFileLifetime",
              Status: "Enabled",
              Prefix: "files/",
              ExpirationInDays: maxFileLifetimeDays(c),
            },
            {
              Id: "ExpireAbandonedStagedUploads",
              Status: "Enabled",
              Prefix: "files/.uploads/",
              ExpirationInDays: stagedUploadLifetimeDays(),
            },
          ],
        },
      });
      // The staged-upload rule's prefix is where the services stage uploads (core owns that key layout).
      expect(STAGING_PREFIX).toBe("files/.uploads/");
      // The backstops never come before the retention and the pending window the services apply.
      expect(maxFileLifetimeDays(c)).toBeGreaterThan(c.files.retentionDays + 366);
      expect(stagedUploadLifetimeDays() * 86_400_000).toBeGreaterThan(FILE_SETTINGS_DEFAULTS.pendingTtlMs);
    });

    it("gives the API task role only the object actions it uses, on this bucket and key", () => {
      expect(storageGrants(stage, "Api")).toEqual([
        [
          ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
          expect.stringMatching(/FilesBucket.*Arn.*\/files\/\*/),
        ],
        [["s3:ListBucket"], expect.stringMatching(/^\{"Fn::ImportValue":"[^"]*FilesBucket[^"]*Arn[^"]*"\}$/)],
        [["kms:Decrypt", "kms:GenerateDataKey"], expect.stringMatching(/FilesKey.*Arn/)],
      ]);
    });

    it("gives the worker task role the same, plus listing multipart uploads for its sweep", () => {
      expect(storageGrants(stage, "Worker")).toEqual([
        [
          ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
          expect.stringMatching(/FilesBucket.*Arn.*\/files\/\*/),
        ],
        [
          ["s3:ListBucket", "s3:ListBucketMultipartUploads"],
          expect.stringMatching(/^\{"Fn::ImportValue":"[^"]*FilesBucket[^"]*Arn[^"]*"\}$/),
        ],
        [["kms:Decrypt", "kms:GenerateDataKey"], expect.stringMatching(/FilesKey.*Arn/)],
      ]);
      for (const stack of ["Api", "Worker"] as const) {
        const grants = storageGrants(stage, stack).flatMap(([a]) => a);
        expect(
          grants.some((a) => a.endsWith("*")),
          stack,
        ).toBe(false);
        // Execution roles start containers; they never touch files.
        const exec = roleStatements(stage, stack, `${stack}TaskDefinitionExecutionRole`);
        expect(exec.flatMap(actions).filter((a) => a.startsWith("s3:") || a.startsWith("kms:"))).toEqual([]);
      }
    });

    it("points both services at the bucket", () => {
      for (const stack of ["Api", "Worker"] as const) {
        const e = env(stage, stack);
        expect(e.FILES_STORE, stack).toBe('"s3"');
        expect(e.FILES_S3_BUCKET, stack).toMatch(/Fn::ImportValue.*FilesBucket/);
        expect(e.FILES_S3_REGION, stack).toBe('"us-east-1"');
        expect(e.FILES_RETENTION_DAYS, stack).toBe(`"${c.files.retentionDays}"`);
      }
      template(stage, "Files").resourceCountIs("AWS::S3::Bucket", 1);
    });
  });
}
