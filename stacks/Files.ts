import { Duration, RemovalPolicy } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import * as s3 from "aws-cdk-lib/aws-s3";
import type { StackContext } from "sst/constructs";
import { maxFileLifetimeDays, stagedUploadLifetimeDays } from "./config.ts";
import { resourceName, stageConfig } from "./stage.ts";

/** Every object key starts with this (core's objectKey: files/<tenant>/<file id>). */
const PREFIX = "files/";
/** Staged upload bytes (files/.uploads/<tenant>/<id>) until the upload completes. */
const STAGING_PREFIX = `${PREFIX}.uploads/`;

/**
 * Job inputs and outputs: one bucket per stage, encrypted with a key of its own. The file rows in Postgres
 * are the truth and the sweep deletes objects with their rows (docs/adr/0012-files-row-truth-object-follows.md); the lifecycle rules
 * only abort abandoned multipart uploads and, as backstops, expire objects older than any file can live and
 * staged upload bytes older than any upload can stay pending.
 * Versioning stays off: a delete must remove the bytes (retention, privacy), and Postgres, not the bucket,
 * is what a restore starts from.
 */
export function Files({ stack, app }: StackContext) {
  const config = stageConfig(app);
  const removalPolicy = config.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

  const key = new kms.Key(stack, "FilesKey", {
    alias: `alias/${resourceName(app, "files")}`,
    description: `Astraeus ${app.stage}: job input and output files`,
    enableKeyRotation: true,
    removalPolicy,
  });

  const bucket = new s3.Bucket(stack, "FilesBucket", {
    encryption: s3.BucketEncryption.KMS,
    encryptionKey: key,
    // One data key per object batch instead of a KMS call per request: same protection, far fewer calls.
    bucketKeyEnabled: true,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    enforceSSL: true,
    minimumTLSVersion: 1.2,
    versioned: false,
    lifecycleRules: [
      {
        id: "AbortIncompleteMultipartUploads",
        abortIncompleteMultipartUploadAfter: Duration.days(config.files.abortIncompleteUploadDays),
      },
      {
        id: "ExpireBeyondLongestFileLifetime",
        prefix: PREFIX,
        expiration: Duration.days(maxFileLifetimeDays(config)),
      },
      {
        id: "ExpireAbandonedStagedUploads",
        prefix: STAGING_PREFIX,
        expiration: Duration.days(stagedUploadLifetimeDays()),
      },
    ],
    removalPolicy,
  });

  /** What each service does with files: both read, write and delete; only workers sweep leftovers. */
  const access = (service: "api" | "worker"): iam.PolicyStatement[] => [
    new iam.PolicyStatement({
      actions: ["s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
      resources: [bucket.arnForObjects(`${PREFIX}*`)],
    }),
    new iam.PolicyStatement({
      // ListBucket makes a missing object a 404 rather than a 403 (how an incomplete upload is told apart);
      // the workers' sweep lists multipart uploads a crash left behind.
      actions: service === "worker" ? ["s3:ListBucket", "s3:ListBucketMultipartUploads"] : ["s3:ListBucket"],
      resources: [bucket.bucketArn],
    }),
    new iam.PolicyStatement({
      actions: ["kms:Decrypt", "kms:GenerateDataKey"],
      resources: [key.keyArn],
    }),
  ];

  const environment: Record<string, string> = {
    FILES_STORE: "s3",
    FILES_S3_BUCKET: bucket.bucketName,
    FILES_S3_REGION: stack.region,
    FILES_RETENTION_DAYS: String(config.files.retentionDays),
  };

  return { bucket, key, access, environment };
}
